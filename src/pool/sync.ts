// The master's half of a slave's start-up (seed 002 "Actions on Start-up", xapi's
// sync_networking.ml and xapi_host.sync_vlans/sync_tunnels), run in ONE transaction of the
// master's database for the slave's host; the forwarder then sends the host's new desired
// state to the slave, so the slave's backend and the master's database change together.
//
// Surface:
//   registerHost(tx, uuid, report, master)      — host, metrics, PIFs per NIC (xenbr<N> networks shared by bridge), dom0
//   reportNics(tx, host, nics, log)             — step 1: introduce new NICs, refresh known ones; returns the absent devices
//   forgetAbsent(tx, host, absent, log)         — step 1 (and again at the end): forget PIFs of gone NICs unless used
//   fixBonds (src/xapi/start_of_day.ts)         — step 2: xapi fix_bonds / fix_bond
//   syncBonds(ctx, host, absent, log)           — step 3: copy the master's bonds (devices; partial; conflicting bonds destroyed first)
//   syncVlans(tx, host, log) / syncTunnels(tx, host, log) — step 3: host.sync_vlans / host.sync_tunnels
//   savepoint(tx)                               — undo one failed sub-step without failing the whole start-up
import os from 'node:os';
import type { CallCtx } from '../api/context.js';
import { now } from '../api/context.js';
import type { Nic } from '../backends/backend.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type Savepoint, type Txn } from '../store/store.js';
import type { EnumValue, Ref } from '../../schema/index.js';
import { bondCreate, bondDestroy } from '../xapi/bond.js';
import { bridgeForDevice, destroyPif, introduceInternal, networksByBridge } from '../xapi/introduce.js';
import { bringPifUp, plugPif, refreshHostAddress } from '../xapi/network.js';
import { setCulprit } from '../xapi/pif.js';
import { pifsOn } from '../xapi/pif_helpers.js';
import { tunnelCreateInternal } from '../xapi/tunnel.js';
import { vlanCreateInternal } from '../xapi/vlan.js';

type Log = { info(m: string): void; warn(m: string): void };

/** What a slave daemon reports when it starts (JSON in host.pool_slave_startup). */
export interface SlaveReport {
  hostname: string;
  nics: Nic[];
  /** The management NIC and its IPv4 configuration, used when the master creates the host. */
  management?: { device: string; mode: EnumValue<'ip_configuration_mode'>; IP: string; netmask: string; gateway: string; DNS: string };
  /** What the master presents on its calls to this slave (host.apply_network_state). */
  token: string;
  software_version?: Record<string, string>;
  /** The slave's clock (ms since the epoch) when it reported: the master estimates the offset of its deadlines from it. */
  clock?: number;
  /** True on the first sync since the slave daemon started: the master runs start of day (the bring-up) for it; false on a resync. */
  boot?: boolean;
  /**
   * False: the reply need not carry the state (the forwarder's host.apply_network_state, which the
   * master waits for before it commits and answers, has brought it to the slave). A slave that does
   * not say so (an older one) gets the state in the reply.
   */
  stateInReply?: boolean;
  /**
   * True: the slave takes a forwarded change as the bridges that differ from the last state it
   * applied for the master (a StateDelta naming that state's ticket seq as its base) and refuses
   * one whose base is not its last state. A slave that does not say so gets whole states.
   */
  deltas?: boolean;
}

/** A snapshot of the transaction: the returned function puts it back, its release() drops it (Txn.savepoint). */
export function savepoint(tx: Txn): Savepoint {
  return tx.savepoint();
}

const isPhysical = (p: Record<string, unknown>) => p.physical === true && Number(p.VLAN) === -1;

/** Creates the records of a host joining the pool: host + metrics, a PIF per NIC, management configured, dom0. */
export function registerHost(tx: Txn, uuid: string, r: SlaveReport, master: string): string {
  const m = tx.get('host', master);
  const metrics = tx.create('host_metrics', { live: true, last_updated: now(), memory_total: os.totalmem(), memory_free: os.freemem() });
  const mg = r.management;
  const host = tx.create('host', {
    uuid,
    name_label: r.hostname,
    name_description: 'Default install',
    hostname: r.hostname,
    address: mg?.IP ?? '',
    API_version_major: m.API_version_major,
    API_version_minor: m.API_version_minor,
    API_version_vendor: m.API_version_vendor,
    enabled: true,
    software_version: Object.assign(Object.create(null), r.software_version ?? m.software_version),
    metrics,
  });
  const mgmtBridge = mg ? bridgeForDevice(mg.device) : undefined;
  // 100 NICs against ~600 networks: the networks are looked through once, not per NIC.
  const networks = networksByBridge(tx);
  for (const nic of r.nics) {
    const pif = introduceInternal(tx, host, nic, { managementBridge: mgmtBridge, networks });
    if (mg && nic.device === mg.device) {
      tx.set('PIF', pif, { ip_configuration_mode: mg.mode, IP: mg.IP, netmask: mg.netmask, gateway: mg.gateway, DNS: mg.DNS });
    }
  }
  const vmMetrics = tx.create('VM_metrics', {});
  const dom0 = tx.create('VM', {
    name_label: `Control domain on host: ${r.hostname}`,
    name_description: 'The domain which manages physical devices and manages other domains',
    power_state: 'Running',
    is_control_domain: true,
    resident_on: host,
    affinity: host,
    domid: 0,
    metrics: vmMetrics,
    guest_metrics: NULL_REF,
  });
  tx.set('host', host, { control_domain: dom0 });
  return host;
}

/** Step 1: PIFs for NICs the master does not know (introduce_internal), MAC/carrier refreshed; returns the devices gone. */
export function reportNics(tx: Txn, host: Ref<'host'>, nics: Nic[], log: Log): Set<string> {
  const byDevice = new Map<string, string>();
  for (const p of tx.children('host', host, 'PIFs')) {
    const row = tx.get('PIF', p);
    if (isPhysical(row)) byDevice.set(row.device, p);
  }
  for (const nic of nics) {
    const p = byDevice.get(nic.device);
    if (!p) {
      introduceInternal(tx, host, nic);
      log.info(`pool: host ${host}: introduced PIF for new NIC ${nic.device} (${nic.MAC})`);
      continue;
    }
    const row = tx.get('PIF', p);
    if (row.MAC !== nic.MAC.toLowerCase()) tx.set('PIF', p, { MAC: nic.MAC.toLowerCase() });
    const m = tx.find('PIF_metrics', row.metrics);
    if (m && m.carrier !== nic.carrier) tx.set('PIF_metrics', row.metrics, { carrier: nic.carrier });
  }
  const present = new Set(nics.map((n) => n.device));
  return new Set([...byDevice.keys()].filter((d) => !present.has(d)));
}

/** Why a PIF cannot be forgotten, or undefined. */
function usedBy(tx: Txn, pif: Ref<'PIF'>): string | undefined {
  const row = tx.get('PIF', pif);
  const bond = row.bond_slave_of;
  if (bond !== NULL_REF && tx.find('Bond', bond)) return `it is a slave of bond ${bond}`;
  if (tx.children('PIF', pif, 'VLAN_slave_of').length) return 'VLANs are on it';
  if (tx.children('PIF', pif, 'tunnel_transport_PIF_of').length) return 'tunnels use it as transport';
  if (row.management) return 'it is the management interface';
  return undefined;
}

/** Forgets the PIFs of NICs that are gone unless something uses them (those stay, unplugged, and the log says why). */
export function forgetAbsent(tx: Txn, host: Ref<'host'>, absent: Set<string>, log: Log, quiet = false): void {
  if (!absent.size) return;
  for (const p of tx.children('host', host, 'PIFs')) {
    const row = tx.find('PIF', p);
    if (!row || !isPhysical(row) || !absent.has(row.device)) continue;
    const why = usedBy(tx, p);
    if (why) {
      if (row.currently_attached) tx.set('PIF', p, { currently_attached: false });
      if (!quiet) log.warn(`pool: host ${host}: NIC ${row.device} is gone; keeping its PIF ${p}, unplugged, because ${why}`);
      continue;
    }
    destroyPif(tx, p);
    log.info(`pool: host ${host}: NIC ${row.device} is gone; forgot its PIF ${p}`);
  }
}

/** The pool master's host. */
export function poolMaster(tx: Txn): string {
  return String(tx.get('pool', tx.refs('pool')[0]).master);
}

/**
 * Step 3, bonds (xapi copy_bonds_from_master, members matched by device): for each bond of the
 * master host, this host's physical PIFs with the same devices (present NICs only, the primary
 * first) become a bond on the same network with the same mode and properties. A bond already
 * on that network with the same members is kept; with other members it is destroyed and
 * re-created (partial when NICs are missing); a bond over any of the members on another network
 * is destroyed first (the seed's rule; xapi only logs PIF_ALREADY_BONDED: docs/compat.md). Each
 * bond is its own step: a failure is logged and leaves the others.
 */
export function syncBonds(ctx: CallCtx, host: Ref<'host'>, absent: Set<string>, log: Log): void {
  const tx = ctx.tx;
  const master = poolMaster(tx);
  if (master === host) return;
  const bctx: CallCtx = { d: ctx.d, session: ctx.session, db: tx, tx, method: ctx.method, facts: ctx.facts };
  const mine = tx
    .children('host', host, 'PIFs')
    .map((p) => [p, tx.get('PIF', p)] as const)
    .filter(([, r]) => isPhysical(r));
  const masterBonds = tx.children('host', master, 'PIFs').flatMap((p) => tx.children('PIF', p, 'bond_master_of'));
  // One log line for the copies (one per bond was 50 writes a sync on the master), host.address refreshed once.
  const copied: string[] = [];
  let pluggedAny = false;
  for (const b of masterBonds) {
    const B = tx.get('Bond', b);
    const M = tx.get('PIF', B.master);
    const network = M.network;
    const mslaves = tx.children('Bond', b, 'slaves').map((s) => tx.get('PIF', s));
    const devices = mslaves.map((s) => s.device);
    const primaries = mslaves.filter((s) => s.MAC === M.MAC);
    const primaryDev = primaries.length === 1 ? primaries[0].device : undefined;
    let cands = mine.filter(([, r]) => devices.includes(r.device) && !absent.has(r.device)).map(([p]) => p);
    const pi = cands.findIndex((p) => tx.get('PIF', p).device === primaryDev);
    if (pi > 0) cands = [cands[pi], ...cands.filter((_, i) => i !== pi)];
    const L = pifsOn(tx, host, network).filter((p) => tx.children('PIF', p, 'bond_master_of').length);
    if (L.length === 0 && cands.length === 0) {
      log.warn(`pool: host ${host}: none of ${devices.join(',')} for bond ${b}; not copied`);
      continue;
    }
    if (L.length > 1) {
      log.warn(`pool: host ${host}: several bonds on network ${network}; bond ${b} not copied`);
      continue;
    }
    const restore = savepoint(tx);
    try {
      if (L.length === 1) {
        const have = tx.children('PIF', L[0], 'bond_master_of')[0];
        const slaves = tx.children('Bond', have, 'slaves');
        if (slaves.length === cands.length && slaves.every((s) => cands.includes(s))) continue;
        log.info(`pool: host ${host}: bond ${have} on network ${network} has other members; destroying it first`);
        bondDestroy(bctx, have);
      }
      for (const c of cands) {
        const other = tx.get('PIF', c).bond_slave_of;
        if (other !== NULL_REF && tx.find('Bond', other)) {
          log.info(`pool: host ${host}: ${tx.get('PIF', c).device} is in bond ${other}; destroying that bond first`);
          bondDestroy(bctx, other);
        }
      }
      const created = bondCreate(bctx, network, cands, '', B.mode, { ...B.properties });
      // The copy is plugged when the master's bond is.
      const copy = tx.get('Bond', created).master;
      if (M.currently_attached && !tx.get('PIF', copy).currently_attached) {
        setCulprit(tx, copy);
        plugPif(tx, copy, false);
        pluggedAny = true;
      }
      const partial = cands.length < devices.length ? ` (partial: ${cands.length} of ${devices.length} members)` : '';
      copied.push(`${b} as ${created} over ${cands.map((c) => tx.get('PIF', c).device).join(',')}${partial}`);
    } catch (e) {
      restore();
      log.warn(`pool: host ${host}: copying bond ${b} failed: ${e instanceof ApiError ? `${e.code} ${e.params.join(' ')}` : String(e)}`);
    } finally {
      restore.release();
    }
  }
  if (pluggedAny) refreshHostAddress(tx, host);
  if (copied.length) log.info(`pool: host ${host}: copied ${copied.length} bond${copied.length > 1 ? 's' : ''} from the master: ${copied.join('; ')}`);
}

/**
 * host.sync_vlans (xapi_host.sync_vlans): for each VLAN of the master host, identified by
 * (its network, its tag, the network of its tagged PIF), a missing one is created on this
 * host's single PIF on that tagged network (records; plugged when the master's is: docs/compat.md).
 * `host.other_config:sync_vlans = nosync` turns it off for the start-up copy only (`atStartup`;
 * xapi reads the flag in the slave's start-up, not in host.sync_vlans itself).
 */
export function syncVlans(tx: Txn, host: Ref<'host'>, log: Log, atStartup = false): number {
  const master = poolMaster(tx);
  if (master === host) return 0;
  if (atStartup && (tx.get('host', host).other_config as Record<string, string>)?.sync_vlans === 'nosync') return 0;
  const key = (net: string, tag: number, under: string) => `${net}|${tag}|${under}`;
  const have = new Set<string>();
  const mineByNet = new Map<string, string[]>();
  for (const p of tx.children('host', host, 'PIFs')) {
    const r = tx.get('PIF', p);
    const n = r.network;
    mineByNet.set(n, [...(mineByNet.get(n) ?? []), p]);
    const v = r.VLAN_master_of;
    if (v !== NULL_REF && tx.find('VLAN', v)) {
      const t = tx.find('PIF', tx.get('VLAN', v).tagged_PIF);
      if (t) have.add(key(n, Number(r.VLAN), t.network));
    }
  }
  let made = 0;
  let broughtUp = false;
  for (const mp of tx.children('host', master, 'PIFs')) {
    const M = tx.get('PIF', mp);
    const v = M.VLAN_master_of;
    if (v === NULL_REF || !tx.find('VLAN', v)) continue;
    const tagged = tx.find('PIF', tx.get('VLAN', v).tagged_PIF);
    if (!tagged) continue;
    const U = tagged.network;
    const k = key(M.network, Number(M.VLAN), U);
    if (have.has(k)) continue;
    const on = mineByNet.get(U) ?? [];
    if (on.length !== 1) continue;
    const base = on[0];
    const { untagged } = vlanCreateInternal(tx, host, base, Number(M.VLAN), M.network, tx.get('PIF', base).device);
    have.add(k);
    made++;
    if (M.currently_attached) {
      setCulprit(tx, untagged);
      // host.address once below, not per VLAN (each refresh looks through all of the host's PIFs).
      bringPifUp(tx, untagged, false);
      broughtUp = true;
    }
  }
  if (broughtUp) refreshHostAddress(tx, host);
  if (made) log.info(`pool: host ${host}: copied ${made} VLANs from the master`);
  return made;
}

/** host.sync_tunnels (Xapi_host.sync_tunnels): a tunnel per master tunnel network this host lacks, on its single PIF on the transport network. */
export function syncTunnels(tx: Txn, host: Ref<'host'>, log: Log): number {
  const master = poolMaster(tx);
  if (master === host) return 0;
  let made = 0;
  for (const mp of tx.children('host', master, 'PIFs')) {
    const access = tx.children('PIF', mp, 'tunnel_access_PIF_of');
    if (!access.length) continue;
    const M = tx.get('PIF', mp);
    const t = tx.get('tunnel', access[0]);
    if (pifsOn(tx, host, M.network).some((p) => tx.children('PIF', p, 'tunnel_access_PIF_of').length)) continue;
    const transport = tx.find('PIF', t.transport_PIF);
    if (!transport) continue;
    const on = pifsOn(tx, host, transport.network);
    if (on.length !== 1) continue;
    const r = tunnelCreateInternal(tx, host, on[0], M.network, t.protocol);
    made++;
    if (M.currently_attached && tx.get('PIF', on[0]).ip_configuration_mode !== 'None') {
      setCulprit(tx, r.access);
      bringPifUp(tx, r.access);
    }
  }
  if (made) log.info(`pool: host ${host}: copied ${made} tunnels from the master`);
  return made;
}
