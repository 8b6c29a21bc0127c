import { T, f, type ClassDef } from '../types.js';

export const VM_guest_metrics: ClassDef = {
  name: 'VM_guest_metrics',
  doc: 'Metrics and capabilities reported by the guest agent of a VM.',
  roles: { messages: 'vm-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('os_version', T.smap, 'DynamicRO', {}, 'Version of the OS'),
    f('netbios_name', T.smap, 'DynamicRO', {}, 'The NETBIOS name of the machine'),
    f('PV_drivers_version', T.smap, 'DynamicRO', {}, 'Version of the PV drivers'),
    f('PV_drivers_up_to_date', T.bool, 'DynamicRO', false, 'Logically equivalent to PV_drivers_detected'),
    f('memory', T.smap, 'DynamicRO', {}, 'This field exists but has no data'),
    f('disks', T.smap, 'DynamicRO', {}, 'This field exists but has no data'),
    f('networks', T.smap, 'DynamicRO', {}, 'Network configuration'),
    f('other', T.smap, 'DynamicRO', {}, 'Anything else'),
    f('last_updated', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time at which this information was last updated'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
    f('live', T.bool, 'DynamicRO', false, 'True if the guest is sending heartbeat messages via the guest agent'),
    f('can_use_hotplug_vbd', T.enum('tristate_type'), 'DynamicRO', 'unspecified', 'The guest\'s statement of whether it supports VBD hotplug, i.e'),
    f('can_use_hotplug_vif', T.enum('tristate_type'), 'DynamicRO', 'unspecified', 'The guest\'s statement of whether it supports VIF hotplug, i.e'),
    f('PV_drivers_detected', T.bool, 'DynamicRO', false, 'At least one of the guest\'s devices has successfully connected to the backend'),
    f('services', T.smap, 'DynamicRO', {}, 'The guest\'s services data'),
  ],
  messages: [
  ],
};
