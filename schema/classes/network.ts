import { T, f, p, type ClassDef } from '../types.js';

export const network: ClassDef = {
  name: 'network',
  doc: 'A virtual network, realised on each host as a bridge.',
  roles: { messages: 'vm-admin' },
  genConstructor: true,
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('name_label', T.string, 'RW', '', 'A human-readable name', { writer: 'pool-operator' }),
    f('name_description', T.string, 'RW', '', 'A notes field containing human-readable description', { writer: 'pool-operator' }),
    f('allowed_operations', T.set(T.enum('network_operations')), 'DynamicRO', [], 'List of the operations allowed in this state'),
    f('current_operations', T.map(T.string, T.enum('network_operations')), 'DynamicRO', {}, 'Links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task'),
    f('VIFs', T.set(T.ref('VIF')), 'DynamicRO', undefined, 'List of connected vifs'),
    f('PIFs', T.set(T.ref('PIF')), 'DynamicRO', undefined, 'List of connected pifs'),
    f('MTU', T.int, 'RW', 1500, 'MTU in octets'),
    f('other_config', T.smap, 'RW', undefined, 'Additional configuration', { writer: 'pool-operator', keyRoles: [['folder', 'vm-operator'], ['XenCenter.CustomFields.*', 'vm-operator'], ['XenCenterCreateInProgress', 'vm-operator']] }),
    f('bridge', T.string, 'StaticRO', '', 'Name of the bridge corresponding to this network on the local host', { vt: 'bridge' }),
    f('managed', T.bool, 'StaticRO', true, 'True if the bridge is managed by xapi'),
    f('blobs', T.map(T.string, T.ref('blob')), 'DynamicRO', {}, 'Binary blobs associated with this network'),
    f('tags', T.set(T.string), 'RW', [], 'User-specified tags for categorization purposes', { writer: 'vm-operator' }),
    f('default_locking_mode', T.enum('network_default_locking_mode'), 'DynamicRO', 'unlocked', 'The network will use this value to determine the behaviour of all VIFs where locking_mode = default'),
    f('assigned_ips', T.map(T.ref('VIF'), T.string), 'DynamicRO', {}, 'The IP addresses assigned to VIFs on networks that have active xapi-managed DHCP'),
    f('purpose', T.set(T.enum('network_purpose')), 'DynamicRO', [], 'Set of purposes for which the server will use this network'),
  ],
  messages: [
    { name: 'attach', roles: 'pool-operator', params: [p('network', T.ref('network')), p('host', T.ref('host'))], result: T.void, doc: 'Make the network available on the host by bringing up its local PIFs (or an internal bridge).', async: true, hidden: true, errors: ['BRIDGE_NOT_AVAILABLE', 'CANNOT_PLUG_BOND_SLAVE', 'PIF_CONFIGURATION_ERROR'] },
    { name: 'add_purpose', roles: 'pool-admin', params: [p('self', T.ref('network')), p('value', T.enum('network_purpose'))], result: T.void, doc: 'Add a purpose to the network.', async: true, errors: ['NETWORK_INCOMPATIBLE_PURPOSES', 'NETWORK_UNMANAGED'] },
    { name: 'remove_purpose', roles: 'pool-admin', params: [p('self', T.ref('network')), p('value', T.enum('network_purpose'))], result: T.void, doc: 'Remove a purpose from the network, if present.', async: true },
    { name: 'set_default_locking_mode', roles: 'pool-operator', params: [p('network', T.ref('network')), p('value', T.enum('network_default_locking_mode'))], result: T.void, doc: 'Set the locking mode used by VIFs on this network whose own mode is network_default.', async: true, errors: ['VIF_IN_USE'] },
  ],
};
