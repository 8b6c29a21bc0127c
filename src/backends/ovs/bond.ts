// XenAPI bond properties as Open vSwitch columns: the exact columns xcp-networkd's
// Ovs.make_bond_properties writes for nm.ml's bond properties, and the canonical text of those
// columns that parse.ts compares with what OVSDB holds.

import type { Uplink } from '../backend.js';
import type { BondPortCols } from '../tools/ovs.js';
import { naturalCompare, plainCompare } from '../../collate.js';

/** external_ids key of a bond Port holding the Uplink exactly as applied. */
export const UPLINK_KEY = 'xnd-uplink';

/** Natural order (eth2 before eth10). */
export const natural = naturalCompare;

/** What a bond uplink renders to. */
export interface BondRender {
  port: BondPortCols;
  /** other_config keys of every member Interface. */
  memberOther: Record<string, string>;
  /** what the OVSDB rows must hold; compared with the rows on read(). */
  canonical: string;
}

const KNOWN_BOND_KEYS = new Set([
  'hashing_algorithm',
  'hashing-algorithm',
  'updelay',
  'downdelay',
  'miimon',
  'use_carrier',
  'rebalance-interval',
  'lacp-time',
  'lacp-fallback-ab',
  'lacp-aggregation-key',
  'lacp-actor-key',
]);

/**
 * Port other_config key naming the member an active-backup bond prefers (ovs-vswitchd.conf.db(5)):
 * the backend's own choice, not a Bond.properties key, so never compared nor read back as one.
 */
export const PRIMARY_KEY = 'bond-primary';

/**
 * The columns of a bond Port and its members for a bond Uplink. `primary`: the member an
 * active-backup bond should make active (the one whose MAC the bond carries).
 */
export function renderBond(u: Extract<Uplink, { kind: 'bond' }>, primary?: string): BondRender {
  const p = u.properties;
  const lacp = u.mode === 'lacp';
  const hashing = p['hashing_algorithm'] ?? p['hashing-algorithm'] ?? '';
  const bondMode = lacp ? (hashing === 'src_mac' ? 'balance-slb' : 'balance-tcp') : u.mode;
  const intOr = (v: string | undefined, d: number) => (v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : d);
  const updelay = intOr(p.updelay, 31000);
  const downdelay = intOr(p.downdelay, 200);
  const other: Record<string, string> = {
    'bond-miimon-interval': String(intOr(p.miimon, 100)),
    'bond-detect-mode': intOr(p.use_carrier, 1) > 0 ? 'carrier' : 'miimon',
  };
  if (!lacp) other['bond-rebalance-interval'] = String(intOr(p['rebalance-interval'], 1800000));
  if (lacp && p['lacp-time'] !== undefined) other['lacp-time'] = p['lacp-time'];
  if (lacp && p['lacp-fallback-ab'] !== undefined) other['lacp-fallback-ab'] = p['lacp-fallback-ab'];
  if (p['lacp-actor-key'] !== undefined) other['bond-lacp-actor-key'] = p['lacp-actor-key'];
  for (const [k, v] of Object.entries(p)) if (!KNOWN_BOND_KEYS.has(k)) other[`bond-${k}`] = v;
  if (primary !== undefined && u.mode === 'active-backup' && u.members.includes(primary)) other[PRIMARY_KEY] = primary;
  const memberOther: Record<string, string> = {};
  if (p['lacp-aggregation-key'] !== undefined) memberOther['lacp-aggregation-key'] = p['lacp-aggregation-key'];
  if (p['lacp-actor-key'] !== undefined) memberOther['lacp-actor-key'] = p['lacp-actor-key'];
  const port: BondPortCols = {
    lacp: lacp ? 'active' : 'off',
    bondMode: bondMode as BondPortCols['bondMode'],
    updelay,
    downdelay,
    otherConfig: other,
    externalIds: { [UPLINK_KEY]: JSON.stringify(u) },
  };
  if (u.mac) port.mac = u.mac;
  return {
    port,
    memberOther,
    canonical: canonicalBond(port.lacp, bondMode, updelay, downdelay, u.mac, other, u.members, memberOther),
  };
}

/** One text for a bond's columns, whatever order they were read or built in. */
export function canonicalBond(
  lacp: string,
  bondMode: string,
  up: number,
  down: number,
  mac: string,
  other: Record<string, string>,
  members: string[],
  memberOther: Record<string, string>,
): string {
  const sortObj = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => plainCompare(a, b)));
  return JSON.stringify({
    lacp,
    bondMode,
    up,
    down,
    mac: mac.toLowerCase(),
    // The preferred member follows the NICs' MACs, which read() does not know: not compared.
    other: sortObj(Object.fromEntries(Object.entries(other).filter(([k]) => k !== PRIMARY_KEY))),
    members: [...members].sort(natural),
    memberOther: sortObj(memberOther),
  });
}
