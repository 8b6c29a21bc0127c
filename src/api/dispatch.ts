// The dispatcher: every call goes through the same steps, in xapi's order (gen_server.ml):
// strip Async., find the method (unknown: session check, then MESSAGE_METHOD_UNKNOWN),
// arity, unmarshal, session, async mode, then the implementation in one transaction.
import { T, classDef } from '../../schema/index.js';
import { ApiError, describeError } from '../errors.js';
import type { Preauth, RpcOutcome } from '../wire/http.js';
import type { RpcCall } from '../wire/values.js';
import { clone, type Row, type View } from '../store/store.js';
import { coerce } from './check.js';
import { implFlags, type CallCtx, type Daemon } from './context.js';
import { checkConstructorRecord, namedArgs, type Method } from './methods.js';
import { assertPermitted } from './rbac.js';
import { sessionTable, sessionUserValid, type SessionTable } from './session.js';
import { DryRun, summarize, type PlanSummary, type RemotePlan } from '../reconciler/reconciler.js';

/** A plan summary with other hosts' plans (a forwarded dry run, asked now that no lock is held) added, each line prefixed by its host. */
async function withRemote(local: PlanSummary, remote: RemotePlan[]): Promise<PlanSummary> {
  const out = { ...local };
  for (const r of remote) {
    const summary = await r.plan();
    for (const k of ['steps', 'moves', 'down', 'interrupted', 'up'] as const) out[k] = [...out[k], ...(summary[k] ?? []).map((l) => `${r.host}: ${l}`)];
  }
  return out;
}

/** The dispatcher. */
export class Dispatcher {
  constructor(
    readonly d: Daemon,
    readonly methods: Map<string, Method>,
  ) {}

  /** The host-facts port every call's context carries. */
  private get facts() {
    return this.d.services.reconciler.facts;
  }

  /** Sync wire names of every callable message (system.listMethods). */
  listMethods(): string[] {
    return [...this.methods.values()]
      .filter((m) => !m.msg.hidden)
      .map((m) => m.wire)
      .concat(['system.listMethods']);
  }

  /**
   * Answers one call; never throws. A read-only call whose implementation answers at once is
   * answered at once (no promise): most calls are reads, and the hops cost as much as the read.
   */
  call(call: RpcCall, _transport: 'xmlrpc' | 'jsonrpc', preauth?: Preauth, peer = ''): RpcOutcome | Promise<RpcOutcome> {
    try {
      const out = this.dispatch(call.method, call.params, preauth, peer);
      return out instanceof Promise ? out.then(undefined, (e: unknown) => this.failed(call, e)) : out;
    } catch (e) {
      return this.failed(call, e);
    }
  }

  private failed(call: RpcCall, e: unknown): RpcOutcome {
    if (!(e instanceof ApiError)) this.d.log.error(`${call.method}: ${(e as Error)?.stack ?? String(e)}`);
    return { ok: false, error: describeError(e) };
  }

  private dispatch(name: string, params: unknown[], preauth: Preauth | undefined, peer: string): RpcOutcome | Promise<RpcOutcome> {
    if (name === 'system.listMethods') return { ok: true, value: this.listMethods(), ty: T.set(T.string), bare: true };
    let wire = name;
    let isAsync = false;
    // `DryRun.<Class>.<message>`: run the call, return its host plan instead of its result, change nothing.
    // Prefixes looked for only when the first letter can start one (most calls have none).
    const c0 = wire.charCodeAt(0);
    const dryRun = c0 === 68 /* D */ && wire.startsWith('DryRun.');
    if (dryRun) wire = wire.slice('DryRun.'.length);
    if (dryRun || c0 === 65 /* A */ || c0 === 73 /* I */) {
      for (const prefix of ASYNC_PREFIXES) {
        if (wire.startsWith(prefix)) {
          wire = wire.slice(prefix.length);
          isAsync = true;
        }
      }
    }
    const m = this.lookup(wire);
    if (!m) {
      if (params.length >= 1) this.checkSession(params[0]);
      throw new ApiError('MESSAGE_METHOD_UNKNOWN', [name]);
    }
    const hasSession = m.msg.session !== false;
    const first = hasSession ? 1 : 0; // the arguments follow the session
    const decl = m.msg.params;
    const required = requiredCount(m);
    const received = params.length - first;
    const hasDefaults = required < decl.length;
    if (hasDefaults ? received < required : received !== decl.length) {
      throw new ApiError('MESSAGE_PARAMETER_COUNT_MISMATCH', [m.wire, String(required), String(received)]);
    }
    const values: unknown[] = new Array(decl.length);
    for (let i = 0; i < decl.length; i++) {
      const p = decl[i];
      if (i >= received) values[i] = clone(p.default);
      else if (p.ty.k === 'record') values[i] = checkConstructorRecord(classDef(p.ty.cls)!, params[first + i]);
      else values[i] = coerce(params[first + i], p.ty, p.name);
    }
    const srow = hasSession ? this.sessionRow(params[0]) : undefined;
    const session = hasSession ? (params[0] as string) : '';
    // xapi's Session_check with intra_pool_only: pool-internal messages take a pool session only.
    if (m.msg.poolInternal && srow?.pool !== true) {
      throw new ApiError('INTERNAL_ERROR', [`Internal API "${m.wire}" call attempted with non-pool (external) session`]);
    }
    // RBAC, before any work (Async. and DryRun. need the permission of the call they wrap).
    if (hasSession) assertPermitted(this.d.store, session, m, values, srow);
    if (dryRun) {
      if (isAsync) throw new ApiError('Fault', [`No dry run for an Async call (rpc: ${name})`]);
      const why = implFlags(m.impl).noDryRun;
      if (why) throw new ApiError('Fault', [`No dry run for ${m.wire}: ${why} (rpc: ${name})`]);
      return this.dryRun(m, session, values, peer).then((plan) => ({ ok: true, value: { method: m.wire, ...plan }, ty: T.any }));
    }
    if (isAsync) {
      if (!m.msg.async) throw new ApiError('Fault', [`No async mode for this operation (rpc: ${m.wire})`]);
      const tasks = this.d.services.tasks;
      if (!tasks) throw new ApiError('INTERNAL_ERROR', ['task service not running']);
      return tasks.submit(m, session, values).then((ref) => ({ ok: true, value: ref, ty: T.ref('task') }));
    }
    const ty = m.msg.result;
    if (!m.write) {
      const value = m.impl(new ReadCtx(this.d, session, undefined, m.wire, preauth, peer, this.facts), namedArgs(m.msg, values));
      return value instanceof Promise ? value.then((v) => ({ ok: true, value: v, ty })) : { ok: true, value, ty };
    }
    return this.run(m, session, values, undefined, preauth, peer).then((value) => ({ ok: true, value, ty }));
  }

  /** Runs a method's implementation: in a write transaction unless it only reads. */
  async run(m: Method, session: string, values: unknown[], task?: string, preauth?: Preauth, peer = ''): Promise<unknown> {
    // A task cancelled while it waited for its turn ends there, before doing anything.
    const cancelled = (db: { find(c: string, r: string): Record<string, unknown> | undefined }) => {
      if (task && db.find('task', task)?.status === 'cancelling') throw new ApiError('TASK_CANCELLED', [task]);
    };
    if (!m.write) {
      cancelled(this.d.store);
      return await m.impl(new ReadCtx(this.d, session, task, m.wire, preauth, peer, this.facts), namedArgs(m.msg, values));
    }
    return await this.d.store.write(async (tx) => {
      tx.ctx.method = m.wire;
      cancelled(tx);
      const ctx: CallCtx = { d: this.d, session, db: tx, tx, task, method: m.wire, preauth, peer, facts: this.facts };
      return await m.impl(ctx, namedArgs(m.msg, values));
    });
  }

  /** Runs a write method in a transaction that the reconciler abandons with its plan (DryRun); nothing is applied or stored. */
  private async dryRun(m: Method, session: string, values: unknown[], peer: string): Promise<PlanSummary> {
    const own = implFlags(m.impl).dryRun;
    if (own)
      return await own(
        {
          d: this.d,
          session,
          db: this.d.store,
          method: m.wire,
          peer,
          facts: this.facts,
          get tx(): never {
            throw new Error('dry run');
          },
        },
        namedArgs(m.msg, values),
      );
    if (!m.write) return summarize([]);
    let remote: RemotePlan[] = [];
    try {
      await this.d.store.write(async (tx) => {
        remote = [];
        tx.ctx.method = m.wire;
        tx.ctx.dryRun = { remote };
        const ctx: CallCtx = { d: this.d, session, db: tx, tx, method: m.wire, facts: this.facts };
        return await m.impl(ctx, namedArgs(m.msg, values));
      });
    } catch (e) {
      if (e instanceof DryRun) return await withRemote(summarize(e.result.plan), remote);
      throw e;
    }
    return summarize([]); // the call wrote nothing
  }

  /** The method for a wire name, accepting xapi's legacy `Class_message` spelling. */
  lookup(wire: string): Method | undefined {
    const m = this.methods.get(wire);
    if (m) return m;
    const i = wire.indexOf('_');
    if (!wire.includes('.') && i > 0) return this.methods.get(`${wire.slice(0, i)}.${wire.slice(i + 1)}`);
    return undefined;
  }

  /**
   * A valid session ref, or SESSION_INVALID [ref]: also for a value that is not a string (a
   * struct, a number), and for a session whose user is gone or whose password changed.
   */
  checkSession(p: unknown): string {
    this.sessionRow(p);
    return p as string;
  }

  /** checkSession, answering the session's row. */
  private sessionRow(p: unknown): Row {
    if (typeof p !== 'string') throw new ApiError('SESSION_INVALID', [describeValue(p)]);
    const row = this.d.store.find('session', p);
    if (!row || !sessionUserValid(row, this.fingerprint)) throw new ApiError('SESSION_INVALID', [p]);
    (this.sessions ??= sessionTable(this.d.store)).touch(p);
    return row;
  }
  /** The store's session table, looked up once (a WeakMap read per call before). */
  private sessions: SessionTable | undefined;
  private readonly fingerprint = (u: string) => this.d.userFingerprint(u);
}

const ASYNC_PREFIXES = ['Async.', 'InternalAsync.'];

/** How many of a message's parameters have no default (the least a call must send). */
const requiredCounts = new WeakMap<Method, number>();
function requiredCount(m: Method): number {
  let n = requiredCounts.get(m);
  if (n === undefined) requiredCounts.set(m, (n = m.msg.params.filter((p) => p.default === undefined).length));
  return n;
}

/** The context of a read-only call: a class, so the hot read path makes no closures per call. */
class ReadCtx implements CallCtx {
  readonly db: View;
  constructor(
    readonly d: Daemon,
    readonly session: string,
    readonly task: string | undefined,
    readonly method: string,
    readonly preauth: Preauth | undefined,
    readonly peer: string,
    readonly facts: CallCtx['facts'],
  ) {
    this.db = d.store;
  }
  get tx(): never {
    throw new Error(`${this.method} is read-only`);
  }
}

/** A short text for a value of any type (never throws: a null-prototype struct has no toString). */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return Array.isArray(v) ? '(array)' : '(struct)';
  return String(v);
}
