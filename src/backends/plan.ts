// Plans: the language the reconciler and the backends share, so it lives with the backend
// interface (backends import nothing above src/backends). diff() turns the host's actual NetState into the desired
// one as an ordered list of Steps; every step has an exact inverse, and applyStep() is the reference
// semantics every backend must match (the simulated backend uses it directly).
//
// States are treated as immutable values. applyStep() shares untouched bridges with its input;
// applyPlan() and normalize() return states that share nothing with their input.

import type { Bridge, IpConfig, NetState, Step, Uplink } from './backend.js';
import { bridgeMap, canonical as canon, sameValue as same } from './state.js';
import { isVlanTagged } from '../../schema/values.js';

type Vlan = { parent: string; tag: number };

// ---------------------------------------------------------------------------------------------
// Canonical form and equality

// Bridges known to be in canonical form (made by normBridge, or by a VIF step from one): a VIF
// step on one of these only has to insert into or remove from its sorted VIF list.
const canonicalBridges = new WeakSet<Bridge>();

/** A copy of one bridge in canonical form and field order (name, MTU, vlan, mac, uplink, ip, vifs). */
function normBridge(key: string, b: Bridge): Bridge {
  const out = { name: b.name ?? key, MTU: b.MTU } as Bridge;
  if (b.vlan) out.vlan = { parent: b.vlan.parent, tag: b.vlan.tag };
  if (b.mac) out.mac = b.mac;
  if (b.uplink) out.uplink = canon(b.uplink);
  if (b.ip) out.ip = canon(b.ip);
  out.vifs = [...(b.vifs ?? [])].sort();
  canonicalBridges.add(out);
  return out;
}

/**
 * The bridges of `state` in canonical form with keys sorted, for reading only: a bridge already in
 * canonical form (a backend's read() made it with normBridge) is used as it is, not copied again.
 */
function canonicalView(state: NetState): Record<string, Bridge> {
  const bridges = bridgeMap();
  for (const key of Object.keys(state.bridges).sort()) {
    const b = state.bridges[key];
    bridges[key] = canonicalBridges.has(b) && b.name === key ? b : normBridge(key, b);
  }
  return bridges;
}

/**
 * `base` with the bridges of `set` put in and those named in `del` taken out, in canonical form
 * with keys sorted (a pool slave's state after a change its master sent as the bridges that
 * differ). Bridges already canonical (a normalized state's) are shared, not copied: the slave's
 * 650-bridge state changed by one VLAN copies one bridge.
 */
export function patchState(base: NetState, set: Record<string, Bridge>, del: readonly string[]): NetState {
  const merged: Record<string, Bridge> = bridgeMap(base.bridges);
  for (const name of del) delete merged[name];
  for (const name of Object.keys(set)) merged[name] = set[name];
  return { bridges: canonicalView({ bridges: merged }) };
}

/** A deep copy in canonical form: bridge keys sorted, vifs sorted, bond members kept in given order. */
export function normalize(state: NetState): NetState {
  const bridges = bridgeMap();
  for (const key of Object.keys(state.bridges).sort()) bridges[key] = normBridge(key, state.bridges[key]);
  return { bridges };
}

// ---------------------------------------------------------------------------------------------
// Human text

function uplinkText(u: Uplink): string {
  switch (u.kind) {
    case 'nic':
      return `NIC ${u.device}`;
    case 'bond': {
      const props = Object.keys(u.properties ?? {})
        .sort()
        .map((k) => ` ${k}=${u.properties[k]}`)
        .join('');
      return `bond ${u.name} (${u.members.join(',')} ${u.mode}${props})`;
    }
    case 'tunnel':
      return `tunnel ${u.name} (${u.protocol} to ${u.remote} key ${u.key} over ${u.transport})`;
  }
}

function ipText(ip: IpConfig): string {
  if (ip.mode === 'DHCP') return ip.address ? `IP DHCP ${ip.address}` : 'IP DHCP';
  const gw = ip.gateway ? ` gw ${ip.gateway}` : '';
  return `IP ${ip.address}/${ip.netmask}${gw}`;
}

function bridgeText(bridge: string, MTU: number, vlan?: Vlan, mac?: string): string {
  if (vlan) return `VLAN bridge ${bridge} (on ${vlan.parent} tag ${vlan.tag}, MTU ${MTU})`;
  return `bridge ${bridge} (MTU ${MTU}${mac ? `, MAC ${mac}` : ''})`;
}

/** One human line for a step, e.g. `bond bond0 (eth0,eth3 active-backup) → xapi1`; for dry runs and logs. */
export function describe(step: Step): string {
  switch (step.op) {
    case 'bridge.add':
      return `add ${bridgeText(step.bridge, step.MTU, step.vlan, step.mac)}`;
    case 'bridge.del':
      return `delete ${bridgeText(step.bridge, step.MTU, step.vlan, step.mac)}`;
    case 'uplink.add':
      return `${uplinkText(step.uplink)} → ${step.bridge}`;
    case 'uplink.del':
      return `remove ${uplinkText(step.uplink)} from ${step.bridge}`;
    case 'ip.set':
      return `${ipText(step.ip)} → ${step.bridge}`;
    case 'ip.clear':
      return `clear ${ipText(step.ip)} from ${step.bridge}`;
    case 'vif.add':
      return `VIF ${step.vif} → ${step.bridge}`;
    case 'vif.del':
      return `remove VIF ${step.vif} from ${step.bridge}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Inverse

/** The exact inverse of a step: applying step then invert(step) gives back the state before. */
export function invert(step: Step): Step {
  const s = canon(step) as Step;
  switch (s.op) {
    case 'bridge.add':
      return { ...s, op: 'bridge.del' };
    case 'bridge.del':
      return { ...s, op: 'bridge.add' };
    case 'uplink.add':
      return { ...s, op: 'uplink.del' };
    case 'uplink.del':
      return { ...s, op: 'uplink.add' };
    case 'ip.set':
      return { ...s, op: 'ip.clear' };
    case 'ip.clear':
      return { ...s, op: 'ip.set' };
    case 'vif.add':
      return { ...s, op: 'vif.del' };
    case 'vif.del':
      return { ...s, op: 'vif.add' };
  }
}

// ---------------------------------------------------------------------------------------------
// Step semantics

/** Host devices an uplink brings into existence or takes hold of (a NIC, a bond and its members, a tunnel port). */
export function uplinkDevices(u: Uplink): string[] {
  switch (u.kind) {
    case 'nic':
      return [u.device];
    case 'bond':
      return [u.name, ...u.members];
    case 'tunnel':
      return [u.name];
  }
}

// Device -> bridge whose uplink holds it, for one bridges object, built on first use and kept current
// by applyStepInPlace's put() (as the VIF index below): a pool slave's first state adds 650 bridges,
// and a scan of every bridge per step made that plan quadratic (120 ms of a slave's 380 ms apply).
const ownerIndexes = new WeakMap<Record<string, Bridge>, Map<string, string>>();

function ownerIndex(bridges: Record<string, Bridge>): Map<string, string> {
  let ix = ownerIndexes.get(bridges);
  if (!ix) {
    ix = new Map();
    for (const name in bridges) {
      const u = bridges[name].uplink;
      if (u) for (const dev of uplinkDevices(u)) ix.set(dev, name);
    }
    ownerIndexes.set(bridges, ix);
  }
  return ix;
}

// VLAN parent -> how many bridges are its VLAN children, for one bridges object, built on the first
// bridge.del that meets it and kept current by applyStepInPlace: a delete checked every bridge for
// children, 100 VLAN bridges re-created in a 110-bridge state made that a scan per delete.
const kidIndexes = new WeakMap<Record<string, Bridge>, Map<string, number>>();

function kidIndex(bridges: Record<string, Bridge>): Map<string, number> {
  let ix = kidIndexes.get(bridges);
  if (!ix) {
    ix = new Map();
    for (const name in bridges) {
      const p = bridges[name].vlan?.parent;
      if (p !== undefined) ix.set(p, (ix.get(p) ?? 0) + 1);
    }
    kidIndexes.set(bridges, ix);
  }
  return ix;
}

/** Keeps a built kid index current when a VLAN bridge on `parent` comes (+1) or goes (-1). */
function countKid(bridges: Record<string, Bridge>, parent: string | undefined, by: 1 | -1): void {
  const ix = kidIndexes.get(bridges);
  if (!ix || parent === undefined) return;
  const n = (ix.get(parent) ?? 0) + by;
  if (n > 0) ix.set(parent, n);
  else ix.delete(parent);
}

/** The bridge whose uplink holds each of the given devices. */
function deviceOwners(bridges: Record<string, Bridge>, devices: string[]): Map<string, string> {
  const ix = ownerIndex(bridges);
  const owners = new Map<string, string>();
  for (const dev of devices) {
    const o = ix.get(dev);
    if (o !== undefined) owners.set(dev, o);
  }
  return owners;
}

// VIF -> bridge for one bridges object, built on the first vif.add that meets it and kept current
// by applyStepInPlace, the only code that changes a state in place: a plan moving 1,000 VIFs would
// otherwise scan every bridge's VIF list at each step.
const vifIndexes = new WeakMap<Record<string, Bridge>, Map<string, string>>();

function vifIndex(bridges: Record<string, Bridge>): Map<string, string> {
  let ix = vifIndexes.get(bridges);
  if (!ix) {
    ix = new Map();
    for (const name in bridges) for (const v of bridges[name].vifs) ix.set(v, name);
    vifIndexes.set(bridges, ix);
  }
  return ix;
}

/** Where `v` goes in the sorted list `xs` (binary search). */
function sortedIndex(xs: readonly string[], v: string): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function uplinkProblem(u: Uplink): string | undefined {
  if (u.kind === 'bond') {
    if (u.members.length === 0) return `bond ${u.name} has no members`;
    if (new Set(u.members).size !== u.members.length) return `bond ${u.name} lists a member twice`;
    if (u.members.includes(u.name)) return `bond ${u.name} lists itself as a member`;
  }
  return undefined;
}

function vlanProblem(bridges: Record<string, Bridge>, name: string, vlan: Vlan): string | undefined {
  const parent = bridges[vlan.parent];
  if (!parent) return `VLAN parent ${vlan.parent} does not exist`;
  if (vlan.parent === name) return `bridge ${name} cannot be its own VLAN parent`;
  if (parent.vlan) return `VLAN parent ${vlan.parent} is itself a VLAN bridge`;
  if (!isVlanTagged(vlan.tag)) return `VLAN tag ${vlan.tag} is out of range 0-4094`;
  return undefined;
}

function fail(step: Step, reason: string): never {
  throw new Error(`cannot apply ${step.op} "${describe(step)}": ${reason}`);
}

/**
 * Applies one step to `state.bridges` in place by replacing or removing the touched bridge; throws
 * naming the step, changing nothing, if it does not fit. Bridge objects are not mutated, except
 * those in `owned`: bridges the caller's own copy made and nobody else holds, whose VIF list a VIF
 * step may change in place (a plan moving 1,000 VIFs would otherwise copy a bridge per step).
 * A bridge a VIF step copies joins `owned`.
 */
export function applyStepInPlace(state: NetState, step: Step, owned?: Set<Bridge>): void {
  const bridges = state.bridges;
  const cur = bridges[step.bridge];
  const put = (b: Bridge): void => {
    const ix = ownerIndexes.get(bridges);
    if (ix) {
      const old = bridges[b.name]?.uplink;
      if (old) for (const dev of uplinkDevices(old)) if (ix.get(dev) === b.name) ix.delete(dev);
      if (b.uplink) for (const dev of uplinkDevices(b.uplink)) ix.set(dev, b.name);
    }
    countKid(bridges, bridges[b.name]?.vlan?.parent, -1);
    countKid(bridges, b.vlan?.parent, 1);
    bridges[b.name] = normBridge(b.name, b);
  };

  if (step.op === 'bridge.add') {
    if (cur) fail(step, `bridge ${step.bridge} already exists`);
    if (!Number.isInteger(step.MTU) || step.MTU <= 0) fail(step, `MTU ${step.MTU} is not a positive integer`);
    if (step.vlan) {
      const p = vlanProblem(bridges, step.bridge, step.vlan);
      if (p) fail(step, p);
    }
    const owner = deviceOwners(bridges, [step.bridge]).get(step.bridge);
    if (owner) fail(step, `${step.bridge} is already a device of bridge ${owner}`);
    return put({ name: step.bridge, MTU: step.MTU, vlan: step.vlan, mac: step.mac, vifs: [] });
  }

  if (!cur) fail(step, `bridge ${step.bridge} does not exist`);

  switch (step.op) {
    case 'bridge.del': {
      if (cur.MTU !== step.MTU) fail(step, `bridge ${step.bridge} has MTU ${cur.MTU}, not ${step.MTU}`);
      if (!same(cur.vlan ?? null, step.vlan ?? null)) fail(step, `bridge ${step.bridge} has a different VLAN setting`);
      if ((cur.mac ?? '') !== (step.mac ?? '')) fail(step, `bridge ${step.bridge} has a different MAC`);
      if (cur.uplink) fail(step, `bridge ${step.bridge} still has uplink ${uplinkText(cur.uplink)}`);
      if (cur.vifs.length) fail(step, `bridge ${step.bridge} still has VIFs ${cur.vifs.join(',')}`);
      if (cur.ip) fail(step, `bridge ${step.bridge} still has an IP`);
      if (kidIndex(bridges).has(step.bridge)) {
        const kids: string[] = [];
        for (const name in bridges) if (bridges[name].vlan?.parent === step.bridge) kids.push(name);
        fail(step, `bridge ${step.bridge} still has VLAN bridges ${kids.join(',')}`);
      }
      countKid(bridges, cur.vlan?.parent, -1);
      delete bridges[step.bridge];
      return;
    }
    case 'uplink.add': {
      if (cur.uplink) fail(step, `bridge ${step.bridge} already has uplink ${uplinkText(cur.uplink)}`);
      const p = uplinkProblem(step.uplink);
      if (p) fail(step, p);
      const devices = uplinkDevices(step.uplink);
      const owners = deviceOwners(bridges, devices);
      for (const dev of devices) {
        const owner = owners.get(dev);
        if (owner) fail(step, `${dev} is already in use by bridge ${owner}`);
        if (bridges[dev]) fail(step, `${dev} is the name of a bridge`);
      }
      return put({ ...cur, uplink: canon(step.uplink) });
    }
    case 'uplink.del': {
      if (!cur.uplink) fail(step, `bridge ${step.bridge} has no uplink`);
      if (!same(cur.uplink, step.uplink)) fail(step, `bridge ${step.bridge} has uplink ${uplinkText(cur.uplink)} instead`);
      const b = { ...cur };
      delete b.uplink;
      return put(b);
    }
    case 'ip.set': {
      if (cur.ip) fail(step, `bridge ${step.bridge} already has ${ipText(cur.ip)}`);
      return put({ ...cur, ip: canon(step.ip) });
    }
    case 'ip.clear': {
      if (!cur.ip) fail(step, `bridge ${step.bridge} has no IP`);
      if (!same(cur.ip, step.ip)) fail(step, `bridge ${step.bridge} has ${ipText(cur.ip)} instead`);
      const b = { ...cur };
      delete b.ip;
      return put(b);
    }
    case 'vif.add': {
      const ix = vifIndex(bridges);
      const owner = ix.get(step.vif);
      if (owner) fail(step, `VIF ${step.vif} is already on bridge ${owner}`);
      ix.set(step.vif, step.bridge);
      if (!canonicalBridges.has(cur)) {
        put({ ...cur, vifs: [...cur.vifs, step.vif] });
        owned?.add(bridges[step.bridge]);
        return;
      }
      // The rest of the bridge is untouched and already canonical: only the VIF list changes.
      if (owned?.has(cur)) {
        cur.vifs.splice(sortedIndex(cur.vifs, step.vif), 0, step.vif);
        return;
      }
      const vifs = cur.vifs.slice();
      vifs.splice(sortedIndex(vifs, step.vif), 0, step.vif);
      const next = { ...cur, vifs };
      canonicalBridges.add(next);
      owned?.add(next);
      bridges[step.bridge] = next;
      return;
    }
    case 'vif.del': {
      const fast = canonicalBridges.has(cur);
      const at = fast ? sortedIndex(cur.vifs, step.vif) : cur.vifs.indexOf(step.vif);
      if (cur.vifs[at] !== step.vif) fail(step, `VIF ${step.vif} is not on bridge ${step.bridge}`);
      vifIndexes.get(bridges)?.delete(step.vif);
      if (fast && owned?.has(cur)) {
        cur.vifs.splice(at, 1);
        return;
      }
      const vifs = cur.vifs.slice();
      vifs.splice(at, 1);
      if (!fast) {
        put({ ...cur, vifs });
        owned?.add(bridges[step.bridge]);
        return;
      }
      const next = { ...cur, vifs };
      canonicalBridges.add(next);
      owned?.add(next);
      bridges[step.bridge] = next;
      return;
    }
  }
}

/** Applies one step to a state and returns the new state (the input is not changed); throws naming the step if it does not fit. */
export function applyStep(state: NetState, step: Step): NetState {
  const next: NetState = { bridges: bridgeMap(state.bridges) };
  applyStepInPlace(next, step);
  return step.op === 'bridge.add' ? sortKeys(next) : next;
}

function sortKeys(state: NetState): NetState {
  const bridges = bridgeMap();
  for (const k of Object.keys(state.bridges).sort()) bridges[k] = state.bridges[k];
  return { bridges };
}

/** Applies a plan step by step to a normalized copy of the state; throws naming the index and step that does not fit. */
export function applyPlan(state: NetState, plan: Step[]): NetState {
  const s = normalize(state);
  // Every bridge of the copy is this function's own until it returns.
  const owned = new Set(Object.values(s.bridges));
  plan.forEach((step, i) => {
    try {
      applyStepInPlace(s, step, owned);
    } catch (e) {
      throw new PlanStepError(i, `plan step ${i}: ${(e as Error).message}`);
    }
  });
  return sortKeys(s);
}

/** A plan step that does not fit the state it meets; `index` is the step's position. */
export class PlanStepError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
    this.name = 'PlanStepError';
  }
}

/** Problems that make a state unrealisable (dangling VLAN parent, a device or VIF in two places...); empty when valid. */
export function validate(state: NetState): string[] {
  const problems: string[] = [];
  const bridges = state.bridges;
  const devices = new Map<string, string>();
  const vifs = new Map<string, string>();
  for (const [key, b] of Object.entries(bridges)) {
    if (b.name !== key) problems.push(`bridge key ${key} holds bridge named ${b.name}`);
    if (!Number.isInteger(b.MTU) || b.MTU <= 0) problems.push(`bridge ${key}: MTU ${b.MTU} is not a positive integer`);
    if (b.vlan) {
      const p = vlanProblem(bridges, key, b.vlan);
      if (p) problems.push(`bridge ${key}: ${p}`);
    }
    if (b.uplink) {
      const p = uplinkProblem(b.uplink);
      if (p) problems.push(`bridge ${key}: ${p}`);
      for (const dev of uplinkDevices(b.uplink)) {
        const other = devices.get(dev);
        if (other !== undefined) problems.push(`device ${dev} is used by bridges ${other} and ${key}`);
        else devices.set(dev, key);
        if (bridges[dev]) problems.push(`device ${dev} of bridge ${key} is also a bridge name`);
      }
    }
    for (const v of b.vifs ?? []) {
      const other = vifs.get(v);
      if (other !== undefined) problems.push(`VIF ${v} is on bridges ${other} and ${key}`);
      else vifs.set(v, key);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Diff

/** How many VLAN parents a bridge has above it (0 for a plain bridge); cycles and dangling parents stop the count. */
function depth(bridges: Record<string, Bridge>, name: string): number {
  let d = 0;
  const seen = new Set([name]);
  for (let p = bridges[name]?.vlan?.parent; p !== undefined && bridges[p] && !seen.has(p); p = bridges[p].vlan?.parent) {
    seen.add(p);
    d++;
  }
  return d;
}

/** Orders bridge names parents before VLAN children (by depth, then name). */
function parentsFirst(names: string[], bridges: Record<string, Bridge>): string[] {
  return names
    .map((n) => [depth(bridges, n), n] as const)
    .sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))
    .map((x) => x[1]);
}

/** Orders bridge names VLAN children before parents (by depth, deepest first, then name). */
function childrenFirst(names: string[], bridges: Record<string, Bridge>): string[] {
  return names
    .map((n) => [depth(bridges, n), n] as const)
    .sort((x, y) => y[0] - x[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))
    .map((x) => x[1]);
}

function addStep(b: Bridge): Step {
  const s: Step = { op: 'bridge.add', bridge: b.name, MTU: b.MTU };
  if (b.vlan) s.vlan = { ...b.vlan };
  if (b.mac) s.mac = b.mac;
  return s;
}

function delStep(b: Bridge): Step {
  const s: Step = { op: 'bridge.del', bridge: b.name, MTU: b.MTU };
  if (b.vlan) s.vlan = { ...b.vlan };
  if (b.mac) s.mac = b.mac;
  return s;
}

/** An ordered plan turning actual into desired: add bridges, del/add uplinks, move VIFs, set/clear IPs, delete bridges, re-create changed ones. */
export function diff(actual: NetState, desired: NetState): Step[] {
  // Read only here: the actual state a backend read is usually canonical already (a copy per diff was 1,000 VIF names).
  const A = canonicalView(actual);
  const D = canonicalView(desired);
  const inA = (n: string) => Object.prototype.hasOwnProperty.call(A, n);
  const inD = (n: string) => Object.prototype.hasOwnProperty.call(D, n);
  // Each side's names once (sorted by canonicalView): a 650-bridge state listed them a dozen times per diff.
  const namesA = Object.keys(A);
  const namesD = Object.keys(D);

  // Bridges whose MTU, VLAN or own MAC changes are deleted and re-created, and so are the VLAN children of those.
  const recreated = new Set<string>();
  for (const n of namesA) {
    if (inD(n) && (A[n].MTU !== D[n].MTU || !same(A[n].vlan ?? null, D[n].vlan ?? null) || (A[n].mac ?? '') !== (D[n].mac ?? ''))) recreated.add(n);
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const n of namesA) {
      const p = A[n].vlan?.parent;
      if (inD(n) && !recreated.has(n) && p && recreated.has(p)) {
        recreated.add(n);
        grew = true;
      }
    }
  }
  const kept = new Set(namesA.filter((n) => inD(n) && !recreated.has(n)));
  // Bridges built at the end: the re-created ones, and new VLAN bridges whose parent is one of those.
  const late = new Set(recreated);
  for (let grew = true; grew;) {
    grew = false;
    for (const n of namesD) {
      const p = D[n].vlan?.parent;
      if (!inA(n) && !late.has(n) && p && late.has(p)) {
        late.add(n);
        grew = true;
      }
    }
  }
  const fresh = namesD.filter((n) => !inA(n) && !late.has(n));
  const doomed = namesA.filter((n) => !inD(n) || recreated.has(n));

  const plan: Step[] = [];

  // (1) new bridges, parents before VLAN children
  for (const n of parentsFirst(fresh, D)) plan.push(addStep(D[n]));

  // (2) uplinks that disappear or change
  for (const n of namesA) {
    const u = A[n].uplink;
    if (u && !(kept.has(n) && same(u, D[n].uplink ?? null))) plan.push({ op: 'uplink.del', bridge: n, uplink: canon(u) });
  }

  // (3) uplinks that appear or change
  for (const n of namesD) {
    const u = D[n].uplink;
    if (u && !late.has(n) && !(kept.has(n) && same(u, A[n].uplink ?? null))) plan.push({ op: 'uplink.add', bridge: n, uplink: canon(u) });
  }

  // (4) VIFs that move or go: each VIF leaves its old bridge just before it joins its new one
  const vifA = new Map<string, string>();
  const vifD = new Map<string, string>();
  for (const n of namesA) for (const v of A[n].vifs) vifA.set(v, n);
  for (const n of namesD) for (const v of D[n].vifs) vifD.set(v, n);
  const vifNames = [...vifA.keys()];
  for (const v of vifD.keys()) if (!vifA.has(v)) vifNames.push(v);
  for (const v of vifNames.sort()) {
    const from = vifA.get(v);
    const to = vifD.get(v);
    if (from !== undefined && from === to && kept.has(from)) continue;
    if (from !== undefined) plan.push({ op: 'vif.del', bridge: from, vif: v });
    if (to !== undefined && !late.has(to)) plan.push({ op: 'vif.add', bridge: to, vif: v });
  }

  // (5) IPs: set new and changed ones first (clearing a changed bridge's old IP just before), then clear those that go
  for (const n of namesD) {
    const ip = D[n].ip;
    if (!ip || late.has(n)) continue;
    const old = kept.has(n) ? A[n].ip : undefined;
    if (old && same(old, ip)) continue;
    if (old) plan.push({ op: 'ip.clear', bridge: n, ip: canon(old) });
    plan.push({ op: 'ip.set', bridge: n, ip: canon(ip) });
  }
  for (const n of namesA) {
    const ip = A[n].ip;
    if (ip && !(kept.has(n) && D[n].ip)) plan.push({ op: 'ip.clear', bridge: n, ip: canon(ip) });
  }

  // (6) bridges that go (and the old form of re-created ones), VLAN children before parents
  for (const n of childrenFirst(doomed, A)) plan.push(delStep(A[n]));

  // (7) re-created bridges and their new VLAN children, with their contents
  const lateNames = parentsFirst([...late], D);
  for (const n of lateNames) plan.push(addStep(D[n]));
  for (const n of [...late].sort()) {
    const u = D[n].uplink;
    if (u) plan.push({ op: 'uplink.add', bridge: n, uplink: canon(u) });
  }
  // Only the late bridges' VIFs are sorted (all 1,000 were, with a comparator, for none most of the time).
  const lateVifs = late.size ? [...vifD.entries()].filter(([, n]) => late.has(n)) : [];
  for (const [v, n] of lateVifs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))) plan.push({ op: 'vif.add', bridge: n, vif: v });
  for (const n of [...late].sort()) {
    const ip = D[n].ip;
    if (ip) plan.push({ op: 'ip.set', bridge: n, ip: canon(ip) });
  }
  return plan;
}

/**
 * The part of `state` a host with these NICs can realise: uplinks on NICs it lacks are dropped
 * and bonds keep the members it has (none left: no uplink). `dropped` says what went, for the log.
 * Used at start-up and for a pool slave's sync, where a NIC may have gone since the database said so.
 */
export function fitToNics(state: NetState, nics: readonly string[]): { state: NetState; dropped: string[]; missing: string[] } {
  const have = new Set(nics);
  const dropped: string[] = [];
  const missing = nicsNeeded(state).filter((d) => !have.has(d));
  // Every NIC there (the usual case): the state as it is, not a copy of its 650 bridges.
  if (!missing.length) return { state, dropped, missing };
  const bridges = bridgeMap();
  for (const [name, b] of Object.entries(state.bridges)) {
    const u = b.uplink;
    if (u?.kind === 'nic' && !have.has(u.device)) {
      dropped.push(`${u.device} (uplink of ${name})`);
      const { uplink: _gone, ...rest } = b;
      bridges[name] = rest;
    } else if (u?.kind === 'bond' && u.members.some((m) => !have.has(m))) {
      const members = u.members.filter((m) => have.has(m));
      dropped.push(...u.members.filter((m) => !have.has(m)).map((m) => `${m} (member of ${u.name})`));
      if (members.length) bridges[name] = { ...b, uplink: { ...u, members } };
      else {
        const { uplink: _gone, ...rest } = b;
        bridges[name] = rest;
      }
    } else bridges[name] = b;
  }
  return { state: { bridges }, dropped, missing };
}

/** The NICs a state's uplinks use: NIC uplinks and bond members (sorted, once each). */
export function nicsNeeded(state: NetState): string[] {
  const out = new Set<string>();
  for (const b of Object.values(state.bridges)) {
    const u = b.uplink;
    if (u?.kind === 'nic') out.add(u.device);
    else if (u?.kind === 'bond') for (const m of u.members) out.add(m);
  }
  return [...out].sort();
}
