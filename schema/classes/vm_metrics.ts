import { T, defineClass, field, otherConfigField, uuidField } from '../types.js';

export const VM_metrics = defineClass({
  name: 'VM_metrics',
  doc: 'Metrics of a VM reported by the toolstack.',
  roles: { messages: 'vm-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('memory_actual', T.int, "Guest's actual memory (bytes)", { qual: 'DynamicRO', default: 0 }),
    field('VCPUs_number', T.int, 'Current number of VCPUs', { qual: 'DynamicRO', default: 0 }),
    field('VCPUs_utilisation', T.map(T.int, T.float), "Utilisation for all of guest's current VCPUs", { qual: 'DynamicRO', default: {} }),
    field('VCPUs_CPU', T.map(T.int, T.int), 'VCPU to PCPU map', { qual: 'DynamicRO', default: {} }),
    field('VCPUs_params', T.smap, 'The live equivalent to VM.VCPUs_params', { qual: 'DynamicRO', default: {} }),
    field('VCPUs_flags', T.map(T.int, T.set(T.string)), 'CPU flags (blocked,online,running)', { qual: 'DynamicRO', default: {} }),
    field('state', T.set(T.string), 'The state of the guest, eg blocked, dying etc', { qual: 'DynamicRO', default: [] }),
    field('start_time', T.datetime, 'Time at which this VM was last booted', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    field('install_time', T.datetime, 'Time at which the VM was installed', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    field('last_updated', T.datetime, 'Time at which this information was last updated', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    otherConfigField(),
    field('hvm', T.bool, 'Hardware virtual machine', { qual: 'DynamicRO', default: false }),
    field('nested_virt', T.bool, 'VM supports nested virtualisation', { qual: 'DynamicRO', default: false }),
    field('nomigrate', T.bool, "VM is immobile and can't migrate between hosts", { qual: 'DynamicRO', default: false }),
    field('current_domain_type', T.enum('domain_type'), 'The current domain type of the VM (for running,suspended, or paused VMs)', {
      qual: 'DynamicRO',
      default: 'unspecified',
    }),
    field('numa_optimised', T.bool, 'If the VM is optimised for NUMA', { qual: 'StaticRO', default: false }),
    field('numa_nodes', T.int, 'Number of NUMA nodes of the host the VM is using', { qual: 'StaticRO', default: 0 }),
    field('numa_node_memory', T.map(T.int, T.int), 'Mapping a NUMA node (int) to an amount of memory (bytes) in that node', { qual: 'DynamicRO', default: {} }),
  ],
  messages: [],
});
