// host: the management interface calls (xapi_host.ml management_reconfigure, management_disable,
// local_management_reconfigure, get_management_interface) and the management flags
// (xapi_pif.update_management_flags). "Plugging" is setting records; the reconciler does the rest.
//
// Surface:
//   assertNoHa(db)                          — HA_IS_ENABLED [] when pool HA is on
//   assertUsableForManagement(db, pif)      — CANNOT_PLUG_BOND_SLAVE / PIF_HAS_NO_(V6_)NETWORK_CONFIGURATION
//   updateManagementFlags(tx, host, net?)   — the host's PIFs on `net` become management, all others not
//   moveManagement(tx, to)                  — bring `to` up as management and move the flags to its network
//   managementReconfigure(tx, pif, bridges) — host.management_reconfigure after its HA check
//   hostImpls                               — host.* implementations
import type { Ref } from '../../schema/index.js';
import type { CallCtx, Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import { type Txn, type View } from '../store/store.js';
import { isBondSlave } from './pif_helpers.js';
import { bringPifUp, localPifs, refreshHostAddress } from './network.js';
import { setCulprit } from './pif.js';

/** HA_IS_ENABLED [] if the pool has HA enabled (never, in this daemon, but checked where xapi checks). */
export function assertNoHa(db: View): void {
  for (const [, pool] of db.rows('pool')) if (pool.ha_enabled) throw new ApiError('HA_IS_ENABLED', []);
}

/** xapi_pif.assert_usable_for_management: not a bond slave, and configured for its primary address family. */
export function assertUsableForManagement(db: View, pif: Ref<'PIF'>): void {
  const row = db.get('PIF', pif);
  if (isBondSlave(db, pif)) throw new ApiError('CANNOT_PLUG_BOND_SLAVE', [pif]);
  if (row.primary_address_type === 'IPv4' && row.ip_configuration_mode === 'None') throw new ApiError('PIF_HAS_NO_NETWORK_CONFIGURATION', [pif]);
  if (row.primary_address_type === 'IPv6' && row.ipv6_configuration_mode === 'None') throw new ApiError('PIF_HAS_NO_V6_NETWORK_CONFIGURATION', [pif]);
}

/**
 * xapi_pif.update_management_flags: the host's PIFs on `network` get management = true, every
 * other PIF of the host false; no network (management_disable) clears them all.
 */
export function updateManagementFlags(tx: Txn, host: Ref<'host'>, network: string | undefined): void {
  for (const p of tx.children('host', host, 'PIFs')) {
    const want = network !== undefined && tx.get('PIF', p).network === network;
    if (tx.get('PIF', p).management !== want) tx.set('PIF', p, { management: want });
  }
}

/** xapi_bond.move_management: `to` is brought up as the management interface and takes the flag. */
export function moveManagement(tx: Txn, to: string): void {
  const row = tx.get('PIF', to);
  bringPifUp(tx, to);
  updateManagementFlags(tx, row.host, row.network);
  refreshHostAddress(tx, row.host);
}

/**
 * host.management_reconfigure after the HA check (Xapi_host.management_reconfigure): usability (managed
 * PIFs only), nothing if already management, attach the network as management (unmanaged:
 * its bridge must exist, BRIDGE_NOT_AVAILABLE; managed local PIFs: CANNOT_PLUG_BOND_SLAVE or
 * bring-up), then the flags. The old management PIF keeps its attachment.
 */
export function managementReconfigure(tx: Txn, pif: Ref<'PIF'>, bridges: readonly string[]): void {
  const row = tx.get('PIF', pif);
  if (row.managed) assertUsableForManagement(tx, pif);
  if (row.management) return;
  const host = row.host;
  const network = row.network;
  const net = tx.get('network', network);
  setCulprit(tx, pif);
  if (!net.managed) {
    if (!bridges.includes(net.bridge)) throw new ApiError('BRIDGE_NOT_AVAILABLE', [net.bridge]);
  } else {
    for (const p of localPifs(tx, network, host)) {
      if (!tx.get('PIF', p).managed) continue;
      if (isBondSlave(tx, p)) throw new ApiError('CANNOT_PLUG_BOND_SLAVE', [p]);
      bringPifUp(tx, p);
    }
  }
  updateManagementFlags(tx, host, network);
  refreshHostAddress(tx, host);
}

/** The bridges the host has now (for unmanaged networks' BRIDGE_NOT_AVAILABLE). */
export async function actualBridges(ctx: CallCtx): Promise<string[]> {
  return await ctx.facts.bridges();
}

/** Implementations of the host class's management messages. */
export const hostImpls: Impls = {
  'host.management_reconfigure': async (ctx, { pif }) => {
    assertNoHa(ctx.tx);
    managementReconfigure(ctx.tx, pif, await actualBridges(ctx));
  },
  'host.management_disable': (ctx) => {
    const tx = ctx.tx;
    assertNoHa(tx);
    if (tx.get('pool', ctx.d.poolRef).master !== ctx.d.hostRef) throw new ApiError('SLAVE_REQUIRES_MANAGEMENT_INTERFACE', []);
    // No PIF is unplugged and host.address is kept, as xapi; every management flag is cleared.
    updateManagementFlags(tx, ctx.d.hostRef, undefined);
  },
  'host.local_management_reconfigure': () => {
    // Only meaningful in emergency mode, which this daemon never enters.
    throw new ApiError('NOT_IN_EMERGENCY_MODE', []);
  },
  'host.get_management_interface': (ctx, { host }) => {
    ctx.db.get('host', host);
    for (const p of ctx.db.children('host', host, 'PIFs')) if (ctx.db.get('PIF', p).management) return p;
    throw new ApiError('INTERNAL_ERROR', ['Not_found']);
  },
};
