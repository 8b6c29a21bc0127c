// Start of day, as xapi does it at every start of a host (master, slave or standalone):
// Sync_networking.fix_bonds, then xapi_pif.start_of_day_best_effort_bring_up over the PIFs
// calculate_pifs_required_at_start_of_day selects. The daemon runs both for its own host before
// its wire opens (master, standalone); the master runs them for a slave inside the slave's
// start-up sync (src/pool/), so the slave's host comes up with the same rule.
import type { Ref } from '../../schema/index.js';
import { NULL_REF, type Store, type Txn, type View } from '../store/store.js';
import { ApiError } from '../errors.js';
import { moveTunnels, moveVlans, vifsToMove } from './bond.js';
import { moveManagement } from './host.js';
import { plugPif, refreshHostAddress } from './network.js';
import { setCulprit } from './pif.js';
import { moveVifInternal } from './vif.js';

type Log = { info(m: string): void; warn(m: string): void };

/** xapi Sync_networking.fix_bonds: stale bond_slave_of cleared; VLANs, tunnels, VIFs-to-move and management move from members up to their bond. */
export function fixBonds(tx: Txn, host: Ref<'host'>): void {
  for (const p of tx.children('host', host, 'PIFs')) {
    const b = tx.get('PIF', p).bond_slave_of;
    if (b !== NULL_REF && !tx.find('Bond', b)) tx.set('PIF', p, { bond_slave_of: NULL_REF });
  }
  const bonds = tx.children('host', host, 'PIFs').flatMap((p) => tx.children('PIF', p, 'bond_master_of'));
  for (const bond of bonds) {
    const master = tx.get('Bond', bond).master;
    const slaves = tx.children('Bond', bond, 'slaves');
    const vlans = slaves.flatMap((s) => tx.children('PIF', s, 'VLAN_slave_of'));
    if (vlans.length) moveVlans(tx, host, master, vlans);
    const tunnels = slaves.flatMap((s) => tx.children('PIF', s, 'tunnel_transport_PIF_of'));
    if (tunnels.length) moveTunnels(tx, host, master, tunnels);
    const net = tx.get('PIF', master).network;
    for (const v of vifsToMove(
      tx,
      host,
      slaves.map((s) => tx.get('PIF', s).network),
    ))
      moveVifInternal(tx, v, net);
    const mgmt = slaves.find((s) => tx.get('PIF', s).management);
    if (mgmt) {
      setCulprit(tx, master);
      moveManagement(tx, master);
      tx.set('Bond', bond, { primary_slave: mgmt });
    } else if (tx.get('Bond', bond).primary_slave === NULL_REF && slaves.length) {
      tx.set('Bond', bond, { primary_slave: slaves[0] });
    }
  }
}

/**
 * xapi_pif.calculate_pifs_required_at_start_of_day: this host's managed PIFs that are not bond
 * slaves and are physical, a bond master, or configured with an IP address (so VLAN and tunnel
 * PIFs without an address are left as they are).
 */
export function pifsRequiredAtStartOfDay(db: View, host: Ref<'host'>): string[] {
  return db.children('host', host, 'PIFs').filter((p) => {
    const r = db.get('PIF', p);
    if (r.managed !== true || r.bond_slave_of !== NULL_REF) return false;
    return r.physical === true || db.children('PIF', p, 'bond_master_of').length > 0 || r.ip_configuration_mode !== 'None';
  });
}

/**
 * xapi_pif.start_of_day_best_effort_bring_up: each required PIF is plugged in turn (PIF.plug's
 * rules: a tunnel access PIF brings its transport up); one that cannot be plugged is logged and
 * left as it was, the others go on. Returns the PIFs it plugged. host.address is refreshed once at
 * the end, not per PIF (each refresh looks through all of the host's PIFs: 150 of a slave's sync).
 */
export function bringUpAtStartOfDay(tx: Txn, host: Ref<'host'>, log: Log, absent: ReadonlySet<string> = new Set()): string[] {
  const plugged: string[] = [];
  let anyUp = false;
  for (const p of pifsRequiredAtStartOfDay(tx, host)) {
    if (!tx.find('PIF', p)) continue;
    // A NIC the host no longer has stays down (its PIF is kept only because something uses it).
    if (tx.get('PIF', p).physical === true && absent.has(tx.get('PIF', p).device)) continue;
    const was = tx.get('PIF', p).currently_attached;
    const restore = tx.savepoint();
    try {
      setCulprit(tx, p);
      plugPif(tx, p, false);
      anyUp = true;
      if (!was) plugged.push(p);
    } catch (e) {
      restore();
      log.warn(
        `start of day: could not bring up PIF ${p} (${tx.get('PIF', p).device}): ${e instanceof ApiError ? `${e.code} ${e.params.join(' ')}` : String(e)}`,
      );
    }
  }
  if (anyUp) refreshHostAddress(tx, host);
  return plugged;
}

/**
 * Start of day for this daemon's own host (master or standalone): fix_bonds, then the bring-up,
 * in one transaction (one plan for the host). If that plan fails, each PIF is tried in a
 * transaction of its own, so one that cannot come up does not keep the others down.
 */
export async function startOfDayLocal(store: Store, host: string, log: Log): Promise<number> {
  await store.write((tx) => fixBonds(tx, host));
  try {
    const up = await store.write((tx) => bringUpAtStartOfDay(tx, host, log));
    if (up.length) log.info(`start of day: brought up ${up.length} PIFs: ${up.map((p) => store.get('PIF', p).device).join(', ')}`);
    return up.length;
  } catch (e) {
    log.warn(
      `start of day: bringing the PIFs up together failed (${e instanceof ApiError ? `${e.code} ${e.params.join(' ')}` : String(e)}); trying one by one`,
    );
  }
  let n = 0;
  for (const p of pifsRequiredAtStartOfDay(store, host)) {
    if (store.get('PIF', p).currently_attached) continue;
    try {
      await store.write((tx) => {
        setCulprit(tx, p);
        plugPif(tx, p);
      });
      n++;
    } catch (e) {
      log.warn(
        `start of day: could not bring up PIF ${p} (${store.find('PIF', p)?.device}): ${e instanceof ApiError ? `${e.code} ${e.params.join(' ')}` : String(e)}`,
      );
    }
  }
  return n;
}
