// VLAN: create/destroy (xapi_vlan.ml), pool.create_VLAN(_from_PIF) (xapi_pool.ml) and the
// deprecated PIF.create_VLAN / PIF.destroy. A VLAN is a record plus an untagged PIF on the
// VLAN's network; the reconciler makes the VLAN bridge on the tagged PIF's bridge.
import type { Int, Ref } from '../../schema/index.js';
import type { Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type Txn } from '../store/store.js';
import {
  assertNetworkCompatibleWithTrunksOnVif,
  assertNetworkManaged,
  assertNoOtherLocalPifs,
  assertNoProtectionEnabled,
  plugPif,
  unplugPif,
} from './network.js';
import { newPifRow } from './introduce.js';
import { setCulprit } from './pif.js';
import { topology } from './pif_helpers.js';
import { isVlanTagged } from '../../schema/values.js';

/** The dummy MAC of every VLAN untagged PIF (xapi_vlan.vlan_mac). */
export const VLAN_MAC = 'fe:ff:ff:ff:ff:ff';

/**
 * xapi_vlan.create_internal without its trunk check: the untagged PIF (§1.12: device of the
 * tagged PIF, MAC fe:ff:ff:ff:ff:ff, tagged PIF's MTU, metrics and address type, not attached)
 * and the VLAN record. No validation, nothing plugged.
 */
export function vlanCreateInternal(
  tx: Txn,
  host: Ref<'host'>,
  taggedPif: Ref<'PIF'>,
  tag: Int,
  network: Ref<'network'>,
  device: string,
): { vlan: string; untagged: string } {
  const tagged = tx.get('PIF', taggedPif);
  const vlan = tx.create('VLAN', { tagged_PIF: taggedPif, untagged_PIF: NULL_REF, tag, other_config: Object.create(null) });
  const untagged = tx.create(
    'PIF',
    newPifRow({
      device,
      network,
      host,
      MAC: VLAN_MAC,
      MTU: tagged.MTU,
      VLAN: tag,
      metrics: tagged.metrics,
      physical: false,
      VLAN_master_of: vlan,
      primary_address_type: tagged.primary_address_type,
    }),
  );
  tx.set('VLAN', vlan, { untagged_PIF: untagged });
  return { vlan, untagged };
}

/** Deletes a VLAN record and its untagged PIF (the metrics belong to the tagged PIF and stay). */
export function vlanDestroyInternal(tx: Txn, vlan: Ref<'VLAN'>): void {
  const untagged = tx.get('VLAN', vlan).untagged_PIF;
  tx.destroy('VLAN', vlan);
  if (tx.find('PIF', untagged)) tx.destroy('PIF', untagged);
}

/** VLAN.create's checks in xapi's order; returns the tagged PIF's device. */
function assertCanCreate(tx: Txn, taggedPif: Ref<'PIF'>, tag: Int, network: Ref<'network'>): { host: string; device: string } {
  assertNetworkManaged(tx, network);
  const pif = tx.get('PIF', taggedPif);
  const host = pif.host;
  assertNoOtherLocalPifs(tx, host, network);
  if (!pif.managed) throw new ApiError('PIF_UNMANAGED', [taggedPif]);
  const topo = topology(tx, taggedPif);
  // xapi_pif_helpers.vlan_is_allowed_on_pif
  if (topo[0] === 'Physical' && pif.bond_slave_of !== NULL_REF) throw new ApiError('CANNOT_ADD_VLAN_TO_BOND_SLAVE', [taggedPif]);
  if (topo[0] === 'VLAN_untagged') throw new ApiError('PIF_IS_VLAN', [taggedPif]);
  if (topo[0] === 'Tunnel_access') throw new ApiError('IS_TUNNEL_ACCESS_PIF', [taggedPif]);
  // (SR-IOV network compatibility: no SR-IOV here, every network is a bridge network.)
  if (!isVlanTagged(tag)) throw new ApiError('VLAN_TAG_INVALID', [String(tag)]);
  const device = pif.device;
  // The tagged PIF's VLANs (the relation index), not a scan of every VLAN in the pool (32,000 in a 64-host pool).
  if (tx.children('PIF', taggedPif, 'VLAN_slave_of').some((v) => Number(tx.get('VLAN', v).tag) === tag)) throw new ApiError('PIF_VLAN_EXISTS', [device]);
  // VLAN_IN_USE (the kernel already has <device>.<tag>) cannot happen: the reconciler owns every VLAN device.
  return { host, device };
}

/** VLAN.create: checks, records, then PIF.plug of the untagged PIF. */
export function vlanCreate(tx: Txn, taggedPif: Ref<'PIF'>, tag: Int, network: Ref<'network'>): { vlan: string; untagged: string } {
  const { host, device } = assertCanCreate(tx, taggedPif, tag, network);
  assertNetworkCompatibleWithTrunksOnVif(tx, network);
  const r = vlanCreateInternal(tx, host, taggedPif, tag, network, device);
  setCulprit(tx, r.untagged);
  plugPif(tx, r.untagged);
  return r;
}

/** VLAN.destroy: orphan clean-up, bond/management/protection checks, PIF.unplug, then the records. */
export function vlanDestroy(tx: Txn, vlan: Ref<'VLAN'>): void {
  const untagged = tx.get('VLAN', vlan).untagged_PIF;
  const u = tx.find('PIF', untagged);
  if (!u) {
    tx.destroy('VLAN', vlan);
    return;
  }
  // xapi_pif.assert_not_in_bond
  if (u.bond_slave_of !== NULL_REF || tx.children('PIF', untagged, 'bond_master_of').length) throw new ApiError('PIF_ALREADY_BONDED', [untagged]);
  // (assert_not_slave_management_pif: only on a pool slave; this host is the master.)
  assertNoProtectionEnabled(tx, untagged);
  if (Number(u.VLAN) < 0) throw new ApiError('PIF_IS_PHYSICAL', []);
  unplugPif(tx, untagged, u.host);
  vlanDestroyInternal(tx, vlan);
}

/** PIF.create_VLAN (deprecated): the host's PIF named `device` with VLAN -1 becomes the tagged PIF. */
function pifCreateVlan(tx: Txn, device: string, network: Ref<'network'>, host: Ref<'host'>, tag: Int): string {
  tx.get('host', host);
  const base = tx.children('host', host, 'PIFs').filter((ref) => {
    const p = tx.get('PIF', ref);
    return p.device === device && Number(p.VLAN) === -1;
  });
  if (base.length === 0) throw new ApiError('INVALID_VALUE', ['device', device]);
  return vlanCreate(tx, base[0], tag, network).untagged;
}

/** PIF.destroy (deprecated): only VLAN untagged PIFs, destroyed with their VLAN. */
function pifDestroy(tx: Txn, self: string): void {
  const p = tx.get('PIF', self);
  if (Number(p.VLAN) < 0) throw new ApiError('PIF_IS_PHYSICAL', []);
  vlanDestroy(tx, p.VLAN_master_of);
}

/** The live hosts (host_metrics.live). */
function liveHost(tx: Txn, host: Ref<'host'>): boolean {
  const m = tx.find('host_metrics', tx.get('host', host).metrics);
  return !!m && m.live === true;
}

/** Implementations of VLAN.*, pool.create_VLAN(_from_PIF), PIF.create_VLAN and PIF.destroy. */
export const vlanImpls: Impls = {
  'VLAN.create': (ctx, { tagged_PIF: taggedPif, tag, network }) => vlanCreate(ctx.tx, taggedPif, tag, network).vlan,
  'VLAN.destroy': (ctx, { self }) => {
    vlanDestroy(ctx.tx, self);
  },
  'PIF.create_VLAN': (ctx, { device, network, host, VLAN: tag }) => pifCreateVlan(ctx.tx, device, network, host, tag),
  'PIF.destroy': (ctx, { self }) => {
    pifDestroy(ctx.tx, self);
  },
  // xapi_pool.create_VLAN_from_PIF: VLAN.create on every live host's PIF of the same network; all or nothing.
  'pool.create_VLAN_from_PIF': (ctx, { pif, network, VLAN: tag }) => {
    const tx = ctx.tx;
    const net = tx.get('PIF', pif).network;
    const pifs = tx.children('network', net, 'PIFs').filter((p) => liveHost(tx, tx.get('PIF', p).host));
    return pifs.map((p) => vlanCreate(tx, p, tag, network).untagged);
  },
  // xapi_pool.create_VLAN (deprecated): PIF.create_VLAN on every host; all or nothing.
  'pool.create_VLAN': (ctx, { device, network, VLAN: tag }) => {
    const tx = ctx.tx;
    return tx.refs('host').map((h) => pifCreateVlan(tx, device, network, h, tag));
  },
};
