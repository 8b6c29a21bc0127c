// The one canonical form: values compared whatever order their keys were built in (plan.ts's
// normalize and diff, the OVS backend's verification, ifcfg's check of the files it wrote).
// The step semantics themselves are plan.ts's applyPlan. valueProblems is the value-type check of
// a state or plan (schema/values.ts) before any backend sees it.

import { isDnsList, isIfName, isIPv4, isMac, isMtu, isTunnelKey, isValid } from '../../schema/values.js';
import type { Bridge, IpConfig, NetState, Step, Uplink } from './backend.js';

/**
 * A bridges map (NetState.bridges) without a prototype, empty or a copy of `from`'s own entries.
 * Bridge names come from the host and from another daemon (a pool master's state): a name such
 * as `constructor` or `__proto__` must be a key like any other, and a name that is not there must
 * find nothing, not Object.prototype's member of that name.
 */
export function bridgeMap(from?: Readonly<Record<string, Bridge>>): Record<string, Bridge> {
  const m = Object.create(null) as Record<string, Bridge>;
  return from ? Object.assign(m, from) : m;
}

/** Deep copy with object keys sorted and undefined fields dropped (arrays keep their order); objects without a prototype (keys may come from another daemon: bond properties). */
export function canonical<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => canonical(x)) as T;
  if (v !== null && typeof v === 'object') {
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).sort()) if ((v as Record<string, unknown>)[k] !== undefined) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out as T;
  }
  return v;
}

/**
 * Structural equality (key order and undefined fields ignored), as comparing the JSON of the two
 * canonical copies, without making them: a diff of a 650-bridge state compares every bridge's
 * VLAN, uplink and IP, and the copies were most of a pool slave's diff.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    // Primitives: equal as JSON (NaN and Infinity are both null there; undefined only meets undefined above).
    return typeof a === 'number' && typeof b === 'number' ? !Number.isFinite(a) && !Number.isFinite(b) : false;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    // In arrays JSON writes undefined as null.
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i] === undefined ? null : a[i], bb[i] === undefined ? null : bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let n = 0;
  for (const k of Object.keys(ao)) {
    if (ao[k] === undefined) continue;
    n++;
    if (bo[k] === undefined || !Object.prototype.hasOwnProperty.call(bo, k) || !sameValue(ao[k], bo[k])) return false;
  }
  for (const k of Object.keys(bo)) if (bo[k] !== undefined) n--;
  return n === 0;
}

/** What a plan or state may hold before any backend sees it (schema/values.ts types); problems, empty when fine. */
export function valueProblems(bridges: readonly Bridge[] | NetState, extra: readonly Step[] = []): string[] {
  const out: string[] = [];
  const name = (what: string, v: unknown) => {
    if (!isIfName(v as string)) out.push(`${what} ${JSON.stringify(v)} is not a valid interface name`);
  };
  const mtu = (where: string, v: unknown) => {
    if (!isMtu(v)) out.push(`${where}: MTU ${JSON.stringify(v)} is out of range 68-65535`);
  };
  const vlan = (where: string, v: { parent: string; tag: number }) => {
    name(`${where}: VLAN parent`, v.parent);
    if (!Number.isInteger(v.tag) || v.tag < 0 || v.tag > 4094) out.push(`${where}: VLAN tag ${JSON.stringify(v.tag)} is out of range 0-4094`);
  };
  const mac = (where: string, m: unknown) => {
    if (typeof m !== 'string' || !isMac(m)) out.push(`${where}: MAC ${JSON.stringify(m)} is not valid`);
  };
  const uplink = (where: string, u: Uplink) => {
    switch (u?.kind) {
      case 'nic':
        name(`${where}: NIC`, u.device);
        break;
      case 'bond':
        name(`${where}: bond`, u.name);
        if (!Array.isArray(u.members)) out.push(`${where}: bond members are not a list`);
        else for (const m of u.members) name(`${where}: bond member`, m);
        if (u.mac !== '' && !isMac(u.mac)) out.push(`${where}: bond MAC ${JSON.stringify(u.mac)} is not valid`);
        if (!['balance-slb', 'active-backup', 'lacp'].includes(u.mode)) out.push(`${where}: bond mode ${JSON.stringify(u.mode)} is not valid`);
        for (const [k, v] of Object.entries(u.properties ?? {})) {
          if (!/^[A-Za-z0-9_-]{1,64}$/.test(k) || !/^[A-Za-z0-9_.:+-]{0,64}$/.test(String(v)))
            out.push(`${where}: bond property ${JSON.stringify(k)}=${JSON.stringify(v)} is not valid`);
        }
        break;
      case 'tunnel':
        name(`${where}: tunnel`, u.name);
        if (u.protocol !== 'gre' && u.protocol !== 'vxlan') out.push(`${where}: tunnel protocol ${JSON.stringify(u.protocol)} is not valid`);
        if (u.remote !== '' && !isIPv4(u.remote)) out.push(`${where}: tunnel remote ${JSON.stringify(u.remote)} is not an IPv4 address`);
        if (u.key !== '' && !isTunnelKey(u.key)) out.push(`${where}: tunnel key ${JSON.stringify(u.key)} is not valid`);
        if (u.transport !== '') name(`${where}: tunnel transport`, u.transport);
        break;
      default:
        out.push(`${where}: unknown uplink ${JSON.stringify(u)}`);
    }
  };
  const ip = (where: string, c: IpConfig) => {
    if (c.mode !== 'Static' && c.mode !== 'DHCP') out.push(`${where}: IP mode ${JSON.stringify(c.mode)} is not valid`);
    if (!isValid('ipv4', c.address)) out.push(`${where}: IP ${JSON.stringify(c.address)} is not an IPv4 address`);
    if (!isValid('netmask', c.netmask)) out.push(`${where}: netmask ${JSON.stringify(c.netmask)} is not valid`);
    if (!isValid('ipv4', c.gateway)) out.push(`${where}: gateway ${JSON.stringify(c.gateway)} is not an IPv4 address`);
    if (!isDnsList(c.dns)) out.push(`${where}: DNS ${JSON.stringify(c.dns)} is not a list of addresses`);
  };
  const vif = (where: string, v: unknown) => {
    if (typeof v !== 'string' || !/^vif\d{1,5}\.\d{1,4}$/.test(v)) out.push(`${where}: VIF ${JSON.stringify(v)} is not a vif<domid>.<device> name`);
  };
  // A state's bridges by key; a bridge without `name` or `vifs` takes its key and [] (as normalize does).
  const list: [string, Bridge][] = Array.isArray(bridges)
    ? bridges.map((b) => [b?.name, b] as [string, Bridge])
    : Object.entries((bridges as NetState)?.bridges ?? {});
  if (!Array.isArray(bridges) && (typeof (bridges as NetState)?.bridges !== 'object' || (bridges as NetState).bridges === null)) out.push('no bridges');
  for (const [key, b] of list) {
    if (!b || typeof b !== 'object') {
      out.push(`bridge ${JSON.stringify(key)} is not an object`);
      continue;
    }
    name('bridge', key);
    if (b.name !== undefined && b.name !== key) out.push(`bridge key ${JSON.stringify(key)} holds bridge named ${JSON.stringify(b.name)}`);
    const w = `bridge ${JSON.stringify(key)}`;
    mtu(w, b.MTU);
    if (b.vlan) vlan(w, b.vlan);
    if (b.mac !== undefined) mac(w, b.mac);
    if (b.uplink) uplink(w, b.uplink);
    if (b.ip) ip(w, b.ip);
    if (b.vifs !== undefined && !Array.isArray(b.vifs)) out.push(`${w}: vifs are not a list`);
    else for (const v of b.vifs ?? []) vif(w, v);
  }
  for (let i = 0; i < extra.length; i++) {
    const s = extra[i];
    // The step's name goes into its problems only once it has one (a 2,208-step plan built 2,208 names for nothing).
    const at = out.length;
    const w = STEP;
    name(w, s.bridge);
    switch (s.op) {
      case 'bridge.add':
      case 'bridge.del':
        mtu(w, s.MTU);
        if (s.vlan) vlan(w, s.vlan);
        if (s.mac !== undefined) mac(w, s.mac);
        break;
      case 'uplink.add':
      case 'uplink.del':
        uplink(w, s.uplink);
        break;
      case 'ip.set':
      case 'ip.clear':
        ip(w, s.ip);
        break;
      case 'vif.add':
      case 'vif.del':
        vif(w, s.vif);
        break;
      default:
        out.push(`${w}: unknown step`);
    }
    // Every problem of a step starts with its `where`.
    for (let k = at; k < out.length; k++) out[k] = `step ${i + 1} (${s.op} ${JSON.stringify(s.bridge)})${out[k].slice(STEP.length)}`;
  }
  return out;
}

/** Stands for a step's name in its problems until they are reported (valueProblems). */
const STEP = '\u0000step';
