// The simulated backend: an in-memory host. It holds a NetState plus the carrier of each NIC, and
// applies plans with the reference step semantics (plan.ts applyStep), all or nothing.
// Tests and benchmarks use it to run the whole daemon without touching real networking; faults can
// be injected at any step to exercise the undo path.

import { BackendError, type Backend, type Bridge, type NetState, type Nic, type Step } from './backend.js';
import { applyStepInPlace, describe, invert, normalize } from './plan.js';
import { bridgeMap } from './state.js';

/** Fault injection: return true from failAt to make apply() fail before running that step. */
export interface SimulatedFaults {
  failAt?: (step: Step, index: number) => boolean;
}

/** Counters for tests and benchmarks. */
export interface SimulatedStats {
  /** apply() calls. */
  plans: number;
  /** Steps applied forward (including ones later undone). */
  applied: number;
  /** Steps undone after a failure. */
  undone: number;
  /** apply() calls that failed. */
  failed: number;
}

/** A plain view of the simulated host, for assertions. */
export interface HostView {
  /** Every device that exists: bridges, NICs, bonds, tunnel ports (sorted). */
  devices: string[];
  bridges: string[];
  nics: string[];
  bonds: string[];
  tunnels: string[];
  /** NICs that are up: the uplink or a bond member of some bridge (sorted). */
  up: string[];
  /** NICs with carrier (sorted). */
  carrier: string[];
  /** bridge → MTU. */
  mtu: Record<string, number>;
  /** VLAN bridge → parent bridge and tag. */
  vlans: Record<string, { parent: string; tag: number }>;
  /** bridge → the device that carries it off the host (NIC, bond or tunnel name). */
  uplinks: Record<string, string>;
  /** bond → members, in order. */
  bondMembers: Record<string, string[]>;
  /** bridge → IP address ('' for DHCP without a lease). */
  ips: Record<string, string>;
  /** VIF → bridge. */
  vifs: Record<string, string>;
}

/** An in-memory host implementing Backend; apply() is all or nothing, with optional injected faults. */
export class SimulatedBackend implements Backend {
  readonly name = 'simulated';
  readonly bridgeMacs = true;
  /** Settable fault hooks, e.g. `backend.faults.failAt = (s, i) => i === 2`. */
  readonly faults: SimulatedFaults = {};
  readonly stats: SimulatedStats = { plans: 0, applied: 0, undone: 0, failed: 0 };
  private state: NetState;
  private readonly nicTable = new Map<string, Nic>();

  /** A host with these NICs and, optionally, networking already in place. */
  constructor(opts: { nics: Nic[]; state?: NetState }) {
    for (const n of opts.nics) this.nicTable.set(n.device, { ...n });
    this.state = normalize(opts.state ?? { bridges: {} });
  }

  /** The host's NICs with their current carrier. */
  async nics(): Promise<Nic[]> {
    return [...this.nicTable.values()].map((n) => ({ ...n }));
  }

  /** A deep copy of the host's networking now. */
  async read(): Promise<NetState> {
    return normalize(this.state);
  }

  /** Applies the plan step by step; on a fault or a step that does not fit, undoes the applied steps and throws BackendError. */
  async apply(plan: Step[]): Promise<void> {
    this.stats.plans++;
    const before: NetState = { bridges: bridgeMap(this.state.bridges) };
    const done: Step[] = [];
    // Bridges this apply copies are its own (read() hands out copies, `before` holds the originals).
    const owned = new Set<Bridge>();
    for (let i = 0; i < plan.length; i++) {
      const step = plan[i];
      let reason: string | undefined;
      try {
        if (this.faults.failAt?.(step, i)) reason = 'injected fault';
        else {
          this.checkNics(step);
          applyStepInPlace(this.state, step, owned);
          done.push(step);
          this.stats.applied++;
        }
      } catch (e) {
        reason = (e as Error).message;
      }
      if (reason !== undefined) {
        this.undo(done, before);
        this.stats.failed++;
        throw new BackendError(i, `step ${i} (${describe(step)}) failed: ${reason}`);
      }
    }
  }

  /** Members of the bond with carrier (Bond.links_up); 0 for a bond the host does not have. */
  async bondLinksUp(bond: string): Promise<number> {
    for (const b of Object.values(this.state.bridges)) {
      const u = b.uplink;
      if (u?.kind === 'bond' && u.name === bond) return u.members.filter((m) => this.nicTable.get(m)?.carrier).length;
    }
    return 0;
  }

  /** Nothing to release. */
  async close(): Promise<void> {}

  /** Simulates plugging (true) or pulling (false) the cable of a NIC. */
  setCarrier(device: string, up: boolean): void {
    const nic = this.nicTable.get(device);
    if (!nic) throw new Error(`simulated host has no NIC ${device}`);
    nic.carrier = up;
  }

  /** Simulates hot-plugging a NIC (it appears in nics(); PIF.scan can introduce it). */
  addNic(nic: Nic): void {
    this.nicTable.set(nic.device, { ...nic });
  }

  /** Simulates a NIC vanishing (unplugged card, renamed device). */
  removeNic(device: string): void {
    this.nicTable.delete(device);
  }

  /** A plain, queryable view of the host: devices, which NICs are up, where IPs and VIFs sit. */
  host(): HostView {
    const view: HostView = {
      devices: [],
      bridges: [],
      nics: [...this.nicTable.keys()].sort(),
      bonds: [],
      tunnels: [],
      up: [],
      carrier: [...this.nicTable.values()]
        .filter((n) => n.carrier)
        .map((n) => n.device)
        .sort(),
      mtu: {},
      vlans: {},
      uplinks: {},
      bondMembers: {},
      ips: {},
      vifs: {},
    };
    for (const [name, b] of Object.entries(this.state.bridges)) {
      view.bridges.push(name);
      view.mtu[name] = b.MTU;
      if (b.vlan) view.vlans[name] = { ...b.vlan };
      if (b.ip) view.ips[name] = b.ip.address;
      for (const v of b.vifs) view.vifs[v] = name;
      const u = b.uplink;
      if (!u) continue;
      switch (u.kind) {
        case 'nic':
          view.uplinks[name] = u.device;
          view.up.push(u.device);
          break;
        case 'bond':
          view.uplinks[name] = u.name;
          view.bonds.push(u.name);
          view.bondMembers[u.name] = [...u.members];
          view.up.push(...u.members);
          break;
        case 'tunnel':
          view.uplinks[name] = u.name;
          view.tunnels.push(u.name);
          break;
      }
    }
    view.bridges.sort();
    view.bonds.sort();
    view.tunnels.sort();
    view.up.sort();
    view.devices = [...new Set([...view.bridges, ...view.nics, ...view.bonds, ...view.tunnels])].sort();
    return view;
  }

  /** A real host cannot enslave a NIC it does not have. */
  private checkNics(step: Step): void {
    if (step.op !== 'uplink.add' || step.uplink.kind === 'tunnel') return;
    const nics = step.uplink.kind === 'nic' ? [step.uplink.device] : step.uplink.members;
    for (const d of nics) if (!this.nicTable.has(d)) throw new Error(`host has no NIC ${d}`);
  }

  /** Undoes applied steps in reverse with their inverses; falls back to the snapshot if an inverse does not fit. */
  private undo(done: Step[], before: NetState): void {
    try {
      for (let j = done.length - 1; j >= 0; j--) {
        applyStepInPlace(this.state, invert(done[j]));
        this.stats.undone++;
      }
    } catch {
      this.state = before;
    }
  }
}
