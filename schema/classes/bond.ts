import { T, defineClass, field, otherConfigField, p, uuidField } from '../types.js';

export const Bond = defineClass({
  name: 'Bond',
  doc: 'A bond of several PIFs of one host, represented by a bond master PIF.',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('master', T.ref('PIF'), 'The bonded interface', { qual: 'StaticRO', default: 'OpaqueRef:NULL' }),
    field('slaves', T.set(T.ref('PIF')), 'The interfaces which are part of this bond', { qual: 'DynamicRO' }),
    otherConfigField(),
    field('primary_slave', T.ref('PIF'), 'The PIF of which the IP configuration and MAC were copied to the bond, and which will receive all configuration/VLANs/VIFs on the bond if the bond...', { qual: 'DynamicRO', default: 'OpaqueRef:NULL' }),
    field('mode', T.enum('bond_mode'), 'The algorithm used to distribute traffic among the bonded NICs', { qual: 'DynamicRO', default: 'balance-slb' }),
    field('properties', T.smap, 'Additional configuration properties specific to the bond mode', { qual: 'DynamicRO', default: {} }),
    field('links_up', T.int, 'Number of links up in this bond', { qual: 'DynamicRO', default: 0 }),
    field('auto_update_mac', T.bool, 'True if the MAC was taken from the primary slave when the bond was created, and false if the client specified the MAC', { qual: 'DynamicRO', default: true }),
  ],
  messages: [
    { name: 'create', roles: 'pool-operator', params: [p('network', T.ref('network')), p('members', T.set(T.ref('PIF'))), p('MAC', T.string), p('mode', T.enum('bond_mode'), 'balance-slb'), p('properties', T.smap, {})], result: T.ref('Bond'), doc: 'Bond the given PIFs of one host into a new bond PIF on network.', async: true, errors: ['PIF_BOND_NEEDS_MORE_MEMBERS', 'NETWORK_UNMANAGED', 'NETWORK_ALREADY_CONNECTED', 'PIF_UNMANAGED', 'PIF_ALREADY_BONDED', 'PIF_CANNOT_BOND_CROSS_HOST', 'PIF_BOND_MORE_THAN_ONE_IP', 'PIF_VLAN_EXISTS', 'PIF_IS_SRIOV_LOGICAL', 'IS_TUNNEL_ACCESS_PIF', 'INCOMPATIBLE_PIF_PROPERTIES', 'PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE', 'NETWORK_INCOMPATIBLE_WITH_BOND', 'PIF_HAS_FCOE_SR_IN_USE', 'HA_CANNOT_CHANGE_BOND_STATUS_OF_MGMT_IFACE', 'MAC_INVALID', 'INVALID_VALUE', 'PIF_CONFIGURATION_ERROR'] },
    { name: 'destroy', roles: 'pool-operator', params: [p('self', T.ref('Bond'))], result: T.void, doc: 'Dissolve a bond, moving its configuration back to the primary member.', async: true, errors: ['HA_CANNOT_CHANGE_BOND_STATUS_OF_MGMT_IFACE', 'PIF_CONFIGURATION_ERROR'] },
    { name: 'set_mode', roles: 'pool-operator', params: [p('self', T.ref('Bond')), p('value', T.enum('bond_mode'))], result: T.void, doc: 'Change the bonding mode and re-apply the bond.', async: true, errors: ['PIF_CONFIGURATION_ERROR'] },
    { name: 'set_property', roles: 'pool-operator', params: [p('self', T.ref('Bond')), p('name', T.string), p('value', T.string)], result: T.void, doc: 'Set one bond property (valid names depend on the mode) and re-apply the bond.', async: true, errors: ['INVALID_VALUE', 'PIF_CONFIGURATION_ERROR'] },
  ],
});
