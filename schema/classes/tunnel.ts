import { T, f, p, type ClassDef } from '../types.js';

export const tunnel: ClassDef = {
  name: 'tunnel',
  doc: 'A tunnel (GRE or VxLAN) carried by transport_PIF, reached through access_PIF.',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('access_PIF', T.ref('PIF'), 'StaticRO', 'OpaqueRef:NULL', 'The interface through which the tunnel is accessed'),
    f('transport_PIF', T.ref('PIF'), 'StaticRO', 'OpaqueRef:NULL', 'The interface used by the tunnel'),
    f('status', T.smap, 'RW', {'active': 'false'}, 'Status information about the tunnel'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
    f('protocol', T.enum('tunnel_protocol'), 'RW', 'gre', 'The protocol used for tunneling (either GRE or VxLAN)'),
  ],
  messages: [
    { name: 'create', roles: 'pool-operator', params: [p('transport_PIF', T.ref('PIF')), p('network', T.ref('network')), p('protocol', T.enum('tunnel_protocol'), 'gre')], result: T.ref('tunnel'), doc: 'Create a tunnel over transport_PIF, with a new access PIF on network, and plug it.', async: true, errors: ['OPENVSWITCH_NOT_ACTIVE', 'TRANSPORT_PIF_NOT_CONFIGURED', 'IS_TUNNEL_ACCESS_PIF', 'NETWORK_UNMANAGED', 'NETWORK_ALREADY_CONNECTED', 'PIF_UNMANAGED', 'CANNOT_ADD_TUNNEL_TO_BOND_SLAVE', 'CANNOT_ADD_TUNNEL_TO_SRIOV_LOGICAL', 'CANNOT_ADD_TUNNEL_TO_VLAN_ON_SRIOV_LOGICAL', 'NETWORK_INCOMPATIBLE_WITH_TUNNEL'] },
    { name: 'destroy', roles: 'pool-operator', params: [p('self', T.ref('tunnel'))], result: T.void, doc: 'Unplug and delete a tunnel and its access PIF.', async: true, errors: ['PIF_IS_MANAGEMENT_INTERFACE', 'VIF_IN_USE', 'PIF_DOES_NOT_ALLOW_UNPLUG'] },
  ],
};
