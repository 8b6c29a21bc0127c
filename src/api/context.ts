// What an implementation of a message sees: the daemon's services and the call's own state.
import type { Logger } from 'winston';
import type { RoleName, Ty } from '../../schema/index.js';
import type { Store, Txn, View } from '../store/store.js';

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
  /** The RBAC role of a configured user (undefined: not configured). */
  roleOf(user: string): RoleName | undefined;
  /** Delay before SESSION_AUTHENTICATION_FAILED, in ms (xapi waits 5 s). */
  authFailDelayMs: number;
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
  /** `root`: the call came from a root process on the local Unix socket (xapi's Context.preauth). */
  preauth?: 'root';
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
