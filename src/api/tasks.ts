// Async.<Class>.<message>: a task record is created, the call runs in the background with
// the caller's session, and its outcome lands in the task (result as an XML-RPC fragment,
// as xapi's taskHelper writes it, even for JSON-RPC clients).
import { assertTaskOp } from './rbac.js';
import { describeError, ApiError } from '../errors.js';
import { NULL_REF } from '../store/store.js';
import { now, parseDatetime, type Daemon, type Impls } from './context.js';
import type { Dispatcher } from './dispatch.js';
import type { Method } from './methods.js';
import { expireSessions } from './session.js';

/** Completed tasks are removed after this long (xapi: ~65 minutes). */
const COMPLETED_TTL_MS = 65 * 60 * 1000;
/** Pending tasks are removed after this long (xapi: 24 hours). */
const PENDING_TTL_MS = 24 * 3600 * 1000;

declare module './context.js' {
  interface Services {
    /** Runs Async calls as tasks (set once the dispatcher exists). */
    tasks?: Tasks;
  }
}

/** Runs Async calls as tasks. */
export class Tasks {
  private gcTimer: NodeJS.Timeout;
  private running = new Set<Promise<void>>();
  constructor(
    private d: Daemon,
    private dispatcher: Dispatcher,
  ) {
    // Once a minute: old tasks, and sessions idle for a day.
    this.gcTimer = setInterval(
      () =>
        void this.gc()
          .then(() => expireSessions(d.store))
          .catch(() => {}),
      60_000,
    );
    this.gcTimer.unref();
  }

  /** Creates the task and starts the call; resolves to the task ref at once. */
  async submit(m: Method, session: string, values: unknown[]): Promise<string> {
    // The task exists at once, even while another call holds the write lock.
    const task = this.d.store.createNow((tx) =>
      tx.create('task', {
        name_label: `Async.${m.wire}`,
        name_description: '',
        allowed_operations: ['cancel'],
        created: now(),
        status: 'pending',
        resident_on: this.d.hostRef,
        progress: 0,
        session,
      }),
    );
    const p = this.execute(m, session, values, task).finally(() => this.running.delete(p));
    this.running.add(p);
    return task;
  }

  private async execute(m: Method, session: string, values: unknown[], task: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const row = this.d.store.find('task', task);
    if (!row) return; // destroyed before it started
    if (row.status === 'cancelling') {
      await this.finish(task, { status: 'cancelled', error_info: ['TASK_CANCELLED', task] });
      return;
    }
    try {
      const v = await this.dispatcher.run(m, session, values, task);
      await this.finish(task, { status: 'success', result: this.d.encodeResult(v, m.msg.result) });
    } catch (e) {
      const desc = describeError(e);
      if (!(e instanceof ApiError)) this.d.log.error(`task ${m.wire}: ${(e as Error)?.stack ?? e}`);
      await this.finish(task, { status: desc[0] === 'TASK_CANCELLED' ? 'cancelled' : 'failure', error_info: desc });
    }
  }

  private async finish(task: string, patch: Record<string, unknown>): Promise<void> {
    await this.d.store.write((tx) => {
      if (!tx.exists('task', task)) return;
      tx.set('task', task, { ...patch, progress: 1, finished: now(), allowed_operations: [] });
    });
  }

  /** Waits for every task under way (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  /** Removes old tasks. */
  async gc(at = Date.now()): Promise<void> {
    const old: string[] = [];
    for (const [ref, r] of this.d.store.rows('task')) {
      const age = at - parseDatetime(r.status === 'pending' ? r.created : r.finished);
      if (age > (r.status === 'pending' ? PENDING_TTL_MS : COMPLETED_TTL_MS)) old.push(ref);
    }
    if (old.length) await this.d.store.write((tx) => old.forEach((r) => tx.exists('task', r) && tx.destroy('task', r)));
  }

  /** Stops the collector. */
  close(): void {
    clearInterval(this.gcTimer);
  }
}

/** Implementations of the task class's messages. */
export const taskImpls: Impls = {
  'task.create': (ctx, { label, description }) =>
    ctx.tx.create('task', {
      name_label: label,
      name_description: description,
      created: now(),
      status: 'pending',
      resident_on: ctx.d.hostRef,
      progress: 0,
      session: ctx.session,
      subtask_of: NULL_REF,
    }),
  'task.destroy': (ctx, { self: task }) => {
    ctx.tx.get('task', task);
    assertTaskOp(ctx.db, ctx.session, task);
    ctx.tx.destroy('task', task);
  },
  // task.cancel takes no write lock: a task queued behind a long write must be reachable. The
  // flag is read by the task when its turn comes (Dispatcher.run); a running task completes.
  'task.cancel': (ctx, { task }) => {
    const r = ctx.db.get('task', task);
    assertTaskOp(ctx.db, ctx.session, task);
    if (r.status !== 'pending') throw new ApiError('OPERATION_NOT_ALLOWED', [`task ${task} is ${String(r.status)}, not pending`]);
    ctx.d.store.setNow('task', task, { status: 'cancelling', allowed_operations: [] });
  },
};
