import { T, defineClass, field, otherConfigField, p, uuidField } from '../types.js';

export const VLAN = defineClass({
  name: 'VLAN',
  doc: 'A VLAN: traffic tagged with `tag` on tagged_PIF, delivered untagged on untagged_PIF.',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('tagged_PIF', T.ref('PIF'), 'Interface on which traffic is tagged', { qual: 'StaticRO', default: 'OpaqueRef:NULL' }),
    field('untagged_PIF', T.ref('PIF'), 'Interface on which traffic is untagged', { qual: 'DynamicRO', default: 'OpaqueRef:NULL' }),
    field('tag', T.int, 'VLAN tag in use', { qual: 'StaticRO', default: -1, vt: 'vlan' }),
    otherConfigField(),
  ],
  messages: [
    { name: 'create', roles: 'pool-operator', params: [p('tagged_PIF', T.ref('PIF')), p('tag', T.int), p('network', T.ref('network'))], result: T.ref('VLAN'), doc: 'Create a VLAN with the given tag on tagged_PIF, with a new untagged PIF on network.', async: true, errors: ['NETWORK_UNMANAGED', 'NETWORK_ALREADY_CONNECTED', 'PIF_UNMANAGED', 'CANNOT_ADD_VLAN_TO_BOND_SLAVE', 'PIF_IS_VLAN', 'IS_TUNNEL_ACCESS_PIF', 'NETWORK_INCOMPATIBLE_WITH_VLAN_ON_BRIDGE', 'NETWORK_INCOMPATIBLE_WITH_VLAN_ON_SRIOV', 'NETWORK_HAS_INCOMPATIBLE_VLAN_ON_SRIOV_PIFS', 'VLAN_TAG_INVALID', 'PIF_VLAN_EXISTS', 'VLAN_IN_USE', 'NETWORK_INCOMPATIBLE_WITH_TRUNKS'] },
    { name: 'destroy', roles: 'pool-operator', params: [p('self', T.ref('VLAN'))], result: T.void, doc: 'Unplug and delete a VLAN and its untagged PIF.', async: true, errors: ['PIF_ALREADY_BONDED', 'PIF_IS_MANAGEMENT_INTERFACE', 'HA_IS_ENABLED', 'REDO_LOG_IS_ENABLED', 'PIF_IS_PHYSICAL', 'VIF_IN_USE', 'PIF_DOES_NOT_ALLOW_UNPLUG'] },
  ],
});
