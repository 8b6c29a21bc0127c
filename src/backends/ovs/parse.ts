// OVSDB as read by `ovs-vsctl --format=json list` → NetState (pure: no process is run here).
// IpConfig and the exact Uplink (member order, XenAPI properties) are kept in external_ids of the
// bridge's / bond's rows, so a state reads back exactly as applied, while anything changed behind
// our back is read from the real columns instead.

import type { BondMode, Bridge, IpConfig, NetState, Uplink } from '../backend.js';
import { normalize } from '../plan.js';
import { bridgeMap } from '../state.js';
import { PRIMARY_KEY, UPLINK_KEY, canonicalBond, natural, renderBond } from './bond.js';

/** external_ids key of a bridge's Interface holding its IpConfig. */
export const IP_KEY = 'xnd-ip';
/** external_ids key of a tunnel Interface naming its transport bridge. */
export const TRANSPORT_KEY = 'xnd-transport';
/** external_ids key of a bridge's Interface holding the MAC its state names (Bridge.mac, a tunnel bridge's), so read() gives back exactly that. */
export const MAC_KEY = 'xnd-mac';
/** VIF port names (vif<domid>.<device>). */
export const VIF_RE = /^vif\d+\.\d+$/;

/** A Port row (the columns we read). */
export interface RawPort {
  uuid: string;
  name: string;
  interfaces: string[];
  tag?: number;
  fakeBridge: boolean;
  bondMode: string;
  lacp: string;
  updelay: number;
  downdelay: number;
  mac: string;
  otherConfig: Record<string, string>;
  externalIds: Record<string, string>;
}

/** An Interface row (the columns we read). */
export interface RawIface {
  uuid: string;
  name: string;
  type: string;
  options: Record<string, string>;
  otherConfig: Record<string, string>;
  externalIds: Record<string, string>;
  mtu?: number;
  mtuRequest?: number;
  error: string;
  ofport?: number;
}

/** The three tables. */
export interface RawDb {
  bridges: { name: string; ports: string[] }[];
  ports: Map<string, RawPort>;
  ifaces: Map<string, RawIface>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function atom(v: Json): Json {
  return Array.isArray(v) && (v[0] === 'uuid' || v[0] === 'named-uuid') ? v[1] : v;
}
function toSet(v: Json): Json[] {
  if (Array.isArray(v) && v[0] === 'set') return (v[1] as Json[]).map(atom);
  return [atom(v)];
}
function toMap(v: Json): Record<string, string> {
  // No prototype: the keys are whatever other tools wrote into the OVS database.
  const out: Record<string, string> = Object.create(null);
  if (Array.isArray(v) && v[0] === 'map') for (const [k, val] of v[1] as [string, Json][]) out[k] = String(atom(val));
  return out;
}
function optNum(v: Json): number | undefined {
  const s = toSet(v);
  return s.length && typeof s[0] === 'number' ? s[0] : undefined;
}
function optStr(v: Json): string {
  const s = toSet(v);
  return s.length && typeof s[0] === 'string' ? s[0] : '';
}
function rows(table: { headings: string[]; data: Json[][] }): Record<string, Json>[] {
  return table.data.map((r) => Object.fromEntries(table.headings.map((h, i) => [h, r[i]])));
}

/** Parses the output of listTablesArgv (three JSON tables, one a line). */
export function parseTables(out: string): RawDb {
  const [bt, pt, it] = out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { headings: string[]; data: Json[][] });
  const bridges = rows(bt).map((r) => ({ name: String(r.name), ports: toSet(r.ports).map(String) }));
  const ports = new Map<string, RawPort>();
  for (const r of rows(pt)) {
    const uuid = String(atom(r._uuid));
    ports.set(uuid, {
      uuid,
      name: String(r.name),
      interfaces: toSet(r.interfaces).map(String),
      tag: optNum(r.tag),
      fakeBridge: r.fake_bridge === true,
      bondMode: optStr(r.bond_mode),
      lacp: optStr(r.lacp),
      updelay: Number(r.bond_updelay ?? 0),
      downdelay: Number(r.bond_downdelay ?? 0),
      mac: optStr(r.mac),
      otherConfig: toMap(r.other_config),
      externalIds: toMap(r.external_ids),
    });
  }
  const ifaces = new Map<string, RawIface>();
  for (const r of rows(it)) {
    const uuid = String(atom(r._uuid));
    ifaces.set(uuid, {
      uuid,
      name: String(r.name),
      type: String(r.type ?? ''),
      options: toMap(r.options),
      otherConfig: toMap(r.other_config),
      externalIds: toMap(r.external_ids),
      mtu: optNum(r.mtu),
      mtuRequest: optNum(r.mtu_request),
      error: optStr(r.error),
      ofport: optNum(r.ofport),
    });
  }
  return { bridges, ports, ifaces };
}

/** The OVS part of the state (ip left as stored in external_ids; the backend checks it against the kernel). */
export function stateOf(db: RawDb): { state: NetState; storedIp: Map<string, IpConfig> } {
  const byName = new Map([...db.ifaces.values()].map((i) => [i.name, i]));
  const storedIp = new Map<string, IpConfig>();
  const out = bridgeMap();
  for (const br of db.bridges) {
    const ports = br.ports.map((u) => db.ports.get(u)).filter((p): p is RawPort => !!p);
    const fakes = ports.filter((p) => p.fakeBridge && p.tag !== undefined);
    const mk = (name: string, vlan?: { parent: string; tag: number }) => {
      const self = byName.get(name);
      const b: Bridge = { name, MTU: self?.mtuRequest ?? self?.mtu ?? 1500, vifs: [] };
      if (vlan) b.vlan = vlan;
      const mac = self?.externalIds[MAC_KEY];
      if (mac && !vlan) b.mac = mac;
      const ip = self?.externalIds[IP_KEY];
      if (ip) {
        try {
          storedIp.set(name, JSON.parse(ip) as IpConfig);
        } catch {
          /* not ours: ignored */
        }
      }
      out[name] = b;
      return b;
    };
    const real = mk(br.name);
    const tagged = new Map<number, Bridge>();
    for (const f of fakes) tagged.set(f.tag!, mk(f.name, { parent: br.name, tag: f.tag! }));
    for (const p of ports) {
      if (p.name === br.name || p.fakeBridge) continue;
      const owner = (p.tag !== undefined && tagged.get(p.tag)) || real;
      if (VIF_RE.test(p.name)) {
        owner.vifs.push(p.name);
        continue;
      }
      const ifs = p.interfaces.map((u) => db.ifaces.get(u)).filter((i): i is RawIface => !!i);
      const uplink = uplinkOf(p, ifs);
      if (uplink && !owner.uplink) owner.uplink = uplink;
    }
  }
  return { state: normalize({ bridges: out }), storedIp };
}

/** A Port as an Uplink: the stored one when the rows still say exactly that, else mapped back from the columns. */
export function uplinkOf(p: RawPort, ifs: RawIface[]): Uplink | undefined {
  if (ifs.length === 1 && (ifs[0].type === 'gre' || ifs[0].type === 'vxlan')) {
    const i = ifs[0];
    return {
      kind: 'tunnel',
      name: p.name,
      protocol: i.type as 'gre' | 'vxlan',
      remote: i.options.remote_ip ?? '',
      key: i.options.key ?? '',
      transport: i.externalIds[TRANSPORT_KEY] ?? '',
    };
  }
  if (ifs.some((i) => i.type !== '' && i.type !== 'system')) return undefined;
  if (ifs.length === 1 && ifs[0].name === p.name && !p.bondMode && !p.lacp) return { kind: 'nic', device: p.name };
  const members = ifs.map((i) => i.name).sort(natural);
  const memberOther: Record<string, string> = {};
  for (const k of ['lacp-aggregation-key', 'lacp-actor-key']) {
    const v = ifs[0]?.otherConfig[k];
    if (v !== undefined) memberOther[k] = v;
  }
  const lacpOn = p.lacp === 'active' || p.lacp === 'passive';
  const actual = canonicalBond(p.lacp || 'off', p.bondMode, p.updelay, p.downdelay, p.mac, p.otherConfig, members, memberOther);
  const stored = p.externalIds[UPLINK_KEY];
  if (stored) {
    try {
      const u = JSON.parse(stored) as Uplink;
      if (u.kind === 'bond' && u.name === p.name && renderBond(u).canonical === actual) return u;
    } catch {
      /* fall through to the columns */
    }
  }
  const mode: BondMode = lacpOn ? 'lacp' : p.bondMode === 'active-backup' ? 'active-backup' : 'balance-slb';
  const properties: Record<string, string> = {};
  if (lacpOn) {
    properties.hashing_algorithm = p.bondMode === 'balance-slb' ? 'src_mac' : 'tcpudp_ports';
    for (const k of ['lacp-time', 'lacp-fallback-ab']) if (p.otherConfig[k] !== undefined) properties[k] = p.otherConfig[k];
    if (memberOther['lacp-aggregation-key'] !== undefined) properties['lacp-aggregation-key'] = memberOther['lacp-aggregation-key'];
  }
  for (const [k, v] of Object.entries(p.otherConfig)) {
    if (k.startsWith('bond-') && !['bond-miimon-interval', 'bond-detect-mode', 'bond-rebalance-interval', 'bond-lacp-actor-key', PRIMARY_KEY].includes(k)) {
      properties[k.slice(5)] = v;
    }
  }
  return { kind: 'bond', name: p.name, members, mode, properties, mac: p.mac };
}
