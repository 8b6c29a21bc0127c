// Bond: create, destroy, set_mode, set_property — the seed's "New Behaviour" (seeds/002),
// step by step, with xapi's checks, order and error parameters (xapi_bond.ml). Everything
// happens in the call's one transaction: a failure at any step (including the host-side
// work the reconciler does at the end) leaves the database and the host as they were.
// Where the seed and xapi differ the seed wins; docs/compat.md lists each divergence.
//
// Surface:
//   chooseBondDevice(db, host)            — bond<N>, the smallest N ≥ 0 unused by a bond master on the host
//   checkProperties(mode, props, linux)   — INVALID_VALUE for a property the mode (and Linux bonding) does not allow; adds defaults
//   vifsToMove(db, host, networks)        — the seed's VIFs-to-move on those networks
//   assertVifsCanBeUnplugged(db, vifs)    — the seed's "try unplugging" step: the first VIF that cannot be unplugged fails the call
//   moveVlans(tx, host, newBase, vlans)   — move VLANs to newBase with their networks (same tags merged, seed rule)
//   moveTunnels(tx, host, newTransport, tunnels) — move tunnels with their networks
//   bondCreate(ctx, ...) / bondDestroy(ctx, bond)
//   bondImpls                             — Bond.* implementations
import type { CallCtx, Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type Txn, type View } from '../store/store.js';
import type { EnumValue, Ref } from '../../schema/index.js';
import { assertNoOtherLocalPifs, assertNetworkManaged, bringPifUp, refreshHostAddress } from './network.js';
import { moveManagement } from './host.js';
import { destroyPif, newPifMetrics, newPifRow } from './introduce.js';
import { moveIpConfig, resetIpConfig, setCulprit } from './pif.js';
import { isBondSlave, pifKind } from './pif_helpers.js';
import { tunnelCreateInternal, tunnelDestroyInternal } from './tunnel.js';
import { isValidMac, moveVifInternal, vifActive, vifOperationError } from './vif.js';
import { vlanCreateInternal, vlanDestroyInternal } from './vlan.js';
import { possibleHosts } from './vm.js';
import { failpointArmed } from '../failpoints.js';

// ------------------------------------------------------------------------------------------
// Modes and properties (Xapi_bond.create's mode requirements, Map_check)

/** OCaml int_of_string: optional sign, decimal or 0x/0o/0b/0u literal, `_` after the first digit, 63-bit. */
function isOcamlInt(v: string): boolean {
  const m = /^([-+]?)(0[xX][0-9a-fA-F][0-9a-fA-F_]*|0[oO][0-7][0-7_]*|0[bB][01][01_]*|0[uU][0-9][0-9_]*|[0-9][0-9_]*)$/.exec(v);
  if (!m) return false;
  let body = m[2].replace(/_/g, '');
  const prefixed = /^0[xXoObBuU]/.test(body);
  if (/^0[uU]/.test(body)) body = body.slice(2);
  const n = BigInt(body);
  // Decimal literals must fit max_int (2^62 - 1) in magnitude; prefixed ones may use the full 63 bits.
  return prefixed ? n <= (1n << 63n) - 1n : n <= (1n << 62n) - (m[1] === '-' ? 0n : 1n);
}

const LACP: Record<string, (v: string) => boolean> = {
  hashing_algorithm: (v) => v === 'src_mac' || v === 'tcpudp_ports',
  'lacp-time': (v) => v === 'fast' || v === 'slow',
  'lacp-aggregation-key': isOcamlInt,
  'lacp-fallback-ab': (v) => v === 'true' || v === 'false',
};
const LACP_DEFAULTS: [string, string][] = [
  ['hashing_algorithm', 'tcpudp_ports'],
  ['lacp-time', 'slow'],
  ['lacp-fallback-ab', 'true'],
];

/**
 * The Linux bonding driver's modes each XenAPI mode may be realised as, on a host whose bonds are
 * Linux bonding devices (software_version bond_driver "linux": the ifcfg backend). `linux-mode` picks one without
 * changing xapi's bond_mode enum on the wire: seed 001's oVirt types are Load Balancing =
 * balance-slb + linux-mode balance-xor, Broadcast = balance-slb + linux-mode broadcast,
 * Link Aggregation = lacp (802.3ad), Failover = active-backup (docs/backends.md).
 */
export const LINUX_MODES: Record<string, string[]> = {
  'balance-slb': ['balance-alb', 'balance-xor', 'broadcast', 'balance-tlb', 'balance-rr'],
  'active-backup': ['active-backup'],
  lacp: ['802.3ad'],
};
const ms = (v: string) => /^\d{1,7}$/.test(v);
/** Linux bonding options Bond.properties may carry on a Linux-bonding host (any mode). */
const LINUX: Record<string, (v: string, mode: string) => boolean> = {
  miimon: ms,
  updelay: ms,
  downdelay: ms,
  use_carrier: (v) => v === '0' || v === '1',
  xmit_hash_policy: (v) => ['layer2', 'layer2+3', 'layer3+4', 'encap2+3', 'encap3+4'].includes(v),
  'linux-mode': (v, mode) => (LINUX_MODES[mode] ?? []).includes(v),
};

/** True when the host's bonds are Linux bonding devices (host.software_version:bond_driver "linux": the ifcfg backend). */
export function linuxBonding(db: View, host: Ref<'host'>): boolean {
  const h = db.find('host', host);
  return h?.software_version?.bond_driver === 'linux';
}

/** True if the mode allows property k = v (lacp's keys; on Linux bonding also LINUX's). */
function propertyValid(mode: string, k: string, v: string, linux = false): boolean {
  const has = (o: object) => Object.prototype.hasOwnProperty.call(o, k);
  if (mode === 'lacp' && has(LACP) && LACP[k](v)) return true;
  return linux && has(LINUX) && LINUX[k](v, mode);
}

/** Bond.create step 6-7: INVALID_VALUE ["properties", "k = v"] for a bad pair; returns the properties with the mode's defaults. */
export function checkProperties(mode: string, props: Record<string, string>, linux = false): Record<string, string> {
  for (const [k, v] of Object.entries(props)) {
    if (!propertyValid(mode, k, v, linux)) throw new ApiError('INVALID_VALUE', ['properties', `${k} = ${v}`]);
  }
  return withDefaults(mode, props);
}

function withDefaults(mode: string, props: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (mode === 'lacp') for (const [k, v] of LACP_DEFAULTS) if (!(k in props)) out[k] = v;
  return Object.assign(out, props);
}

// ------------------------------------------------------------------------------------------
// What moves

/** bond<N> with the smallest N ≥ 0 not used by a bond master PIF on the host (Xapi_bond.choose_bond_device_name). */
export function chooseBondDevice(db: View, host: Ref<'host'>): string {
  // Only a PIF named bond… can take a name bond<N>: the others' bond_master_of is not looked at (a pool
  // slave's sync copies 50 bonds, and each copy looked up the bonds of every PIF of the host).
  const used = new Set<string>();
  for (const p of db.children('host', host, 'PIFs')) {
    const device = db.get('PIF', p).device;
    if (device.startsWith('bond') && db.children('PIF', p, 'bond_master_of').length > 0) used.add(device);
  }
  let n = 0;
  while (used.has(`bond${n}`)) n++;
  return `bond${n}`;
}

/**
 * The seed's VIF-to-move rule for host h: the VM is running, suspended or paused on h
 * (resident_on = h), or it is not resident anywhere and h is the only host it can start on.
 * (xapi also moves VIFs of VMs that can start nowhere; the seed does not: docs/compat.md.)
 */
function isLocalVm(db: View, vm: Ref<'VM'>, host: Ref<'host'>, cache: Map<string, boolean>): boolean {
  let v = cache.get(vm);
  if (v === undefined) {
    const row = db.find('VM', vm);
    if (!row) v = false;
    else if (row.resident_on === host) v = true;
    else if (row.resident_on !== NULL_REF && db.find('host', row.resident_on)) v = false;
    else {
      const p = possibleHosts(db, vm);
      v = p.length === 1 && p[0] === host;
    }
    cache.set(vm, v);
  }
  return v;
}

/** The VIFs-to-move on `networks` for `host`, network by network. */
export function vifsToMove(db: View, host: Ref<'host'>, networks: string[], cache = new Map<string, boolean>()): string[] {
  const out = new Set<string>();
  for (const n of networks) {
    for (const v of db.children('network', n, 'VIFs')) {
      if (!out.has(v) && isLocalVm(db, db.get('VIF', v).VM, host, cache)) out.add(v);
    }
  }
  return [...out];
}

/**
 * Seed step "try unplugging all currently attached VIFs-to-move": each active one must pass
 * VIF.unplug's checks, else the call fails with that VIF's error and nothing changes (the
 * transaction rolls back). The VIFs then move and stay attached on their new network.
 */
export function assertVifsCanBeUnplugged(db: View, vifs: string[]): void {
  for (const v of vifs) {
    if (!vifActive(db, v)) continue;
    const err = vifOperationError(db, v, 'unplug');
    if (err) throw err;
  }
}

/** One tag's VLANs on the PIFs being merged: the one kept (network with most VIFs) and the others. */
interface VlanGroup {
  tag: number;
  keep: string;
  others: string[];
  /** VIFs-to-move on the other VLANs' networks: they move to the kept VLAN's network. */
  vifs: string[];
}

/** Groups VLANs by tag (first-seen order) and picks, per tag, the VLAN whose network has the most VIFs (first on a tie). */
function planVlans(db: View, host: Ref<'host'>, vlans: string[], cache: Map<string, boolean>): VlanGroup[] {
  const byTag = new Map<number, string[]>();
  for (const v of vlans) {
    const tag = Number(db.get('VLAN', v).tag);
    byTag.set(tag, [...(byTag.get(tag) ?? []), v]);
  }
  const netOf = (v: string) => db.get('PIF', db.get('VLAN', v).untagged_PIF).network;
  const vifCount = (v: string) => db.children('network', netOf(v), 'VIFs').length;
  const out: VlanGroup[] = [];
  for (const [tag, group] of byTag) {
    let keep = group[0];
    for (const v of group) if (vifCount(v) > vifCount(keep)) keep = v;
    const others = group.filter((v) => v !== keep);
    out.push({ tag, keep, others, vifs: vifsToMove(db, host, others.map(netOf), cache) });
  }
  return out;
}

/**
 * Moves planned VLAN groups onto `newBase`: the kept VLAN is re-created there on its own network
 * (the network moves up; its VIFs need no move) with its IP configuration; the others' VIFs-to-move
 * move to that network and the others are destroyed. The new VLAN PIF is plugged if one of the
 * group was, and is the management interface if one of them was.
 */
function moveVlanGroups(tx: Txn, host: Ref<'host'>, newBase: Ref<'PIF'>, groups: VlanGroup[]): void {
  const device = tx.get('PIF', newBase).device;
  // The new base's VLANs by tag (the first of a tag, as a scan would find it), kept as VLANs are re-created on it.
  const onBase = new Map<number, string>();
  for (const v of tx.children('PIF', newBase, 'VLAN_slave_of')) {
    const tag = Number(tx.get('VLAN', v).tag);
    if (!onBase.has(tag)) onBase.set(tag, v);
  }
  let broughtUp = false;
  for (const g of groups) {
    const oldU = tx.get('VLAN', g.keep).untagged_PIF;
    const network = tx.get('PIF', oldU).network;
    let plugged = false;
    let management = false;
    const note = (u: string) => {
      const r = tx.get('PIF', u);
      plugged ||= !!r.currently_attached;
      management ||= !!r.management;
    };
    note(oldU);
    const existing = onBase.get(g.tag);
    let untagged: string;
    if (existing) {
      // A VLAN with this tag is already on the new base: everything merges into it.
      untagged = tx.get('VLAN', existing).untagged_PIF;
      for (const v of vifsToMove(tx, host, [network])) moveVifInternal(tx, v, tx.get('PIF', untagged).network);
    } else {
      const made = vlanCreateInternal(tx, host, newBase, g.tag, network, device);
      untagged = made.untagged;
      onBase.set(g.tag, made.vlan);
      moveIpConfig(tx, oldU, untagged);
    }
    vlanDestroyInternal(tx, g.keep);
    const target = tx.get('PIF', untagged).network;
    for (const o of g.others) {
      note(tx.get('VLAN', o).untagged_PIF);
      vlanDestroyInternal(tx, o);
    }
    for (const v of g.vifs) moveVifInternal(tx, v, target);
    if (management) tx.set('PIF', untagged, { management: true });
    if (management || plugged) {
      bringPifUp(tx, untagged, false);
      broughtUp = true;
    }
  }
  // host.address once, after the last VLAN: the same value a refresh per VLAN PIF left (nothing here
  // reads it meanwhile), without looking through the host's PIFs for the management one 100 times.
  if (broughtUp) refreshHostAddress(tx, host);
}

/** Moves VLANs onto `newBase` with their networks (same tags merged by the seed's rule). */
export function moveVlans(tx: Txn, host: Ref<'host'>, newBase: Ref<'PIF'>, vlans: string[]): void {
  moveVlanGroups(tx, host, newBase, planVlans(tx, host, vlans, new Map()));
}

/**
 * xapi_bond.move_tunnel for each tunnel: a new tunnel (new access PIF tunnel<N>) on
 * `newTransport` with the same network and protocol; the old one is destroyed; the new access
 * PIF is plugged if the old one was (and keeps the management flag if it had it).
 */
export function moveTunnels(tx: Txn, host: Ref<'host'>, newTransport: Ref<'PIF'>, tunnels: string[]): void {
  let broughtUp = false;
  for (const t of tunnels) {
    const row = tx.get('tunnel', t);
    const oldAccess = tx.get('PIF', row.access_PIF);
    const { access } = tunnelCreateInternal(tx, host, newTransport, oldAccess.network, row.protocol);
    tunnelDestroyInternal(tx, t);
    if (oldAccess.management) tx.set('PIF', access, { management: true });
    if (oldAccess.currently_attached) {
      bringPifUp(tx, access, false);
      broughtUp = true;
    }
  }
  // As for VLANs: host.address once, after the last tunnel.
  if (broughtUp) refreshHostAddress(tx, host);
}

/** Task progress at the seed's/xapi's fixed points (Async calls only). */
function progress(ctx: CallCtx, p: number): void {
  if (ctx.task && ctx.tx.find('task', ctx.task)) ctx.tx.set('task', ctx.task, { progress: p });
}

// ------------------------------------------------------------------------------------------
// Bond.create

/** Bond.create: the seed's steps 1-12 with xapi's validations in xapi's order; returns the Bond. */
export function bondCreate(
  ctx: CallCtx,
  network: Ref<'network'>,
  membersIn: readonly string[],
  MAC: string,
  mode: EnumValue<'bond_mode'>,
  propsIn: Record<string, string>,
): string {
  const tx = ctx.tx;
  // Validation (Xapi_bond.create's checks and the dispatcher's), nothing changed yet.
  if (membersIn.length === 0) throw new ApiError('PIF_BOND_NEEDS_MORE_MEMBERS', []);
  const host = tx.get('PIF', membersIn[0]).host;
  assertNetworkManaged(tx, network);
  assertNoOtherLocalPifs(tx, host, network);
  if (MAC !== '' && !isValidMac(MAC)) throw new ApiError('MAC_INVALID', [MAC]);
  const properties = checkProperties(mode, propsIn, linuxBonding(tx, host));
  // Seed step 1: remove duplicates (xapi keeps the last occurrence).
  const members = membersIn.filter((m, i) => membersIn.lastIndexOf(m) === i);
  const rows = members.map((m) => tx.get('PIF', m));
  const managementPif = members.find((_, i) => rows[i].management);
  const hasIpConf = (i: number) => (rows[i].primary_address_type === 'IPv6' ? rows[i].ipv6_configuration_mode : rows[i].ip_configuration_mode) !== 'None';
  const withIp = members.filter((_, i) => hasIpConf(i));
  // Seed step 4: the primary slave (management PIF, else first with IP configuration; xapi: else the first member).
  const primary = managementPif ?? withIp[0] ?? members[0];
  const primaryRow = tx.get('PIF', primary);
  members.forEach((m, i) => {
    if (rows[i].primary_address_type !== primaryRow.primary_address_type) throw new ApiError('PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE', [m]);
  });
  // Seed step 2: slaves not bonded, not VLAN masters, not tunnel access PIFs (xapi's per-member checks).
  const haOn = [...tx.rows('pool')].some(([, p]) => p.ha_enabled);
  members.forEach((m, i) => {
    if (!rows[i].managed) throw new ApiError('PIF_UNMANAGED', [m]);
    const kind = pifKind(tx, m);
    if (kind === 'Tunnel_access') throw new ApiError('IS_TUNNEL_ACCESS_PIF', [m]);
    if (kind === 'VLAN_untagged') throw new ApiError('PIF_VLAN_EXISTS', [rows[i].device_name]);
    // A bond master is "in a bond already" (xapi lets it through: docs/compat.md).
    if (kind === 'Bond_master' || isBondSlave(tx, m)) throw new ApiError('PIF_ALREADY_BONDED', [m]);
    if (haOn && rows[i].management) throw new ApiError('HA_CANNOT_CHANGE_BOND_STATUS_OF_MGMT_IFACE', []);
  });
  if (rows.some((r) => r.host !== host)) throw new ApiError('PIF_CANNOT_BOND_CROSS_HOST', []);
  const pifProps = rows[0].properties;
  const sameProps = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);
  if (!rows.every((r) => sameProps(r.properties, pifProps))) throw new ApiError('INCOMPATIBLE_PIF_PROPERTIES', []);
  if (withIp.length > 1) throw new ApiError('PIF_BOND_MORE_THAN_ONE_IP', []);

  // What moves, decided before anything changes.
  const cache = new Map<string, boolean>();
  const memberNets = rows.map((r) => r.network);
  const slaveVifs = vifsToMove(tx, host, memberNets, cache);
  const vlans = members.flatMap((m) => tx.children('PIF', m, 'VLAN_slave_of'));
  const groups = planVlans(tx, host, vlans, cache);
  const tunnels = members.flatMap((m) => tx.children('PIF', m, 'tunnel_transport_PIF_of'));
  const anyPlugged = rows.some((r) => r.currently_attached);
  // Seed step 3: every attached VIF-to-move must be unpluggable, or the call fails with nothing changed.
  assertVifsCanBeUnplugged(tx, [...slaveVifs, ...groups.flatMap((g) => g.vifs)]);

  // Seed step 5: the master PIF.
  const bondNet = tx.get('network', network);
  const device = chooseBondDevice(tx, host);
  const master = tx.create(
    'PIF',
    newPifRow({
      device,
      network,
      host,
      MAC: MAC !== '' ? MAC : primaryRow.MAC,
      MTU: Number(bondNet.MTU),
      VLAN: -1,
      metrics: newPifMetrics(tx),
      physical: false,
      disallow_unplug: rows.some((r) => r.disallow_unplug),
      primary_address_type: primaryRow.primary_address_type,
      properties: Object.assign(Object.create(null), pifProps),
    }),
  );
  setCulprit(tx, master);
  moveIpConfig(tx, primary, master);
  // Seed step 6: the Bond, with its primary slave.
  const bond = tx.create('Bond', {
    master,
    other_config: Object.create(null),
    primary_slave: primary,
    mode,
    properties,
    links_up: 0,
    auto_update_mac: MAC === '',
  });
  // Seed step 7: the slaves.
  for (const m of members) tx.set('PIF', m, { bond_slave_of: bond });
  progress(ctx, 0.2);
  // Seed step 8: VLANs (and the VIFs-to-move of merged same-tag VLANs).
  moveVlanGroups(tx, host, master, groups);
  progress(ctx, 0.4);
  // Seed step 9: tunnels.
  moveTunnels(tx, host, master, tunnels);
  progress(ctx, 0.6);
  // Seed step 10: VIFs-to-move on the slaves' networks.
  for (const v of slaveVifs) moveVifInternal(tx, v, network);
  progress(ctx, 0.8);
  // Seed step 11: management moves to the master (plugged); else the master is plugged if a slave was.
  if (managementPif) moveManagement(tx, master);
  else if (anyPlugged) bringPifUp(tx, master);
  for (const m of members) if (tx.get('PIF', m).currently_attached) tx.set('PIF', m, { currently_attached: false });
  // Seed step 12: slaves lose their IP configuration and disallow_unplug.
  for (const m of members) {
    resetIpConfig(tx, m);
    if (tx.get('PIF', m).disallow_unplug) tx.set('PIF', m, { disallow_unplug: false });
  }
  progress(ctx, 1.0);
  return bond;
}

// ------------------------------------------------------------------------------------------
// Bond.destroy

/** Bond.destroy: the seed's steps 1-9 (configuration, VLANs, tunnels, VIFs, management back to the primary slave). */
export function bondDestroy(ctx: CallCtx, bond: Ref<'Bond'>): void {
  const tx = ctx.tx;
  const b = tx.get('Bond', bond);
  const master = b.master;
  const m = tx.get('PIF', master);
  const members = tx.children('Bond', bond, 'slaves');
  const plugged = !!m.currently_attached;
  const host = m.host;
  const network = m.network;
  const primary = b.primary_slave;
  const primaryNet = tx.get('PIF', primary).network;
  if (m.management && [...tx.rows('pool')].some(([, p]) => p.ha_enabled)) throw new ApiError('HA_CANNOT_CHANGE_BOND_STATUS_OF_MGMT_IFACE', []);
  const cache = new Map<string, boolean>();
  const vifs = vifsToMove(tx, host, [network], cache);
  const groups = planVlans(tx, host, tx.children('PIF', master, 'VLAN_slave_of'), cache);
  const tunnels = tx.children('PIF', master, 'tunnel_transport_PIF_of');
  // Seed step 1: every attached VIF-to-move must be unpluggable.
  assertVifsCanBeUnplugged(tx, [...vifs, ...groups.flatMap((g) => g.vifs)]);
  setCulprit(tx, primary);
  // The members stop being slaves first, so that they can carry VLANs, VIFs and management.
  for (const s of members) tx.set('PIF', s, { bond_slave_of: NULL_REF });
  // Seed step 2: IP configuration to the primary slave.
  moveIpConfig(tx, master, primary);
  progress(ctx, 0.2);
  // Seed step 3: VLANs, with their networks.
  moveVlanGroups(tx, host, primary, groups);
  progress(ctx, 0.4);
  // Seed step 4: tunnels, with their networks.
  moveTunnels(tx, host, primary, tunnels);
  // Seed step 5: VIFs-to-move on the master's network.
  for (const v of vifs) moveVifInternal(tx, v, primaryNet);
  progress(ctx, 0.6);
  // Seed step 6: management to the primary slave (plugged).
  if (m.management) moveManagement(tx, primary);
  // Seed step 7: all slaves plugged if the master was.
  if (plugged) for (const s of members) if (s === primary || !failpointArmed('bond.destroy.plug-primary-only')) bringPifUp(tx, s);
  progress(ctx, 0.8);
  // Seed step 8: disallow_unplug to the primary slave.
  if (m.disallow_unplug) tx.set('PIF', primary, { disallow_unplug: true });
  // Seed step 9: the Bond and the master PIF go (with the master's metrics: docs/compat.md).
  tx.destroy('Bond', bond);
  destroyPif(tx, master);
  progress(ctx, 1.0);
}

// ------------------------------------------------------------------------------------------
// set_mode / set_property

/** Re-applies the bond: the master is brought up (plugged even if it was not, as xapi). */
function reapply(tx: Txn, bond: Ref<'Bond'>): void {
  const master = tx.get('Bond', bond).master;
  setCulprit(tx, master);
  bringPifUp(tx, master);
}

/** Implementations of the Bond class's messages. */
export const bondImpls: Impls = {
  'Bond.create': (ctx, { network, members, MAC, mode, properties }) => bondCreate(ctx, network, members, MAC, mode, properties),
  'Bond.destroy': (ctx, { self }) => {
    bondDestroy(ctx, self);
  },
  'Bond.set_mode': (ctx, { self, value }) => {
    const tx = ctx.tx;
    const b = tx.get('Bond', self);
    const kept: Record<string, string> = Object.create(null);
    const linux = linuxBonding(tx, tx.get('PIF', b.master).host);
    for (const [k, v] of Object.entries(b.properties as Record<string, string>)) if (propertyValid(value, k, v, linux)) kept[k] = v;
    tx.set('Bond', self, { mode: value, properties: withDefaults(value, kept) });
    reapply(tx, self);
  },
  'Bond.set_property': (ctx, { self, name, value }) => {
    const tx = ctx.tx;
    const b = tx.get('Bond', self);
    if (!propertyValid(b.mode, name, value, linuxBonding(tx, tx.get('PIF', b.master).host)))
      throw new ApiError('INVALID_VALUE', ['properties', `${name} = ${value}`]);
    tx.set('Bond', self, { properties: Object.assign(Object.create(null), b.properties, { [name]: value }) });
    reapply(tx, self);
  },
};
