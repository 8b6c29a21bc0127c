import { T, defineClass, field, otherConfigField, p, uuidField } from '../types.js';

export const tunnel = defineClass({
  name: 'tunnel',
  doc: 'A tunnel (GRE or VxLAN) carried by transport_PIF, reached through access_PIF.',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('access_PIF', T.ref('PIF'), 'The interface through which the tunnel is accessed', { qual: 'StaticRO', default: 'OpaqueRef:NULL' }),
    field('transport_PIF', T.ref('PIF'), 'The interface used by the tunnel', { qual: 'StaticRO', default: 'OpaqueRef:NULL' }),
    field('status', T.smap, 'Status information about the tunnel', { default: { active: 'false' } }),
    otherConfigField(),
    field('protocol', T.enum('tunnel_protocol'), 'The protocol used for tunneling (either GRE or VxLAN)', { default: 'gre' }),
  ],
  messages: [
    {
      name: 'create',
      roles: 'pool-operator',
      params: [p('transport_PIF', T.ref('PIF')), p('network', T.ref('network')), p('protocol', T.enum('tunnel_protocol'), 'gre')],
      result: T.ref('tunnel'),
      doc: 'Create a tunnel over transport_PIF, with a new access PIF on network, and plug it.',
      async: true,
      errors: [
        'OPENVSWITCH_NOT_ACTIVE',
        'TRANSPORT_PIF_NOT_CONFIGURED',
        'IS_TUNNEL_ACCESS_PIF',
        'NETWORK_UNMANAGED',
        'NETWORK_ALREADY_CONNECTED',
        'PIF_UNMANAGED',
        'CANNOT_ADD_TUNNEL_TO_BOND_SLAVE',
        'CANNOT_ADD_TUNNEL_TO_SRIOV_LOGICAL',
        'CANNOT_ADD_TUNNEL_TO_VLAN_ON_SRIOV_LOGICAL',
        'NETWORK_INCOMPATIBLE_WITH_TUNNEL',
      ],
    },
    {
      name: 'destroy',
      roles: 'pool-operator',
      params: [p('self', T.ref('tunnel'))],
      result: T.void,
      doc: 'Unplug and delete a tunnel and its access PIF.',
      async: true,
      errors: ['PIF_IS_MANAGEMENT_INTERFACE', 'VIF_IN_USE', 'PIF_DOES_NOT_ALLOW_UNPLUG'],
    },
  ],
});
