import { T, f, type ClassDef } from '../types.js';

export const VM_metrics: ClassDef = {
  name: 'VM_metrics',
  doc: 'Metrics of a VM reported by the toolstack.',
  roles: { messages: 'vm-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('memory_actual', T.int, 'DynamicRO', 0, 'Guest\'s actual memory (bytes)'),
    f('VCPUs_number', T.int, 'DynamicRO', 0, 'Current number of VCPUs'),
    f('VCPUs_utilisation', T.map(T.int, T.float), 'DynamicRO', {}, 'Utilisation for all of guest\'s current VCPUs'),
    f('VCPUs_CPU', T.map(T.int, T.int), 'DynamicRO', {}, 'VCPU to PCPU map'),
    f('VCPUs_params', T.smap, 'DynamicRO', {}, 'The live equivalent to VM.VCPUs_params'),
    f('VCPUs_flags', T.map(T.int, T.set(T.string)), 'DynamicRO', {}, 'CPU flags (blocked,online,running)'),
    f('state', T.set(T.string), 'DynamicRO', [], 'The state of the guest, eg blocked, dying etc'),
    f('start_time', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time at which this VM was last booted'),
    f('install_time', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time at which the VM was installed'),
    f('last_updated', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time at which this information was last updated'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
    f('hvm', T.bool, 'DynamicRO', false, 'Hardware virtual machine'),
    f('nested_virt', T.bool, 'DynamicRO', false, 'VM supports nested virtualisation'),
    f('nomigrate', T.bool, 'DynamicRO', false, 'VM is immobile and can\'t migrate between hosts'),
    f('current_domain_type', T.enum('domain_type'), 'DynamicRO', 'unspecified', 'The current domain type of the VM (for running,suspended, or paused VMs)'),
    f('numa_optimised', T.bool, 'StaticRO', false, 'If the VM is optimised for NUMA'),
    f('numa_nodes', T.int, 'StaticRO', 0, 'Number of NUMA nodes of the host the VM is using'),
    f('numa_node_memory', T.map(T.int, T.int), 'DynamicRO', {}, 'Mapping a NUMA node (int) to an amount of memory (bytes) in that node'),
  ],
  messages: [
  ],
};
