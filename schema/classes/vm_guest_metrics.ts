import { T, defineClass, field, otherConfigField, uuidField } from '../types.js';

export const VM_guest_metrics = defineClass({
  name: 'VM_guest_metrics',
  doc: 'Metrics and capabilities reported by the guest agent of a VM.',
  roles: { messages: 'vm-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('os_version', T.smap, 'Version of the OS', { qual: 'DynamicRO', default: {} }),
    field('netbios_name', T.smap, 'The NETBIOS name of the machine', { qual: 'DynamicRO', default: {} }),
    field('PV_drivers_version', T.smap, 'Version of the PV drivers', { qual: 'DynamicRO', default: {} }),
    field('PV_drivers_up_to_date', T.bool, 'Logically equivalent to PV_drivers_detected', { qual: 'DynamicRO', default: false }),
    field('memory', T.smap, 'This field exists but has no data', { qual: 'DynamicRO', default: {} }),
    field('disks', T.smap, 'This field exists but has no data', { qual: 'DynamicRO', default: {} }),
    field('networks', T.smap, 'Network configuration', { qual: 'DynamicRO', default: {} }),
    field('other', T.smap, 'Anything else', { qual: 'DynamicRO', default: {} }),
    field('last_updated', T.datetime, 'Time at which this information was last updated', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    otherConfigField(),
    field('live', T.bool, 'True if the guest is sending heartbeat messages via the guest agent', { qual: 'DynamicRO', default: false }),
    field('can_use_hotplug_vbd', T.enum('tristate_type'), "The guest's statement of whether it supports VBD hotplug, i.e", {
      qual: 'DynamicRO',
      default: 'unspecified',
    }),
    field('can_use_hotplug_vif', T.enum('tristate_type'), "The guest's statement of whether it supports VIF hotplug, i.e", {
      qual: 'DynamicRO',
      default: 'unspecified',
    }),
    field('PV_drivers_detected', T.bool, "At least one of the guest's devices has successfully connected to the backend", {
      qual: 'DynamicRO',
      default: false,
    }),
    field('services', T.smap, "The guest's services data", { qual: 'DynamicRO', default: {} }),
  ],
  messages: [],
});
