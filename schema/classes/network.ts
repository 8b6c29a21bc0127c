import { T, defineClass, field, nameFields, operationsFields, otherConfigField, p, tagsField, uuidField } from '../types.js';

export const network = defineClass({
  name: 'network',
  doc: 'A virtual network, realised on each host as a bridge.',
  roles: { messages: 'vm-admin' },
  genConstructor: true,
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    ...nameFields({ writer: 'pool-operator' }),
    ...operationsFields('network_operations'),
    field('VIFs', T.set(T.ref('VIF')), 'List of connected vifs', { qual: 'DynamicRO' }),
    field('PIFs', T.set(T.ref('PIF')), 'List of connected pifs', { qual: 'DynamicRO' }),
    field('MTU', T.int, 'MTU in octets', { default: 1500 }),
    otherConfigField({ required: true, writer: 'pool-operator', keyRoles: [['folder', 'vm-operator'], ['XenCenter.CustomFields.*', 'vm-operator'], ['XenCenterCreateInProgress', 'vm-operator']] }),
    field('bridge', T.string, 'Name of the bridge corresponding to this network on the local host', { qual: 'StaticRO', default: '', vt: 'bridge' }),
    field('managed', T.bool, 'True if the bridge is managed by xapi', { qual: 'StaticRO', default: true }),
    field('blobs', T.map(T.string, T.ref('blob')), 'Binary blobs associated with this network', { qual: 'DynamicRO', default: {} }),
    tagsField,
    field('default_locking_mode', T.enum('network_default_locking_mode'), 'The network will use this value to determine the behaviour of all VIFs where locking_mode = default', { qual: 'DynamicRO', default: 'unlocked' }),
    field('assigned_ips', T.map(T.ref('VIF'), T.string), 'The IP addresses assigned to VIFs on networks that have active xapi-managed DHCP', { qual: 'DynamicRO', default: {} }),
    field('purpose', T.set(T.enum('network_purpose')), 'Set of purposes for which the server will use this network', { qual: 'DynamicRO', default: [] }),
  ],
  messages: [
    { name: 'attach', roles: 'pool-operator', params: [p('network', T.ref('network')), p('host', T.ref('host'))], result: T.void, doc: 'Make the network available on the host by bringing up its local PIFs (or an internal bridge).', async: true, hidden: true, errors: ['BRIDGE_NOT_AVAILABLE', 'CANNOT_PLUG_BOND_SLAVE', 'PIF_CONFIGURATION_ERROR'] },
    { name: 'add_purpose', roles: 'pool-admin', params: [p('self', T.ref('network')), p('value', T.enum('network_purpose'))], result: T.void, doc: 'Add a purpose to the network.', async: true, errors: ['NETWORK_INCOMPATIBLE_PURPOSES', 'NETWORK_UNMANAGED'] },
    { name: 'remove_purpose', roles: 'pool-admin', params: [p('self', T.ref('network')), p('value', T.enum('network_purpose'))], result: T.void, doc: 'Remove a purpose from the network, if present.', async: true },
    { name: 'set_default_locking_mode', roles: 'pool-operator', params: [p('network', T.ref('network')), p('value', T.enum('network_default_locking_mode'))], result: T.void, doc: 'Set the locking mode used by VIFs on this network whose own mode is network_default.', async: true, errors: ['VIF_IN_USE'] },
  ],
});
