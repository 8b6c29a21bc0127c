// The Open vSwitch backend: realises a NetState with ovs-vsctl and ip, the way xcp-networkd
// does (shared/reference/ovs-backend.md (a), (b)), but transactionally (ibid. (e)):
//  - a whole plan's bridge/port/bond/VLAN/tunnel/VIF steps become ONE ovs-vsctl transaction
//    (atomic in OVSDB: a failing command aborts the whole `--` chain), so a bond takes over its
//    members' ports in the same commit that deletes them: members are never set down, and the
//    31 s bond_updelay never hits the second member;
//  - then one `ip -batch` brings new bridge devices up and (re)applies addresses and the gateway
//    (the internal port's tap is recreated with its bridge, so its IP must be re-added);
//  - ovs-vsctl's exit code is not trusted: every touched Interface's `error`/`ofport` is checked,
//    and a write that timed out (rc 142, DB committed anyway) is judged by re-reading;
//  - on failure the state read before apply() is restored by one inverse plan, and BackendError
//    names the failing step.
// IpConfig and the exact Uplink (member order, XenAPI properties) are kept in external_ids of
// the bridge's / bond's OVSDB rows so read() returns exactly what was applied, while anything
// changed behind our back is read from the real columns instead.

import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverHost, type HostNetwork } from './hostnet.js';
import { BackendError, type Backend, type BondMode, type Bridge, type IpConfig, type NetState, type Nic, type Step, type Uplink } from './backend.js';

/** Runs one command with the given arguments, resolving to stdout, rejecting on a non-zero exit. */
export type Runner = (args: string[]) => Promise<string>;

/** The command runners and settings of an Open vSwitch backend. */
export interface OpenvswitchOptions {
  /** ovs-vsctl for this host's database (the sandbox's, or the system one). */
  vsctl: Runner;
  /** ovs-appctl -t ovs-vswitchd. */
  appctl: Runner;
  /** ip in the namespace whose NICs and bridge devices we manage. */
  ip: Runner;
  /** Only these devices are NICs (default: every ethernet/veth device that is not an OVS port device). */
  nics?: string[];
  /** datapath_type of every real bridge (default 'netdev': the userspace datapath; 'system' needs the kernel module). */
  datapathType?: string;
  /** VIF ports as OVS internal ports (default, no guests here) or as existing system devices. */
  vifType?: 'internal' | 'system';
  /** --timeout for every ovs-vsctl write, seconds (networkd uses 20). */
  timeoutSeconds?: number;
  /** discover(): where NIC drivers are read (the local host: /sys/class/net). */
  sysfs?: string;
  /** discover(): the resolv.conf whose nameservers are the management DNS (the local host: /etc/resolv.conf). */
  resolvConf?: string;
}

/** Invocation counters, for the benchmark. */
export interface OvsStats {
  vsctlCalls: number;
  vsctlWrites: number;
  appctlCalls: number;
  ipCalls: number;
}

interface RawPort {
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

interface RawIface {
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

interface RawDb {
  bridges: { name: string; ports: string[] }[];
  ports: Map<string, RawPort>;
  ifaces: Map<string, RawIface>;
}

const IP_KEY = 'xnd-ip';
const UPLINK_KEY = 'xnd-uplink';
const TRANSPORT_KEY = 'xnd-transport';
const VIF_RE = /^vif\d+\.\d+$/;

// ---------------------------------------------------------------- OVSDB JSON helpers

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function atom(v: Json): Json {
  return Array.isArray(v) && (v[0] === 'uuid' || v[0] === 'named-uuid') ? v[1] : v;
}
function toSet(v: Json): Json[] {
  if (Array.isArray(v) && v[0] === 'set') return (v[1] as Json[]).map(atom);
  return [atom(v)];
}
function toMap(v: Json): Record<string, string> {
  const out: Record<string, string> = {};
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
/** An OVSDB string atom, quoted for ovs-vsctl (JSON escapes are what ovs-vsctl parses). */
function q(s: string): string {
  return JSON.stringify(s);
}
function ovsMap(m: Record<string, string>): string {
  const keys = Object.keys(m).sort();
  return `{${keys.map((k) => `${q(k)}=${q(m[k])}`).join(',')}}`;
}

const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

// ---------------------------------------------------------------- IP helpers

function prefixOf(netmask: string): number {
  return netmask.split('.').reduce((n, o) => n + (Number(o) >>> 0).toString(2).split('').filter((c) => c === '1').length, 0);
}
function netmaskOf(prefix: number): string {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

// ---------------------------------------------------------------- bond mapping (ovs-backend.md (b))

interface BondRender {
  /** `set port <bond> ...` column assignments. */
  portCols: string[];
  /** per member `set interface <m> ...` assignments. */
  ifaceCols: Record<string, string[]>;
  /** what the OVSDB rows must hold; compared with the rows on read(). */
  canonical: string;
}

const KNOWN_BOND_KEYS = new Set([
  'hashing_algorithm', 'hashing-algorithm', 'updelay', 'downdelay', 'miimon', 'use_carrier',
  'rebalance-interval', 'lacp-time', 'lacp-fallback-ab', 'lacp-aggregation-key', 'lacp-actor-key',
]);

/** The exact columns xcp-networkd's Ovs.make_bond_properties writes for nm.ml's bond properties. */
function renderBond(u: Extract<Uplink, { kind: 'bond' }>): BondRender {
  const p = u.properties;
  const lacp = u.mode === 'lacp';
  const hashing = p['hashing_algorithm'] ?? p['hashing-algorithm'] ?? '';
  const bondMode = lacp ? (hashing === 'src_mac' ? 'balance-slb' : 'balance-tcp') : u.mode;
  const intOr = (v: string | undefined, d: number) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : d);
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
  const memberOther: Record<string, string> = {};
  if (p['lacp-aggregation-key'] !== undefined) memberOther['lacp-aggregation-key'] = p['lacp-aggregation-key'];
  if (p['lacp-actor-key'] !== undefined) memberOther['lacp-actor-key'] = p['lacp-actor-key'];
  const portCols = [
    `lacp=${lacp ? 'active' : 'off'}`, `bond_mode=${bondMode}`, `bond_updelay=${updelay}`, `bond_downdelay=${downdelay}`,
    `other_config=${ovsMap(other)}`, `external_ids=${ovsMap({ [UPLINK_KEY]: JSON.stringify(u) })}`,
  ];
  if (u.mac) portCols.unshift(`mac=${q(u.mac)}`);
  const ifaceCols: Record<string, string[]> = {};
  for (const m of u.members) {
    ifaceCols[m] = Object.entries(memberOther).map(([k, v]) => `other_config:${q(k)}=${q(v)}`);
  }
  return {
    portCols,
    ifaceCols,
    canonical: canonicalBond(lacp ? 'active' : 'off', bondMode, updelay, downdelay, u.mac, other, u.members, memberOther),
  };
}

function canonicalBond(lacp: string, bondMode: string, up: number, down: number, mac: string, other: Record<string, string>,
  members: string[], memberOther: Record<string, string>): string {
  const sortObj = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify({ lacp, bondMode, up, down, mac: mac.toLowerCase(), other: sortObj(other), members: [...members].sort(natural), memberOther: sortObj(memberOther) });
}

// ---------------------------------------------------------------- the state model

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Canonical bridge object (fixed key order, no undefined keys). */
/** An uplink with its keys in one order, so states compare as JSON whatever built them. */
function canonUplink(u: Uplink): Uplink {
  switch (u.kind) {
    case 'nic': return { kind: 'nic', device: u.device };
    case 'bond': return { kind: 'bond', name: u.name, members: [...u.members], mode: u.mode, properties: Object.fromEntries(Object.entries(u.properties).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), mac: u.mac };
    case 'tunnel': return { kind: 'tunnel', name: u.name, protocol: u.protocol, remote: u.remote, key: u.key, transport: u.transport };
  }
}

function mkBridge(b: Bridge): Bridge {
  const out: Bridge = { name: b.name, MTU: b.MTU, vifs: [...b.vifs].sort(natural) };
  if (b.vlan) out.vlan = { parent: b.vlan.parent, tag: b.vlan.tag };
  if (b.uplink) out.uplink = canonUplink(b.uplink);
  if (b.ip) out.ip = { mode: b.ip.mode, address: b.ip.address, netmask: b.ip.netmask, gateway: b.ip.gateway, dns: b.ip.dns };
  const ordered: Bridge = { name: out.name, MTU: out.MTU } as Bridge;
  if (out.vlan) ordered.vlan = out.vlan;
  if (out.uplink) ordered.uplink = out.uplink;
  if (out.ip) ordered.ip = out.ip;
  ordered.vifs = out.vifs;
  return ordered;
}

function mkState(bridges: Bridge[]): NetState {
  const out: NetState = { bridges: {} };
  for (const b of [...bridges].sort((x, y) => natural(x.name, y.name))) out.bridges[b.name] = mkBridge(b);
  return out;
}

/** What OVS itself holds (no IPs): the part of the state one ovs-vsctl transaction decides. */
function ovsPart(s: NetState): string {
  return JSON.stringify(mkState(Object.values(s.bridges).map((b) => ({ ...b, ip: undefined }))));
}

/** The state after one step, as OVS will have it (del-br of a parent also removes its VLAN bridges). */
function simulate(state: NetState, step: Step): NetState {
  const s = clone(state);
  const b = s.bridges[step.bridge];
  switch (step.op) {
    case 'bridge.add':
      s.bridges[step.bridge] = mkBridge({ name: step.bridge, MTU: step.MTU, vlan: step.vlan, vifs: [] });
      break;
    case 'bridge.del':
      delete s.bridges[step.bridge];
      for (const [n, c] of Object.entries(s.bridges)) if (c.vlan?.parent === step.bridge) delete s.bridges[n];
      break;
    case 'uplink.add':
      if (b) b.uplink = clone(step.uplink);
      break;
    case 'uplink.del':
      if (b) delete b.uplink;
      break;
    case 'ip.set':
      if (b) b.ip = clone(step.ip);
      break;
    case 'ip.clear':
      if (b) delete b.ip;
      break;
    case 'vif.add':
      if (b && !b.vifs.includes(step.vif)) b.vifs = [...b.vifs, step.vif].sort(natural);
      break;
    case 'vif.del':
      if (b) b.vifs = b.vifs.filter((v) => v !== step.vif);
      break;
  }
  return mkState(Object.values(s.bridges));
}

/** A plan taking `actual` to `desired` (used to restore the pre-apply state after a failure). */
function restorePlan(actual: NetState, desired: NetState): Step[] {
  const A = actual.bridges;
  const D = desired.bridges;
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  const removed = new Set<string>();
  for (const n of Object.keys(A)) {
    if (!D[n] || A[n].MTU !== D[n].MTU || !same(A[n].vlan, D[n].vlan)) removed.add(n);
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const [n, b] of Object.entries(A)) {
      if (b.vlan && removed.has(b.vlan.parent) && !removed.has(n)) {
        removed.add(n);
        grew = true;
      }
    }
  }
  const added = new Set(Object.keys(D).filter((n) => !A[n] || removed.has(n)));
  const depth = (s: Record<string, Bridge>, n: string): number => (s[n]?.vlan ? 1 + depth(s, s[n].vlan!.parent) : 0);
  const teardown: Step[] = [];
  const dels: Step[] = [];
  for (const n of Object.keys(A).sort((x, y) => depth(A, y) - depth(A, x) || natural(x, y))) {
    const a = A[n];
    const d = D[n];
    const gone = removed.has(n);
    if (a.ip && (gone || !same(a.ip, d.ip))) teardown.push({ op: 'ip.clear', bridge: n, ip: a.ip });
    for (const v of a.vifs) if (gone || !d.vifs.includes(v)) teardown.push({ op: 'vif.del', bridge: n, vif: v });
    if (a.uplink && (gone || !same(a.uplink, d.uplink))) teardown.push({ op: 'uplink.del', bridge: n, uplink: a.uplink });
    if (gone) dels.push({ op: 'bridge.del', bridge: n, MTU: a.MTU, ...(a.vlan ? { vlan: a.vlan } : {}) });
  }
  const adds: Step[] = [];
  const build: Step[] = [];
  for (const n of Object.keys(D).sort((x, y) => depth(D, x) - depth(D, y) || natural(x, y))) {
    const d = D[n];
    const a = added.has(n) ? undefined : A[n];
    if (!a) adds.push({ op: 'bridge.add', bridge: n, MTU: d.MTU, ...(d.vlan ? { vlan: d.vlan } : {}) });
    if (d.uplink && (!a || !same(a.uplink, d.uplink))) build.push({ op: 'uplink.add', bridge: n, uplink: d.uplink });
    for (const v of d.vifs) if (!a || !a.vifs.includes(v)) build.push({ op: 'vif.add', bridge: n, vif: v });
    if (d.ip && (!a || !same(a.ip, d.ip))) build.push({ op: 'ip.set', bridge: n, ip: d.ip });
  }
  return [...teardown, ...dels, ...adds, ...build];
}

function errText(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as { stderr?: unknown; shortMessage?: unknown; message?: unknown };
    const parts = [o.stderr, o.shortMessage ?? o.message].filter((x) => typeof x === 'string' && x.trim() !== '');
    if (parts.length) return parts.join(': ').trim();
  }
  return String(e);
}

function isTimeout(e: unknown): boolean {
  const o = e as { signal?: unknown; exitCode?: unknown };
  return o?.signal === 'SIGALRM' || o?.exitCode === 142 || /SIGALRM|Alarm clock|timed out/i.test(errText(e));
}

// ---------------------------------------------------------------- rendering a plan

interface Rendered {
  /** ovs-vsctl argv of each transaction: one, or two when an LACP bond's members are re-used (empty: nothing to do). */
  vsctl: string[][];
  /** step index of each `--` command, in order (to map an ovs-vsctl error back to a step). */
  cmdStep: number[];
  /** the words of each command (for that mapping). */
  cmdWords: string[][];
  /** Interfaces that must come up with no error and a valid ofport, with the step that made them. */
  touched: Map<string, number>;
  /** `ip -batch` lines and the step each line belongs to. */
  ipLines: string[];
  ipStep: number[];
  /** NICs to bring up before the transaction (never down: no updelay). */
  nicsUp: string[];
  target: NetState;
}

// ---------------------------------------------------------------- the backend

/** The openvswitch backend; see the header comment for how it applies a plan. */
export class OpenvswitchBackend implements Backend {
  readonly name = 'openvswitch';
  readonly stats: OvsStats = { vsctlCalls: 0, vsctlWrites: 0, appctlCalls: 0, ipCalls: 0 };
  private readonly o: Required<Omit<OpenvswitchOptions, 'nics' | 'sysfs' | 'resolvConf'>> & Pick<OpenvswitchOptions, 'nics' | 'sysfs' | 'resolvConf'>;

  constructor(opts: OpenvswitchOptions) {
    this.o = { datapathType: 'netdev', vifType: 'internal', timeoutSeconds: 20, ...opts };
  }

  /** A backend for the local host's system OVS and root netns (execa runners). */
  static local(opts: Partial<OpenvswitchOptions> = {}): OpenvswitchBackend {
    const runner = (cmd: string): Runner => async (args) => (await execa(cmd, args, { stdin: 'ignore' })).stdout;
    return new OpenvswitchBackend({
      vsctl: runner('ovs-vsctl'),
      appctl: async (args) => (await execa('ovs-appctl', ['-t', 'ovs-vswitchd', ...args], { stdin: 'ignore' })).stdout,
      ip: runner('ip'),
      sysfs: '/sys/class/net',
      resolvConf: '/etc/resolv.conf',
      ...opts,
    });
  }

  private async vsctl(args: string[], write = false): Promise<string> {
    this.stats.vsctlCalls++;
    if (write) this.stats.vsctlWrites++;
    return this.o.vsctl(args);
  }

  private async ip(args: string[]): Promise<string> {
    this.stats.ipCalls++;
    return this.o.ip(args);
  }

  async nics(): Promise<Nic[]> {
    const links = JSON.parse((await this.ip(['-j', '-d', 'link', 'show'])) || '[]') as {
      ifname: string; address?: string; mtu: number; flags: string[]; link_type?: string; linkinfo?: { info_kind?: string };
    }[];
    const allow = this.o.nics ? new Set(this.o.nics) : undefined;
    return links
      .filter((l) => l.link_type === 'ether' && l.ifname !== 'lo')
      .filter((l) => (allow ? allow.has(l.ifname) : (l.linkinfo?.info_kind === undefined || l.linkinfo.info_kind === 'veth')))
      .filter((l) => allow || !(VIF_RE.test(l.ifname) || l.ifname.startsWith('ovs-')))
      .map((l) => ({ device: l.ifname, MAC: l.address ?? '', MTU: l.mtu, carrier: l.flags.includes('LOWER_UP') }))
      .sort((a, b) => natural(a.device, b.device));
  }

  /** The host as found: NICs (drivers from `sysfs` when set), foreign devices, the default-route interface. */
  async discover(): Promise<HostNetwork> {
    return discoverHost((a) => this.ip(a), { nics: await this.nics(), sysfs: this.o.sysfs, resolvConf: this.o.resolvConf, state: await this.read() });
  }

  /** Bridge, Port and Interface in one read-only ovs-vsctl call. */
  private async readDb(): Promise<RawDb> {
    const out = await this.vsctl([
      `--timeout=${this.o.timeoutSeconds}`, '--format=json',
      '--', '--columns=name,ports', 'list', 'Bridge',
      '--', '--columns=_uuid,name,interfaces,tag,fake_bridge,bond_mode,lacp,bond_updelay,bond_downdelay,mac,other_config,external_ids', 'list', 'Port',
      '--', '--columns=_uuid,name,type,options,other_config,external_ids,mtu,mtu_request,error,ofport', 'list', 'Interface',
    ]);
    const [bt, pt, it] = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { headings: string[]; data: Json[][] });
    const bridges = rows(bt).map((r) => ({ name: String(r.name), ports: toSet(r.ports).map(String) }));
    const ports = new Map<string, RawPort>();
    for (const r of rows(pt)) {
      const uuid = String(atom(r._uuid));
      ports.set(uuid, {
        uuid, name: String(r.name), interfaces: toSet(r.interfaces).map(String), tag: optNum(r.tag), fakeBridge: r.fake_bridge === true,
        bondMode: optStr(r.bond_mode), lacp: optStr(r.lacp), updelay: Number(r.bond_updelay ?? 0), downdelay: Number(r.bond_downdelay ?? 0),
        mac: optStr(r.mac), otherConfig: toMap(r.other_config), externalIds: toMap(r.external_ids),
      });
    }
    const ifaces = new Map<string, RawIface>();
    for (const r of rows(it)) {
      const uuid = String(atom(r._uuid));
      ifaces.set(uuid, {
        uuid, name: String(r.name), type: String(r.type ?? ''), options: toMap(r.options), otherConfig: toMap(r.other_config),
        externalIds: toMap(r.external_ids), mtu: optNum(r.mtu), mtuRequest: optNum(r.mtu_request), error: optStr(r.error), ofport: optNum(r.ofport),
      });
    }
    return { bridges, ports, ifaces };
  }

  /** The OVS part of the state (ip left as stored in external_ids; read() checks it against the kernel). */
  private stateOf(db: RawDb): { state: NetState; storedIp: Map<string, IpConfig> } {
    const byName = new Map([...db.ifaces.values()].map((i) => [i.name, i]));
    const storedIp = new Map<string, IpConfig>();
    const out: Bridge[] = [];
    for (const br of db.bridges) {
      const ports = br.ports.map((u) => db.ports.get(u)).filter((p): p is RawPort => !!p);
      const fakes = ports.filter((p) => p.fakeBridge && p.tag !== undefined);
      const made = new Map<string, Bridge>();
      const mk = (name: string, vlan?: { parent: string; tag: number }) => {
        const self = byName.get(name);
        const b: Bridge = { name, MTU: self?.mtuRequest ?? self?.mtu ?? 1500, vifs: [] };
        if (vlan) b.vlan = vlan;
        const ip = self?.externalIds[IP_KEY];
        if (ip) {
          try {
            storedIp.set(name, JSON.parse(ip) as IpConfig);
          } catch {
            /* not ours: ignored */
          }
        }
        made.set(name, b);
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
        const uplink = this.uplinkOf(p, ifs);
        if (uplink && !owner.uplink) owner.uplink = uplink;
      }
      out.push(...made.values());
    }
    return { state: mkState(out), storedIp };
  }

  /** A Port as an Uplink: the stored one when the rows still say exactly that, else mapped back from the columns. */
  private uplinkOf(p: RawPort, ifs: RawIface[]): Uplink | undefined {
    if (ifs.length === 1 && (ifs[0].type === 'gre' || ifs[0].type === 'vxlan')) {
      const i = ifs[0];
      return { kind: 'tunnel', name: p.name, protocol: i.type as 'gre' | 'vxlan', remote: i.options.remote_ip ?? '', key: i.options.key ?? '', transport: i.externalIds[TRANSPORT_KEY] ?? '' };
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
      if (k.startsWith('bond-') && !['bond-miimon-interval', 'bond-detect-mode', 'bond-rebalance-interval', 'bond-lacp-actor-key'].includes(k)) {
        properties[k.slice(5)] = v;
      }
    }
    return { kind: 'bond', name: p.name, members, mode, properties, mac: p.mac };
  }

  async read(): Promise<NetState> {
    const db = await this.readDb();
    const { state, storedIp } = this.stateOf(db);
    return this.withIps(state, storedIp);
  }

  /** Adds each bridge's IpConfig: the stored one while the device still carries it, else what the kernel has. */
  private async withIps(state: NetState, storedIp: Map<string, IpConfig>): Promise<NetState> {
    const names = new Set(Object.keys(state.bridges));
    if (names.size === 0) return state;
    const addrs = JSON.parse((await this.ip(['-j', '-4', 'addr', 'show'])) || '[]') as { ifname: string; addr_info?: { family?: string; local: string; prefixlen: number }[] }[];
    let routes: { dst: string; gateway?: string; dev?: string }[] | undefined;
    for (const a of addrs) {
      if (!names.has(a.ifname)) continue;
      const inet = (a.addr_info ?? []).filter((x) => x.family === undefined || x.family === 'inet');
      const stored = storedIp.get(a.ifname);
      const b = state.bridges[a.ifname];
      if (stored && (stored.mode === 'DHCP' || inet.some((x) => x.local === stored.address && x.prefixlen === prefixOf(stored.netmask)))) {
        b.ip = stored;
      } else if (inet.length) {
        routes ??= JSON.parse((await this.ip(['-j', '-4', 'route', 'show', 'default'])) || '[]') as { dst: string; gateway?: string; dev?: string }[];
        const gw = routes.find((r) => r.dev === a.ifname)?.gateway ?? '';
        b.ip = { mode: 'Static', address: inet[0].local, netmask: netmaskOf(inet[0].prefixlen), gateway: gw, dns: '' };
      }
    }
    for (const [n, ip] of storedIp) if (ip.mode === 'DHCP' && state.bridges[n] && !state.bridges[n].ip) state.bridges[n].ip = ip;
    return mkState(Object.values(state.bridges));
  }

  async bondLinksUp(bond: string): Promise<number> {
    this.stats.appctlCalls++;
    const out = await this.o.appctl(['bond/show', bond]);
    return out.split('\n').filter((l) => /^member \S+: enabled\b/.test(l.trim())).length;
  }

  async close(): Promise<void> {
    /* no processes or handles held: every call is a short-lived command */
  }

  /** Turns a plan into one ovs-vsctl transaction plus one ip batch. */
  private render(before: NetState, plan: Step[], nicMacs: Map<string, string>): Rendered {
    const cmds: string[][] = [];
    const cmdStep: number[] = [];
    const touched = new Map<string, number>();
    const nicsUp = new Set<string>();
    const recreated = new Map<string, number>();
    const ipOps: { step: number; bridge: string; kind: 'set' | 'clear'; ip: IpConfig }[] = [];
    const inPlace = new Set<number>();
    const barriers = new Set<number>();
    let s = before;
    const add = (i: number, ...words: string[]) => {
      cmds.push(words);
      cmdStep.push(i);
    };
    plan.forEach((st, i) => {
      const cur = s.bridges[st.bridge];
      const next = simulate(s, st);
      switch (st.op) {
        case 'bridge.add':
          if (st.vlan) add(i, '--may-exist', 'add-br', st.bridge, st.vlan.parent, String(st.vlan.tag));
          else {
            add(i, '--may-exist', 'add-br', st.bridge);
            add(i, 'set', 'bridge', st.bridge, `datapath_type=${this.o.datapathType}`, 'fail_mode=standalone');
          }
          add(i, 'set', 'interface', st.bridge, `mtu_request=${st.MTU}`);
          touched.set(st.bridge, i);
          recreated.set(st.bridge, i);
          break;
        case 'bridge.del':
          add(i, '--if-exists', 'del-br', st.bridge);
          for (const n of Object.keys(s.bridges)) if (!next.bridges[n]) recreated.set(n, i);
          break;
        case 'uplink.add': {
          const u = st.uplink;
          const mtu = cur?.MTU;
          // The bridge device takes its uplink's MAC (xapi's bridge_mac), as networkd's other-config:hwaddr:
          // peers' ARP caches stay valid when the management IP moves to a new bridge.
          const hwaddr = u.kind === 'nic' ? nicMacs.get(u.device) : u.kind === 'bond' ? u.mac : undefined;
          if (hwaddr && cur && !cur.vlan) add(i, 'set', 'bridge', st.bridge, `other_config:hwaddr=${q(hwaddr.toLowerCase())}`);
          if (u.kind === 'nic') {
            add(i, '--may-exist', 'add-port', st.bridge, u.device);
            if (mtu) add(i, 'set', 'interface', u.device, `mtu_request=${mtu}`);
            touched.set(u.device, i);
            nicsUp.add(u.device);
          } else if (u.kind === 'bond') {
            const r = renderBond(u);
            if (inPlace.has(i)) {
              // Same bond, same members: rewrite its columns (whole maps, so no stale keys survive) and
              // keep the Interfaces, so no member is re-opened and none waits for bond_updelay.
              for (const m of u.members) add(i, 'remove', 'interface', m, 'other_config', 'lacp-aggregation-key', 'lacp-actor-key');
            } else if (u.members.length >= 2) add(i, '--may-exist', 'add-bond', st.bridge, u.name, ...u.members);
            else {
              const m = u.members[0] ?? u.name;
              add(i, `--id=@if${i}`, 'create', 'interface', `name=${q(m)}`);
              add(i, `--id=@p${i}`, 'create', 'port', `name=${q(u.name)}`, `interfaces=@if${i}`);
              add(i, 'add', 'bridge', st.bridge, 'ports', `@p${i}`);
            }
            add(i, 'set', 'port', u.name, ...r.portCols);
            for (const m of u.members) {
              const cols = [...r.ifaceCols[m], ...(mtu ? [`mtu_request=${mtu}`] : [])];
              if (cols.length) add(i, 'set', 'interface', m, ...cols);
              touched.set(m, i);
              nicsUp.add(m);
            }
          } else {
            add(i, '--may-exist', 'add-port', st.bridge, u.name);
            add(i, 'set', 'interface', u.name, `type=${u.protocol}`, `options=${ovsMap({ remote_ip: u.remote, ...(u.key ? { key: u.key } : {}) })}`,
              `external_ids=${ovsMap({ [TRANSPORT_KEY]: u.transport })}`);
            touched.set(u.name, i);
          }
          break;
        }
        case 'uplink.del': {
          const again = this.inPlaceBondChange(plan, i);
          if (again !== undefined) inPlace.add(again);
          else add(i, '--if-exists', 'del-port', st.bridge, st.uplink.kind === 'nic' ? st.uplink.device : st.uplink.name);
          // A member LACP disabled stays may_enable=false when re-added in the same transaction
          // (ovs-backend.md (d) 3): commit the removal of an LACP bond before its NICs are used again.
          const old = st.uplink;
          if (again === undefined && old.kind === 'bond' && old.mode === 'lacp' &&
            plan.slice(i + 1).some((n) => n.op === 'uplink.add' && (n.uplink.kind === 'nic' ? [n.uplink.device] : n.uplink.kind === 'bond' ? n.uplink.members : []).some((m) => old.members.includes(m)))) {
            barriers.add(cmds.length);
          }
          break;
        }
        case 'vif.add':
          add(i, '--may-exist', 'add-port', st.bridge, st.vif);
          if (this.o.vifType === 'internal') add(i, 'set', 'interface', st.vif, 'type=internal');
          touched.set(st.vif, i);
          break;
        case 'vif.del':
          add(i, '--if-exists', 'del-port', st.bridge, st.vif);
          break;
        case 'ip.set':
          if (cur) add(i, 'set', 'interface', st.bridge, `external_ids:${IP_KEY}=${q(JSON.stringify(st.ip))}`);
          ipOps.push({ step: i, bridge: st.bridge, kind: 'set', ip: st.ip });
          break;
        case 'ip.clear':
          if (cur) add(i, 'remove', 'interface', st.bridge, 'external_ids', IP_KEY);
          ipOps.push({ step: i, bridge: st.bridge, kind: 'clear', ip: st.ip });
          break;
      }
      s = next;
    });
    const target = s;

    // The ip batch: against the final devices only. A recreated bridge device is new (no IP, down).
    const ipLines: string[] = [];
    const ipStep: number[] = [];
    const line = (i: number, l: string) => {
      ipLines.push(l);
      ipStep.push(i);
    };
    for (const [n, i] of recreated) if (target.bridges[n]) line(i, `link set dev ${n} up`);
    const ipDone = new Set<string>();
    for (const op of ipOps) {
      const b = target.bridges[op.bridge];
      if (!b) continue;
      const fresh = recreated.has(op.bridge);
      if (op.kind === 'clear') {
        if (!fresh && op.ip.mode === 'Static' && op.ip.address) line(op.step, `addr del ${op.ip.address}/${prefixOf(op.ip.netmask)} dev ${op.bridge}`); // ip -batch lines take no options (-4)
      } else {
        ipDone.add(op.bridge);
        if (op.ip.mode === 'Static' && op.ip.address) {
          line(op.step, `addr replace ${op.ip.address}/${prefixOf(op.ip.netmask)} dev ${op.bridge}`);
          if (op.ip.gateway) line(op.step, `route replace default via ${op.ip.gateway} dev ${op.bridge}`);
        }
      }
    }
    for (const [n, i] of recreated) {
      const ip = target.bridges[n]?.ip;
      if (ip && !ipDone.has(n) && ip.mode === 'Static' && ip.address) {
        line(i, `addr replace ${ip.address}/${prefixOf(ip.netmask)} dev ${n}`);
        if (ip.gateway) line(i, `route replace default via ${ip.gateway} dev ${n}`);
      }
    }
    const cuts = [0, ...[...barriers].filter((b) => b > 0 && b < cmds.length).sort((x, y) => x - y), cmds.length];
    const vsctl: string[][] = [];
    for (let k = 0; k + 1 < cuts.length; k++) {
      const part = cmds.slice(cuts[k], cuts[k + 1]);
      if (part.length) vsctl.push([`--timeout=${this.o.timeoutSeconds}`, ...part.flatMap((c) => ['--', ...c])]);
    }
    return { vsctl, cmdStep, cmdWords: cmds, touched, ipLines, ipStep, nicsUp: [...nicsUp], target };
  }

  async apply(plan: Step[]): Promise<void> {
    if (plan.length === 0) return;
    const db0 = await this.readDb();
    const s0 = this.stateOf(db0);
    const before = await this.withIps(clone(s0.state), s0.storedIp);
    try {
      await this.execute(before, plan);
    } catch (e) {
      const err = e instanceof BackendError ? e : new BackendError(0, errText(e));
      if ((e as { nothingApplied?: boolean }).nothingApplied) throw err;
      try {
        const now = await this.read();
        const undo = restorePlan(now, before);
        if (undo.length) await this.execute(now, undo);
      } catch (re) {
        throw new BackendError(err.step, `${err.message}; restoring the previous state also failed: ${errText(re)}`);
      }
      throw err;
    }
  }

  /** Runs one rendered plan; throws BackendError (flagged nothingApplied when OVSDB refused the transaction). */
  private async execute(before: NetState, plan: Step[]): Promise<void> {
    const needMacs = plan.some((st) => st.op === 'uplink.add' && st.uplink.kind === 'nic');
    const nicMacs = new Map(needMacs ? (await this.nics()).map((n) => [n.device, n.MAC] as const) : []);
    const r = this.render(before, plan, nicMacs);
    if (r.nicsUp.length) {
      const failed = await this.ipBatch(r.nicsUp.map((n) => `link set dev ${n} up`));
      if (failed) {
        const n = r.nicsUp[failed.line];
        throw Object.assign(new BackendError(r.touched.get(n) ?? 0, `${n}: ${failed.text}`), { nothingApplied: true });
      }
    }
    if (r.vsctl.length) {
      let timedOut = false;
      for (const [k, argv] of r.vsctl.entries()) {
        try {
          await this.vsctl(argv, true);
        } catch (e) {
          if (!isTimeout(e)) {
            const err = new BackendError(this.stepOfVsctlError(r, errText(e)), `ovs-vsctl: ${errText(e)}`);
            throw k === 0 ? Object.assign(err, { nothingApplied: true }) : err;
          }
          timedOut = true;
        }
      }
      await this.verify(before, r, timedOut && r.vsctl.length === 1);
    }
    const failed = await this.ipBatch(r.ipLines);
    if (failed) throw new BackendError(r.ipStep[failed.line] ?? r.ipStep[0], `ip: ${failed.text}`);
  }

  /** Runs `ip -batch` (stops at the first failing line); resolves to that line's index and the error, if any. */
  private async ipBatch(lines: string[]): Promise<{ line: number; text: string } | undefined> {
    if (lines.length === 0) return undefined;
    const dir = await mkdtemp(join(tmpdir(), 'xnd-ip-'));
    const file = join(dir, 'batch');
    try {
      await writeFile(file, lines.join('\n') + '\n');
      await this.ip(['-batch', file]);
      return undefined;
    } catch (e) {
      const text = errText(e);
      const m = /Command failed \S*:(\d+)/.exec(text);
      return { line: m ? Number(m[1]) - 1 : 0, text };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** After the write: the DB must hold the target and every touched Interface must be up in vswitchd. */
  private async verify(before: NetState, r: Rendered, timedOut: boolean): Promise<void> {
    const deadline = Date.now() + this.o.timeoutSeconds * 1000;
    for (;;) {
      const db = await this.readDb();
      const now = this.stateOf(db).state;
      if (ovsPart(now) !== ovsPart(r.target)) {
        if (timedOut && ovsPart(now) === ovsPart(before)) {
          throw Object.assign(new BackendError(0, 'ovs-vsctl timed out and the transaction was not committed'), { nothingApplied: true });
        }
        const bad = Object.keys({ ...now.bridges, ...r.target.bridges }).find(
          (n) => JSON.stringify(now.bridges[n] && { ...now.bridges[n], ip: undefined }) !== JSON.stringify(r.target.bridges[n] && { ...r.target.bridges[n], ip: undefined }),
        );
        const idx = Math.max(0, r.cmdStep[r.cmdWords.findIndex((w) => w.includes(bad ?? ''))] ?? 0);
        throw new BackendError(idx, `OVSDB does not hold the planned state for bridge ${bad}`);
      }
      const byName = new Map([...db.ifaces.values()].map((i) => [i.name, i]));
      let pending = false;
      for (const [name, idx] of r.touched) {
        const i = byName.get(name);
        if (!i) throw new BackendError(idx, `interface ${name} is missing from OVSDB`);
        if (i.error) throw new BackendError(idx, `interface ${name}: ${i.error}`);
        if (i.ofport === -1) throw new BackendError(idx, `interface ${name} has no OpenFlow port (ofport -1)`);
        if (i.ofport === undefined) pending = true;
      }
      if (!pending) return;
      if (Date.now() > deadline) {
        const name = [...r.touched.keys()].find((n) => byName.get(n)?.ofport === undefined)!;
        throw new BackendError(r.touched.get(name)!, `interface ${name} was not set up by ovs-vswitchd in ${this.o.timeoutSeconds} s`);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /**
   * For an uplink.del of a bond at `i`: the index of a later uplink.add of the same bond (name, bridge,
   * member set) with nothing in between touching that bridge, so the change can be made in place.
   * Not from LACP to another mode: a member LACP disabled keeps may_enable=false until it is re-added
   * (ovs-backend.md (d) 3).
   */
  private inPlaceBondChange(plan: Step[], i: number): number | undefined {
    const del = plan[i];
    if (del.op !== 'uplink.del' || del.uplink.kind !== 'bond') return undefined;
    const old = del.uplink;
    for (let j = i + 1; j < plan.length; j++) {
      const st = plan[j];
      if (st.bridge !== del.bridge || st.op.startsWith('ip.') || st.op.startsWith('vif.')) continue;
      if (st.op !== 'uplink.add') return undefined;
      const u = st.uplink;
      if (u.kind !== 'bond' || u.name !== old.name) return undefined;
      if ([...u.members].sort(natural).join() !== [...old.members].sort(natural).join()) return undefined;
      if (old.mode === 'lacp' && u.mode !== 'lacp') return undefined;
      return j;
    }
    return undefined;
  }

  /** The step whose command an ovs-vsctl error names (by the device/bridge words it quotes). */
  private stepOfVsctlError(r: Rendered, text: string): number {
    const words = new Set(text.split(/[^A-Za-z0-9_.:-]+/).filter((w) => w.length > 1));
    for (let c = 0; c < r.cmdWords.length; c++) {
      const cmd = r.cmdWords[c];
      const verb = cmd.find((w) => !w.startsWith('-'));
      if (verb && ['add-br', 'add-port', 'add-bond', 'del-br', 'del-port'].includes(verb) && cmd.slice(cmd.indexOf(verb) + 1).some((w) => words.has(w))) {
        return r.cmdStep[c];
      }
    }
    return r.cmdStep[0] ?? 0;
  }
}
