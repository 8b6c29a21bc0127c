// The target of a plan for backends that realise a whole state at once (ifcfg): current state +
// steps, with the step semantics of backend.ts (each step must fit the state it meets). Pure and
// small on purpose; backends import nothing above src/backends.
import type { Bridge, NetState, Step, Uplink } from './backend.js';

/** Deep copy with object keys sorted (arrays keep their order), for comparisons. */
export function canonical<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => canonical(x)) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if ((v as Record<string, unknown>)[k] !== undefined) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out as T;
  }
  return v;
}

/** Structural equality (key order and undefined fields ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Devices an uplink holds: a NIC, a bond and its members, a tunnel port. */
export function devicesOf(u: Uplink): string[] {
  return u.kind === 'nic' ? [u.device] : u.kind === 'bond' ? [u.name, ...u.members] : [u.name];
}

/** A step that does not fit the state it meets. */
export class StepError extends Error {
  constructor(readonly index: number, message: string) {
    super(message);
  }
}

/** Applies `plan` to a copy of `state`; throws StepError naming the first step that does not fit. */
export function targetState(state: NetState, plan: Step[]): NetState {
  const bridges: Record<string, Bridge> = {};
  for (const [k, b] of Object.entries(state.bridges)) bridges[k] = canonical(b);
  plan.forEach((s, i) => {
    const fail = (why: string): never => {
      throw new StepError(i, `${s.op} ${s.bridge}: ${why}`);
    };
    const cur = bridges[s.bridge];
    if (s.op === 'bridge.add') {
      if (cur) fail('bridge exists');
      if (s.vlan && (!bridges[s.vlan.parent] || bridges[s.vlan.parent].vlan)) fail(`VLAN parent ${s.vlan.parent} is not a bridge`);
      bridges[s.bridge] = canonical({ name: s.bridge, MTU: s.MTU, vlan: s.vlan, vifs: [] });
      return;
    }
    if (!cur) return fail('no such bridge');
    switch (s.op) {
      case 'bridge.del':
        if (cur.uplink || cur.ip || cur.vifs.length) fail('bridge is not empty');
        if (Object.values(bridges).some((b) => b.vlan?.parent === s.bridge)) fail('bridge has VLAN bridges');
        delete bridges[s.bridge];
        return;
      case 'uplink.add': {
        if (cur.uplink) fail('bridge has an uplink');
        const devs = devicesOf(s.uplink);
        for (const b of Object.values(bridges)) if (b.uplink && devicesOf(b.uplink).some((d) => devs.includes(d))) fail(`a device is in use by ${b.name}`);
        cur.uplink = canonical(s.uplink);
        return;
      }
      case 'uplink.del':
        if (!sameValue(cur.uplink ?? null, s.uplink)) fail('bridge has another uplink');
        delete cur.uplink;
        return;
      case 'ip.set':
        if (cur.ip) fail('bridge has an IP');
        cur.ip = canonical(s.ip);
        return;
      case 'ip.clear':
        if (!sameValue(cur.ip ?? null, s.ip)) fail('bridge has another IP');
        delete cur.ip;
        return;
      case 'vif.add':
        if (Object.values(bridges).some((b) => b.vifs.includes(s.vif))) fail(`VIF ${s.vif} is on a bridge`);
        cur.vifs = [...cur.vifs, s.vif].sort();
        return;
      case 'vif.del':
        if (!cur.vifs.includes(s.vif)) fail(`VIF ${s.vif} is not on the bridge`);
        cur.vifs = cur.vifs.filter((v) => v !== s.vif);
        return;
    }
  });
  const out: Record<string, Bridge> = {};
  for (const k of Object.keys(bridges).sort()) out[k] = bridges[k];
  return { bridges: out };
}
