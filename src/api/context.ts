// What an implementation of a message sees: the daemon's services and the call's own state.
import type { Logger } from 'winston';
import type { Ty } from '../../schema/index.js';
import type { Store, Txn, View } from '../store/store.js';
import type { PlanSummary } from '../reconciler/reconciler.js';

/** Services shared by every call, owned by the daemon. */
export interface Daemon {
  store: Store;
  log: Logger;
  /** This daemon's host object. */
  hostRef: string;
  /** The pool object (exactly one). */
  poolRef: string;
  /** Encodes a result as the XML-RPC fragment a task's `result` holds. */
  encodeResult(v: unknown, ty: Ty): string;
  /** Checks a user name and password. */
  authenticate(user: string, password: string): Promise<boolean>;
  /** Delay before SESSION_AUTHENTICATION_FAILED, in ms (xapi waits 5 s). */
  authFailDelayMs: number;
  /** Bounds password checks in progress (failing logins wait out their delay holding a slot). */
  loginGate: LoginGate;
  /** A fingerprint of a user's current password hash; undefined if the user does not exist (sessions die with it). */
  userFingerprint(user: string): string | undefined;
  /** Most live sessions (not counting pool sessions); past it the least recently used go. */
  maxSessions: number;
  /** Named services that semantics modules register (reconciler, backend, pool role...). */
  services: Map<string, unknown>;
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
  /** The task running this call, for Async calls. */
  task?: string;
  /** The wire name of the message being run. */
  method: string;
  /** The caller's network address ('' when unknown: tasks, in-process calls). */
  peer?: string;
  /** `root`: the call came from a root process on the local Unix socket (xapi's Context.preauth). */
  preauth?: 'root';
}

/** What an implementation may declare about itself (read by buildMethods). */
export interface ImplFlags {
  /** Takes the write lock itself, when it needs it (login: the password check and its delay run outside it). */
  ownLock?: boolean;
  /** Cannot be dry-run (it acts on other hosts or outside the database): DryRun. fails with this reason. */
  noDryRun?: string;
  /** Answers DryRun. itself (a call that acts on the host outside a transaction): the plan it would apply. */
  dryRun?: (ctx: CallCtx, args: any) => Promise<PlanSummary>;
}

/** Declares flags on an implementation. */
export function withFlags<F extends Impl>(impl: F, flags: ImplFlags): F & { flags: ImplFlags } {
  return Object.assign(impl, { flags: { ...(impl as { flags?: ImplFlags }).flags, ...flags } });
}

/** An implementation's declared flags. */
export function implFlags(impl: Impl): ImplFlags {
  return (impl as { flags?: ImplFlags }).flags ?? {};
}

/**
 * Bounds password checks in progress, per source address and in total. A check holds a slot
 * from before the password is compared until its answer is sent; a failing one keeps it through
 * the --auth-fail-delay wait. A login arriving when its address (or everyone) is at the bound is
 * refused at once, without looking at the password: concurrency cannot turn the delay into a
 * fast guessing oracle (at most perAddress guesses per delay per address).
 */
export class LoginGate {
  private byPeer = new Map<string, number>();
  private total = 0;
  constructor(readonly perAddress: number, readonly max: number) {}
  /** Takes a slot for `peer`; false when a bound is reached. */
  acquire(peer: string): boolean {
    const n = this.byPeer.get(peer) ?? 0;
    if (n >= this.perAddress || this.total >= this.max) return false;
    this.byPeer.set(peer, n + 1);
    this.total++;
    return true;
  }
  /** Gives a slot back. */
  release(peer: string): void {
    const n = (this.byPeer.get(peer) ?? 1) - 1;
    if (n <= 0) this.byPeer.delete(peer);
    else this.byPeer.set(peer, n);
    this.total--;
  }
  /** Slots held (tests). */
  get inUse(): number {
    return this.total;
  }
}

/** An implementation: args arrive checked, converted and with defaults filled in. */
export type Impl = (ctx: CallCtx, args: any) => unknown | Promise<unknown>;
/** Implementations by wire name (`Bond.create`). */
export type Impls = Record<string, Impl>;

/** Milliseconds since the epoch of a XenAPI datetime (`YYYYMMDDTHH:MM:SSZ`); NaN if it is not one. */
export function parseDatetime(s: unknown): number {
  return Date.parse(String(s).replace(/^(\d{4})(\d\d)(\d\d)T/, '$1-$2-$3T'));
}

/** The current time as XenAPI writes datetimes. */
export function now(): string {
  return new Date().toISOString().replace(/-/g, '').replace(/\.\d+Z$/, 'Z');
}
