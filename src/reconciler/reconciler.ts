// The reconciler: at the end of every write transaction it derives the host's desired
// networking from the transaction's view of the database, diffs it against the backend's
// actual state and applies the plan. A failed plan fails the transaction (the backend has
// undone its own steps); a failed commit undoes the plan. Nothing else drives a backend.
import type { Backend, NetState, Step } from '../backends/backend.js';
import { BackendError } from '../backends/backend.js';
import { ApiError } from '../errors.js';
import type { Store, Txn, View } from '../store/store.js';
import { desiredState } from './desired.js';
import { describe, diff, invert } from './plan.js';

/** Result of a reconciliation: the plan applied (or that would be, for a dry run). */
export interface Reconciled {
  plan: Step[];
  lines: string[];
}

/** Options read by the reconciler from the transaction's scratch space. */
export const DRY_RUN = 'reconciler.dryRun';
/** The PIF a failure is reported against (PIF_CONFIGURATION_ERROR [pif, msg]). */
export const CULPRIT = 'reconciler.pif';

export class Reconciler {
  /** Plans applied since start (tests, benchmarks). */
  applied = 0;
  /** The last plan applied or computed. */
  last: Reconciled = { plan: [], lines: [] };

  constructor(readonly backend: Backend, readonly host: () => string, private log?: { info(m: string): void }) {}

  /** Hooks the reconciler into every write transaction of `store`. */
  attach(store: Store): void {
    store.onPrecommit((tx) => this.precommit(tx));
  }

  /** The plan that would bring the host to what `db` says. */
  async plan(db: View): Promise<Reconciled> {
    const actual = await this.backend.read();
    const plan = diff(actual, desiredState(db, this.host()));
    return { plan, lines: plan.map(describe) };
  }

  private async precommit(tx: Txn): Promise<void> {
    const r = await this.plan(tx);
    this.last = r;
    if (tx.scratch.get(DRY_RUN)) {
      // A dry run reports the plan and changes nothing: the transaction is abandoned.
      throw new DryRun(r);
    }
    if (r.plan.length === 0) return;
    try {
      await this.backend.apply(r.plan);
    } catch (e) {
      const msg = e instanceof BackendError ? `step ${e.step + 1} of ${r.plan.length} (${r.lines[e.step] ?? '?'}): ${e.message}` : String((e as Error)?.message ?? e);
      throw new ApiError('PIF_CONFIGURATION_ERROR', [String(tx.scratch.get(CULPRIT) ?? 'OpaqueRef:NULL'), msg]);
    }
    this.applied++;
    this.log?.info(`reconciler: applied ${r.plan.length} steps: ${r.lines.join('; ')}`);
    // If the commit fails after this point, put the host back as it was.
    const inverse = r.plan.map(invert).reverse();
    tx.undo.push(() => this.backend.apply(inverse));
  }

  /** Brings the host to the committed database (start-up, crash recovery). */
  async reconcileNow(db: View): Promise<Reconciled> {
    const r = await this.plan(db);
    if (r.plan.length) await this.backend.apply(r.plan);
    return r;
  }

  /** The backend's actual state. */
  actual(): Promise<NetState> {
    return this.backend.read();
  }
}

/** Thrown to abandon a dry-run transaction, carrying its plan. */
export class DryRun extends Error {
  constructor(readonly result: Reconciled) {
    super('dry run');
    this.name = 'DryRun';
  }
}
