// The reconciler: the one way to the host. Every plan goes through reconcile() — fit the desired
// state to the NICs the host has, diff it against the backend's actual state, journal, apply —
// whoever asks: the commit hook (the desired state of every write transaction's view of the
// database), start-up (reconcileNow: the committed database, or what a pool slave last applied
// for its master) and the pool slave agent (the state its master sends). A failed plan fails
// the caller (the backend has undone its own steps); for a transaction, a failed commit undoes
// the plan. Nothing else drives a backend.
//
// Every plan is journaled (journal.ts) before the host is touched and closed once the outcome
// is known; at start-up reconcileNow() closes whatever a crash left open in any of the three. A transaction whose context has `dryRun` set (the dispatcher's
// `DryRun.` prefix) computes its plan and is abandoned with DryRun: nothing is applied or stored.
import type { Backend, NetState, Nic, Step } from '../backends/backend.js';
import { BackendError } from '../backends/backend.js';
import { ApiError } from '../errors.js';
import { failpoint, failpointArmed } from '../failpoints.js';
import type { Store, Txn, View } from '../store/store.js';
import { affectedHosts, desiredState } from './desired.js';
import { Journal, type JournalEntry } from './journal.js';
import { describe, diff, fitToNics, invert, nicsNeeded, normalize, uplinkDevices } from '../backends/plan.js';
import { bridgeMap, valueProblems } from '../backends/state.js';

/** What reconcile() is asked: the state the host is to have, by whom, and how its outcome is made durable. */
export interface Goal {
  /** Who asks (journal and log): a call's wire name, `host.apply_network_state` (a pool slave), `start-up`. */
  method: string;
  /** The state the host is to have, before it is fitted to the NICs the host has. */
  desired: NetState;
  /**
   * A call's views (the transaction's, and the committed database before it): a NIC the call newly
   * needs that the host lacks fails it before the host is touched (see plan()).
   */
  strict?: { db: View; committed: View };
  /** The PIF a failure is reported against (PIF_CONFIGURATION_ERROR [pif, msg]). */
  culprit?: string;
  /** Compute the plan only: nothing is applied or journaled. */
  dryRun?: boolean;
  /**
   * A write transaction: the entry is marked committed inside its database commit, and the plan is
   * undone if that commit fails. Without one the entry is marked committed at once, with `commit`.
   */
  tx?: Txn;
  /** Without `tx`: run in the SQLite transaction that marks the entry committed (what the caller persists with the plan: a slave's last applied state). */
  commit?: () => void;
}

/** Result of a reconciliation: the plan applied (or that would be, for a dry run). */
export interface Reconciled {
  plan: Step[];
  /** One line per step (describe), made on first use. */
  readonly lines: string[];
  /** The host state the plan was computed against. */
  actual?: NetState;
}

declare module '../store/store.js' {
  /** What the reconciler reads of a transaction. */
  interface TxContext {
    /** The PIF a failure is reported against (PIF_CONFIGURATION_ERROR [pif, msg]). */
    culprit?: string;
    /** A dry run (the dispatcher's `DryRun.` prefix): the plan is computed and the transaction abandoned; other hosts' plans are collected in `remote` (asked once the write lock is let go). */
    dryRun?: { remote: RemotePlan[] };
  }
}
/** Another host whose daemon is asked what it would do for a dry-run transaction. */
export interface RemotePlan {
  host: string;
  plan: () => Promise<PlanSummary>;
}
/** Classes that no desired host state is derived from. */
const NO_HOST_STATE = new Set(['session', 'task']);

/**
 * What semantics and the host monitor may learn about the host (the host-facts port, on every
 * call's context as CallCtx.facts): read only. Nothing but the reconciler changes the host.
 */
export interface HostFacts {
  /** The bridges the host has now (an unmanaged network's BRIDGE_NOT_AVAILABLE). */
  bridges(): Promise<string[]>;
  /** The host's NICs now. */
  nics(): Promise<Nic[]>;
  /** The host's NICs now, and the next plan reads the NIC list afresh too (PIF.scan: a NIC added since). */
  scanNics(): Promise<Nic[]>;
  /** Bond members with link up (Bond.links_up). */
  bondLinksUp(bond: string): Promise<number>;
  /** The address a DHCP client obtained on `bridge`, undefined without a lease; absent when the backend cannot tell (simulated). */
  dhcpLease?(bridge: string): Promise<{ address: string; netmask: string; gateway: string } | undefined>;
}

type Log = { info(m: string): void; warn?(m: string): void };

const stateKey = (s: NetState) => JSON.stringify(normalize(s));

export class Reconciler {
  /** Plans applied since start (tests, benchmarks). */
  applied = 0;
  /** The last plan applied or computed. */
  last: Reconciled = reconciled([]);
  /** The journal, once attached to a store. */
  journal?: Journal;
  /** The host-facts port over this reconciler's backend. */
  readonly facts: HostFacts;
  constructor(
    readonly backend: Backend,
    readonly host: () => string,
    private log?: Log,
  ) {
    const lease = backend.dhcpLease?.bind(backend);
    this.facts = {
      bridges: async () => Object.keys((await backend.read()).bridges),
      nics: () => backend.nics(),
      scanNics: async () => {
        const nics = await backend.nics();
        this.forgetNics();
        return nics;
      },
      bondLinksUp: (bond) => backend.bondLinksUp(bond),
      ...(lease ? { dhcpLease: lease } : {}),
    };
  }

  private store?: Store;

  /** Hooks the reconciler into every write transaction of `store`, journaling in its database. */
  attach(store: Store): void {
    this.store = store;
    this.journal = new Journal(store.db);
    store.onPrecommit((tx) => this.precommit(tx));
  }

  /**
   * The plan that would bring the host to what `db` says. At start-up (`committed` absent) a NIC
   * gone since the database was written is left out of the plan (logged). For a call, `committed`
   * is the database before it: a NIC the call newly needs (or needs in a new place) and the host
   * lacks fails the call with PIF_CONFIGURATION_ERROR [that NIC's PIF, why] before the host is
   * touched; what the committed database already lacked (a bond started short of a member) stays
   * tolerated.
   */
  async plan(db: View, committed?: View): Promise<Reconciled> {
    return this.planFor(desiredState(db, this.host()), committed && { db, committed });
  }

  /** The plan for a desired state (see plan(): `strict` holds a call's views). */
  private async planFor(desired: NetState, strict?: { db: View; committed: View }): Promise<Reconciled> {
    const actual = await this.backend.read();
    const nics = await this.knownNics(nicsNeeded(desired));
    const fit = fitToNics(desired, nics);
    if (!this.backend.bridgeMacs) fit.state = withoutBridgeMacs(fit.state);
    if (strict && fit.missing.length) {
      const { db, committed } = strict;
      // Each use of a missing NIC ('eth3 (member of bond0)') the committed database did not already have.
      const already = new Set(fitToNics(desiredState(committed, this.host()), nics).dropped);
      const fresh = [...new Set(fit.dropped.filter((d) => !already.has(d)).map((d) => d.split(' ')[0]))];
      if (fresh.length) {
        const pif = db.children('host', this.host(), 'PIFs').find((p) => db.get('PIF', p).physical && db.get('PIF', p).device === fresh[0]);
        throw new ApiError('PIF_CONFIGURATION_ERROR', [
          pif ?? 'OpaqueRef:NULL',
          `NIC ${fresh.join(', ')} ${fresh.length > 1 ? 'are' : 'is'} not present on this host (host NICs: ${nics.join(', ') || 'none'})`,
        ]);
      }
    }
    if (fit.dropped.length && fit.dropped.join() !== this.lastDropped) {
      this.lastDropped = fit.dropped.join();
      this.log?.warn?.(`reconciler: NICs missing on this host, left out: ${fit.dropped.join(', ')}`);
    }
    return reconciled(diff(actual, fit.state), actual);
  }

  /** Forgets the NIC list (PIF.scan, a failed plan, start-up): the next plan reads the host's NICs again. */
  forgetNics(): void {
    this.nics = undefined;
    this.absent.clear();
  }

  /**
   * The host's NICs. The list is read once and again whenever a plan needs a NIC it has not
   * seen (a NIC added since, e.g. eth9 after PIF.scan) — not again for NICs a read already
   * found absent, so a bond left short at start-up does not cost a read per call.
   */
  private async knownNics(needed: string[]): Promise<string[]> {
    const have = this.nics && new Set(this.nics);
    if (!have || needed.some((d) => !have.has(d) && !this.absent.has(d))) {
      this.nics = (await this.backend.nics()).map((n) => n.device);
      const now = new Set(this.nics);
      this.absent = new Set(needed.filter((d) => !now.has(d)));
    }
    return this.nics!;
  }

  /** The host's NICs as last read (undefined: read on next use), and needed NICs that read did not find. */
  private nics?: string[];
  private absent = new Set<string>();
  private lastDropped = '';

  /** The commit hook: the transaction's view of the database, reconciled as part of the transaction. */
  private async precommit(tx: Txn): Promise<void> {
    // Sessions and tasks make no host state: a login does not read the backend (it would cost a login an ovs-vsctl round).
    if (!tx.ctx.dryRun && [...tx.overlay.keys()].every((c) => NO_HOST_STATE.has(c))) return;
    // Nor does a transaction that touches only other hosts' records (a pool master syncing a slave:
    // the master's own 650-bridge state was derived and diffed for nothing, ~25 ms a sync).
    if (!tx.ctx.dryRun && !affectedHosts(tx, tx.store, this.host()).has(this.host())) return;
    const desired = desiredState(tx, this.host());
    const r = await this.reconcile({
      method: tx.ctx.method,
      desired,
      strict: { db: tx, committed: tx.store },
      culprit: tx.ctx.culprit,
      dryRun: !!tx.ctx.dryRun,
      tx,
    });
    // A dry run reports the plan and changes nothing: the transaction is abandoned.
    if (tx.ctx.dryRun) throw new DryRun(r);
  }

  /**
   * The one entry point to the host: the plan that brings it to `g.desired` (fitted to its
   * NICs), journaled, applied all or nothing. A plan the backend fails is undone by it and
   * fails with PIF_CONFIGURATION_ERROR [culprit, which step, why]; the entry stays open only if
   * the host did not come back (start-up recovers it).
   */
  async reconcile(g: Goal): Promise<Reconciled> {
    const culprit = g.culprit ?? 'OpaqueRef:NULL';
    const r = await this.planFor(g.desired, g.strict);
    this.last = r;
    // The backstop of the value types: a value that got into the database (or a state) some other
    // way never reaches a backend (the entry points refuse it first, with xapi's errors).
    const bad = valueProblems([], r.plan);
    if (bad.length) throw new InvalidPlanValue(culprit, bad[0]);
    if (g.dryRun) return r;
    if (r.plan.length === 0) {
      if (g.commit) this.inDb(g.commit);
      return r;
    }
    const method = g.method;
    const id = this.journal?.open(g.tx?.store.generation ?? this.store?.generation ?? 0, method, r.plan, r.actual!);
    try {
      // Failpoints stand in front of a call's plan only (a crash test's start-up is not the crash it arms).
      await (g.tx ? this.applyPlan(r.plan) : this.backend.apply(r.plan));
    } catch (e) {
      const msg =
        e instanceof BackendError
          ? `step ${e.step + 1} of ${r.plan.length} (${r.plan[e.step] ? describe(r.plan[e.step]) : '?'}): ${e.message}`
          : String((e as Error)?.message ?? e);
      if (id !== undefined) await this.closeAfterFailure(id, r.actual!, msg);
      this.forgetNics(); // a NIC may have gone: read them again for the next plan
      throw new ApiError('PIF_CONFIGURATION_ERROR', [culprit, msg]);
    }
    this.applied++;
    this.log?.info(`reconciler: ${method || 'transaction'} applied ${r.plan.length} steps: ${stepsLogged(r.plan, id)}`);
    const tx = g.tx;
    if (!tx) {
      // Nothing else to wait for: what the caller persists with the plan and the entry's close are one SQLite transaction.
      this.inDb(() => {
        g.commit?.();
        if (id !== undefined) this.journal!.close(id, 'committed');
      });
      return r;
    }
    if (id !== undefined) {
      // Marked committed inside the database commit itself: an entry still open after a crash did not commit.
      tx.inCommit.push(() => {
        this.journal!.close(id, 'committed');
        failpoint('reconciler.db-commit', method); // throwing here rolls the SQLite transaction back
      });
      tx.after.push(() => failpoint('reconciler.commit'));
    }
    // If the commit fails after this point, put the host back as it was (the inverse is made only
    // then: 2,208 canonical copies of steps were 2.5 MB of garbage for every Bond.create that committed).
    tx.undo.push(async () => {
      await this.backend.apply(r.plan.map(invert).reverse());
      if (id !== undefined) this.journal!.close(id, 'undone', 'database commit failed; plan undone');
    });
    return r;
  }

  /** Runs `f` in one SQLite transaction of the journal's database (or directly, without a journal). */
  private inDb(f: () => void): void {
    if (this.journal) this.journal.db.transaction(f)();
    else f();
  }

  /** After a failed apply the backend has undone its steps; the entry stays open (for start-up recovery) if the host did not come back. */
  private async closeAfterFailure(id: number, before: NetState, msg: string): Promise<void> {
    let back = false;
    try {
      back = stateKey(await this.backend.read()) === stateKey(before);
    } catch {
      /* cannot tell: leave it open */
    }
    if (back) this.journal!.close(id, 'undone', msg);
    else this.log?.warn?.(`reconciler: plan ${id} failed and the host did not return to its state before; start-up will reconcile it (${msg})`);
  }

  /** backend.apply, with the `reconciler.step` failpoint in front (inert unless armed). */
  private async applyPlan(plan: Step[]): Promise<void> {
    if (failpointArmed('reconciler.step')) {
      for (let k = 0; k <= plan.length; k++) {
        if (!failpointArmed('reconciler.step', k)) continue;
        // Steps 0..k-1 reach the host, then the failpoint fires before step k.
        if (k > 0) await this.backend.apply(plan.slice(0, k));
        failpoint('reconciler.step', k);
      }
    }
    await this.backend.apply(plan);
  }

  /**
   * Start-up and crash recovery: brings the host to `desired` — the committed database, or for a
   * pool slave what it last applied for its master — through reconcile() (journaled as
   * `start-up`). A journal entry still open is a plan whose outcome was never recorded (a call
   * whose transaction did not commit, a slave's apply, an earlier start-up): what it left is
   * undone by this plan, since `desired` is the state from before it. What was found and done is
   * logged and the entries are closed as `recovered`.
   */
  async reconcileNow(desired?: NetState): Promise<Reconciled & { recovered: JournalEntry[] }> {
    const want = desired ?? desiredState(this.store!, this.host());
    const open = this.journal?.openEntries() ?? [];
    for (const e of open) {
      this.log?.warn?.(
        `crash recovery: journal entry ${e.id} (${e.method || 'transaction'}, ${e.steps.length} steps: ${e.steps.map(describe).join('; ')}) ` +
          'was left open: its transaction did not commit, so the host goes back to the state before it (the database, or what a pool slave last applied for its master)',
      );
    }
    this.forgetNics(); // read the NICs afresh at start-up
    const r = await this.reconcile({ method: 'start-up', desired: want });
    if (open.length) {
      const now = stateKey(await this.backend.read());
      const matches = now === stateKey(want);
      for (const e of open) {
        const note =
          `start-up applied ${r.plan.length} steps${r.lines.length ? ` (${r.lines.join('; ')})` : ''}; ` +
          `host ${matches ? 'matches' : 'does NOT match'} the database; host ${now === stateKey(e.before) ? 'is' : 'is not'} back to the journaled state before`;
        this.journal!.close(e.id, 'recovered', note);
        this.log?.info(`crash recovery: journal entry ${e.id}: ${note}`);
      }
    }
    return { ...r, recovered: open };
  }

  /** The backend's actual state. */
  actual(): Promise<NetState> {
    return this.backend.read();
  }
}

/**
 * At most this many steps of a plan are spelled out in its log line; the journal entry keeps them
 * all. A pool slave's first state in the pool benchmark is 604 steps: its line was ~30 KB, built, written to stderr
 * and read by whatever collects the log, for every start-up sync.
 */
const LOGGED_STEPS = 20;

/** The steps of a plan for its log line (see LOGGED_STEPS): only those are described. */
function stepsLogged(plan: Step[], id: number | undefined): string {
  const lines = plan.slice(0, LOGGED_STEPS).map(describe).join('; ');
  if (plan.length <= LOGGED_STEPS) return lines;
  return `${lines}; … and ${plan.length - LOGGED_STEPS} more${id === undefined ? '' : ` (journal entry ${id})`}`;
}

/**
 * A Reconciled whose `lines` are made when first read: an applied plan's log line describes at most
 * LOGGED_STEPS steps, and a pool slave's first state is ~600 (a Bond.create moving 1,000 VIFs, ~2,000).
 */
function reconciled(plan: Step[], actual?: NetState): Reconciled {
  let lines: string[] | undefined;
  return {
    plan,
    actual,
    get lines() {
      return (lines ??= plan.map(describe));
    },
  };
}

/** A plan carrying a value of the wrong type (one that got into the database some other way): PIF_CONFIGURATION_ERROR, nothing applied. */
export class InvalidPlanValue extends ApiError {
  constructor(
    culprit: string,
    readonly problem: string,
  ) {
    super('PIF_CONFIGURATION_ERROR', [culprit, `invalid value: ${problem}`]);
  }
}

/** Thrown to abandon a dry-run transaction, carrying its plan. */
export class DryRun extends Error {
  constructor(readonly result: Reconciled) {
    super('dry run');
    this.name = 'DryRun';
  }
}

/** What a plan does, for people: its steps, what moves where, what goes away, what is interrupted, what is new. */
export interface PlanSummary {
  /** One line per step (plan.ts describe). */
  steps: string[];
  /** Things that change place: `NIC eth0: xenbr0 → xapi1`, `IP 192.0.2.10: xenbr0 → xapi1`, `VIF vif1.0: xenbr1 → xapi2`. */
  moves: string[];
  /** Things that go away for good: bridges deleted, NICs left without a bridge, IPs removed, VIFs unplugged, bonds dissolved. */
  down: string[];
  /** Things taken down and put back in the same place (a re-created bridge, a re-added NIC). */
  interrupted: string[];
  /** Things that appear. */
  up: string[];
}

/** Summarises a plan into moves, downs, interruptions and new things. */
export function summarize(plan: Step[]): PlanSummary {
  const removed = new Map<string, string>();
  const added = new Map<string, string>();
  const label = new Map<string, string>();
  const note = (m: Map<string, string>, key: string, what: string, where: string) => {
    label.set(key, what);
    if (!m.has(key)) m.set(key, where);
  };
  for (const s of plan) {
    switch (s.op) {
      case 'bridge.add':
      case 'bridge.del':
        note(s.op === 'bridge.add' ? added : removed, `bridge:${s.bridge}`, `${s.vlan ? 'VLAN bridge' : 'bridge'} ${s.bridge}`, '');
        break;
      case 'uplink.add':
      case 'uplink.del': {
        const m = s.op === 'uplink.add' ? added : removed;
        const u = s.uplink;
        if (u.kind === 'bond') note(m, `dev:${u.name}`, `bond ${u.name}`, s.bridge);
        for (const d of uplinkDevices(u)) {
          if (u.kind === 'bond' && d === u.name) continue;
          note(m, `dev:${d}`, u.kind === 'tunnel' ? `tunnel ${d}` : `NIC ${d}`, u.kind === 'bond' ? `${s.bridge} (bond ${u.name})` : s.bridge);
        }
        break;
      }
      case 'ip.set':
      case 'ip.clear':
        note(
          s.op === 'ip.set' ? added : removed,
          `ip:${s.ip.mode === 'DHCP' ? `DHCP@${s.bridge}` : s.ip.address}`,
          s.ip.mode === 'DHCP' ? 'IP (DHCP)' : `IP ${s.ip.address}`,
          s.bridge,
        );
        break;
      case 'vif.add':
      case 'vif.del':
        note(s.op === 'vif.add' ? added : removed, `vif:${s.vif}`, `VIF ${s.vif}`, s.bridge);
        break;
    }
  }
  const out: PlanSummary = { steps: plan.map(describe), moves: [], down: [], interrupted: [], up: [] };
  for (const key of new Set([...removed.keys(), ...added.keys()])) {
    const what = label.get(key)!;
    const from = removed.get(key);
    const to = added.get(key);
    if (from !== undefined && to !== undefined) {
      if (from === to) out.interrupted.push(from ? `${what} on ${from}` : what);
      else out.moves.push(`${what}: ${from} → ${to}`);
    } else if (from !== undefined) out.down.push(from ? `${what} (from ${from})` : what);
    else out.up.push(to ? `${what} (on ${to})` : what);
  }
  return out;
}

/** `state` without Bridge.mac, for a backend that cannot give a bridge a MAC of its own (ifcfg: its read() never reports one). */
function withoutBridgeMacs(state: NetState): NetState {
  if (!Object.values(state.bridges).some((b) => b.mac)) return state;
  const bridges = bridgeMap();
  for (const [k, b] of Object.entries(state.bridges)) {
    if (!b.mac) bridges[k] = b;
    else {
      const { mac: _mac, ...rest } = b;
      bridges[k] = rest;
    }
  }
  return { bridges };
}
