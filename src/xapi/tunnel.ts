// tunnel: create/destroy as xapi_tunnel.ml. A tunnel is a record plus an access PIF
// `tunnel<N>` on the tunnel's network; the reconciler builds its bridge and tunnel port.
import type { Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type Txn } from '../store/store.js';
import type { EnumValue, Ref } from '../../schema/index.js';
import { assertNetworkManaged, assertNoOtherLocalPifs, plugPif, unplugPif } from './network.js';
import { newPifRow } from './introduce.js';
import { setCulprit } from './pif.js';
import { topology } from './pif_helpers.js';
import { genMac } from './vif.js';

/** tunnel<N>: the smallest N not used by a tunnel access PIF on the host. */
export function chooseTunnelDevice(tx: Txn, host: Ref<'host'>): string {
  const used = new Set(
    tx
      .children('host', host, 'PIFs')
      .filter((ref) => tx.children('PIF', ref, 'tunnel_access_PIF_of').length > 0)
      .map((p) => tx.get('PIF', p).device),
  );
  let n = 0;
  while (used.has(`tunnel${n}`)) n++;
  return `tunnel${n}`;
}

/**
 * xapi_tunnel.create_internal: the access PIF (§1.12: tunnel<N>, random locally-administered
 * unicast MAC, MTU -1, the transport's metrics and address type, not attached) and the
 * tunnel record (status {active: false}). No validation, nothing plugged.
 */
export function tunnelCreateInternal(
  tx: Txn,
  host: Ref<'host'>,
  transportPif: Ref<'PIF'>,
  network: Ref<'network'>,
  protocol: EnumValue<'tunnel_protocol'>,
): { tunnel: string; access: string } {
  const transport = tx.get('PIF', transportPif);
  const device = chooseTunnelDevice(tx, host);
  const access = tx.create(
    'PIF',
    newPifRow({
      device,
      network,
      host,
      MAC: genMac(0, tx.newUuid()),
      MTU: -1,
      VLAN: -1,
      metrics: transport.metrics,
      physical: false,
      primary_address_type: transport.primary_address_type,
    }),
  );
  const tunnel = tx.create('tunnel', {
    access_PIF: access,
    transport_PIF: transportPif,
    status: Object.assign(Object.create(null), { active: 'false' }),
    other_config: Object.create(null),
    protocol,
  });
  return { tunnel, access };
}

/** Deletes a tunnel record and its access PIF (the metrics belong to the transport PIF). */
export function tunnelDestroyInternal(tx: Txn, tunnel: Ref<'tunnel'>): void {
  const access = tx.get('tunnel', tunnel).access_PIF;
  if (tx.find('PIF', access)) tx.destroy('PIF', access);
  tx.destroy('tunnel', tunnel);
}

/** tunnel.create's checks in xapi's order, then the records, then PIF.plug of the access PIF. */
function create(tx: Txn, transportPif: Ref<'PIF'>, network: Ref<'network'>, protocol: EnumValue<'tunnel_protocol'>): string {
  assertNetworkManaged(tx, network);
  const pif = tx.get('PIF', transportPif);
  const host = pif.host;
  assertNoOtherLocalPifs(tx, host, network);
  if (!pif.managed) throw new ApiError('PIF_UNMANAGED', [transportPif]);
  const topo = topology(tx, transportPif);
  // xapi_pif_helpers.tunnel_is_allowed_on_pif (SR-IOV kinds do not exist here).
  if (topo[0] === 'Physical' && pif.bond_slave_of !== NULL_REF) throw new ApiError('CANNOT_ADD_TUNNEL_TO_BOND_SLAVE', [transportPif]);
  if (topo[0] === 'Tunnel_access') throw new ApiError('IS_TUNNEL_ACCESS_PIF', [transportPif]);
  for (const [, h] of tx.rows('host')) {
    if (h.software_version.network_backend !== 'openvswitch') throw new ApiError('OPENVSWITCH_NOT_ACTIVE', []);
  }
  const r = tunnelCreateInternal(tx, host, transportPif, network, protocol);
  setCulprit(tx, r.access);
  plugPif(tx, r.access);
  return r.tunnel;
}

/** Implementations of tunnel.create and tunnel.destroy. */
export const tunnelImpls: Impls = {
  'tunnel.create': (ctx, { transport_PIF: transportPif, network, protocol }) => create(ctx.tx, transportPif, network, protocol),
  'tunnel.destroy': (ctx, { self }) => {
    const access = ctx.tx.get('tunnel', self).access_PIF;
    unplugPif(ctx.tx, access, ctx.tx.get('PIF', access).host);
    tunnelDestroyInternal(ctx.tx, self);
  },
};
