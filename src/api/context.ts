// What an implementation of a message sees: the daemon's services and the call's own state.
import type { Log } from '../log.js';
import type { LazyMap, ParamsOf, ResultOf, RoleName, Ty, Typed, WireName } from '../../schema/index.js';
import type { Store, Txn, View } from '../store/store.js';
import type { Backend } from '../backends/backend.js';
import type { HostFacts, PlanSummary, Reconciler } from '../reconciler/reconciler.js';

/**
 * The daemon's services, as typed properties. Services defined in layers above this one add
 * themselves to this interface where they are defined (declaration merging: `tasks` in
 * api/tasks.ts, `monitor` in xapi/monitor.ts, `pool` in pool/service.ts), so the import graph
 * stays one-way.
 */
export interface Services {
  /** The host's networking backend: driven by the reconciler only (semantics read the host through CallCtx.facts). */
  backend: Backend;
  /** The one way to the host: every plan (calls, start-up, the slave agent) goes through it, journaled. */
  reconciler: Reconciler;
}

/** Services shared by every call, owned by the daemon. */
export interface Daemon {
  store: Store;
  log: Log;
  /** This daemon's host object. */
  hostRef: string;
  /** The pool object (exactly one). */
  poolRef: string;
  /** Encodes a result as the XML-RPC fragment a task's `result` holds. */
  encodeResult(v: unknown, ty: Ty): string;
  /** Checks a user name and password. */
  authenticate(user: string, password: string): Promise<boolean>;
  /** The RBAC role of a configured user (undefined: not configured). */
  roleOf(user: string): RoleName | undefined;
  /** Delay before SESSION_AUTHENTICATION_FAILED, in ms (xapi waits 5 s). */
  authFailDelayMs: number;
  /** Bounds password checks in progress (failing logins wait out their delay holding a slot). */
  loginGate: LoginGate;
  /** A fingerprint of a user's current password hash; undefined if the user does not exist (sessions die with it). */
  userFingerprint(user: string): string | undefined;
  /** Most live sessions (not counting pool sessions); past it the least recently used go. */
  maxSessions: number;
  /** The daemon's services (typed; the later ones are set as the daemon starts). */
  services: Services;
}

/** One call in progress. */
export interface CallCtx {
  d: Daemon;
  /** The caller's session ref (empty for session-less calls). */
  session: string;
  /** Reads: the transaction's view for writing calls, the committed store otherwise. */
  db: View;
  /** The write transaction (throws if the message is read-only). */
  readonly tx: Txn;
  /** What the call may learn about the host (bridges, NICs): read only, never a backend. */
  facts: HostFacts;
  /** The task running this call, for Async calls. */
  task?: string;
  /** The wire name of the message being run. */
  method: string;
  /** The caller's network address ('' when unknown: tasks, in-process calls). */
  peer?: string;
  /** `root`: the call came from a root process on the local Unix socket (xapi's Context.preauth). */
  preauth?: 'root';
}

/** What an implementation may declare about itself (read by buildMethods); A: its parameters by name. */
export interface ImplFlags<A = Record<string, unknown>> {
  /** Takes the write lock itself, when it needs it (login: the password check and its delay run outside it). */
  ownLock?: boolean;
  /** Cannot be dry-run (it acts on other hosts or outside the database): DryRun. fails with this reason. */
  noDryRun?: string;
  /** Answers DryRun. itself (a call that acts on the host outside a transaction): the plan it would apply. */
  dryRun?: (ctx: CallCtx, args: A) => Promise<PlanSummary>;
}

/** Declares flags on an implementation; a dryRun gets the same named parameters as the implementation. */
export function withFlags<A, R>(impl: (ctx: CallCtx, args: A) => R, flags: ImplFlags<A>): (ctx: CallCtx, args: A) => R {
  return Object.assign(impl, { flags: { ...(impl as { flags?: ImplFlags<A> }).flags, ...flags } });
}

/** An implementation's declared flags (its dryRun called with the named arguments the dispatcher built). */
export function implFlags(impl: AnyImpl): ImplFlags {
  return (impl as { flags?: ImplFlags }).flags ?? {};
}

/**
 * Bounds password checks in progress, per source address and in total. A check holds a slot
 * from before the password is compared until its answer is sent; a failing one keeps it through
 * the --auth-fail-delay wait, a good one gives it back at once. A login finding its address (or
 * everyone) at the bound waits in line for a slot (at most QUEUE_FACTOR times the bound wait);
 * past that it is refused at once, without its password being looked at. So concurrency cannot
 * turn the delay into a fast guessing oracle (an address gets at most perAddress guesses per
 * delay), parallel good logins only wait for each other, and waiting work stays bounded.
 */
export class LoginGate {
  /** How many logins may wait per slot, per address and in total. */
  static readonly QUEUE_FACTOR = 4;
  private byPeer = new Map<string, number>();
  private waitingByPeer = new Map<string, number>();
  private total = 0;
  private waiters: { peer: string; go: () => void }[] = [];
  constructor(
    readonly perAddress: number,
    readonly max: number,
  ) {}

  private free(peer: string): boolean {
    return (this.byPeer.get(peer) ?? 0) < this.perAddress && this.total < this.max;
  }
  private take(peer: string): void {
    this.byPeer.set(peer, (this.byPeer.get(peer) ?? 0) + 1);
    this.total++;
  }

  /** Takes a slot for `peer`, waiting in line if need be; false (at once) when the line is full too. */
  async acquire(peer: string): Promise<boolean> {
    if (this.free(peer) && !this.waiters.some((w) => w.peer === peer)) {
      this.take(peer);
      return true;
    }
    const waiting = this.waitingByPeer.get(peer) ?? 0;
    if (waiting >= this.perAddress * LoginGate.QUEUE_FACTOR || this.waiters.length >= this.max * LoginGate.QUEUE_FACTOR) return false;
    this.waitingByPeer.set(peer, waiting + 1);
    await new Promise<void>((go) => this.waiters.push({ peer, go }));
    return true; // release() took the slot for us
  }

  /** Gives a slot back; the first waiters that now fit get theirs. */
  release(peer: string): void {
    const n = (this.byPeer.get(peer) ?? 1) - 1;
    if (n <= 0) this.byPeer.delete(peer);
    else this.byPeer.set(peer, n);
    this.total--;
    for (let i = 0; i < this.waiters.length && this.total < this.max;) {
      const w = this.waiters[i];
      if (!this.free(w.peer)) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      const left = (this.waitingByPeer.get(w.peer) ?? 1) - 1;
      if (left <= 0) this.waitingByPeer.delete(w.peer);
      else this.waitingByPeer.set(w.peer, left);
      this.take(w.peer);
      w.go();
    }
  }

  /** Slots held (tests). */
  get inUse(): number {
    return this.total;
  }
}

/** Values an implementation may return besides its declared result: the encoder streams or types them. */
export type Encoded = LazyMap | Typed;
/**
 * The implementation of message W: its parameters by name (schema/model.ts ParamsOf), checked,
 * converted and with defaults filled in by the dispatcher; it returns the message's result type.
 */
export type Impl<W extends WireName> = (ctx: CallCtx, args: ParamsOf<W>) => ResultOf<W> | Encoded | Promise<ResultOf<W> | Encoded>;
/**
 * An implementation of some message, as the method table holds it (arguments by name). Its
 * arguments are typed where it is declared (Impls); the table only passes namedArgs through.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyImpl = (ctx: CallCtx, args: any) => unknown;
/** Implementations by wire name (`Bond.create`), each typed by its message. */
export type Impls = { [W in WireName]?: Impl<W> };

/** Milliseconds since the epoch of a XenAPI datetime (`YYYYMMDDTHH:MM:SSZ`); NaN if it is not one. */
export function parseDatetime(s: unknown): number {
  return Date.parse(String(s).replace(/^(\d{4})(\d\d)(\d\d)T/, '$1-$2-$3T'));
}

/** The current time as XenAPI writes datetimes. */
export function now(): string {
  return new Date()
    .toISOString()
    .replace(/-/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
