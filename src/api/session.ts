// session.login_with_password / logout / local_logout. Sessions are rows of the session
// class, so they survive a restart and a client's refs stay valid.
import { createHash, scrypt as scryptCb, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ApiError } from '../errors.js';
import { NULL_REF, type Store, type Txn } from '../store/store.js';
import { now, parseDatetime, withFlags, type CallCtx, type Daemon, type Impls } from './context.js';
import { loginIdentity } from './rbac.js';
import type { ParamsOf, RoleName } from '../../schema/index.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;

/** A user with an scrypt hash: `scrypt$N$r$p$salt(b64)$hash(b64)`, and its RBAC role (default pool-admin). */
export interface UserEntry {
  name: string;
  hash: string;
  role?: RoleName;
}

/** Hashes a password for a users file. */
export async function hashPassword(password: string, N = 16384): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, { N, r: 8, p: 1 });
  return `scrypt$${N}$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Checks a password against an scrypt hash in constant time. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, N, r, p, salt, key] = parts;
  const want = Buffer.from(key, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length, {
    N: Number(N),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * Number(N) * Number(r),
  });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** xapi destroys sessions idle for this long (xapi_globs: 24 hours). */
export const SESSION_IDLE_MS = 24 * 3600 * 1000;

/**
 * The live sessions as login and eviction need them, kept in step with the store by its commit
 * listener: least recently used first (a Map re-inserted on use), and xapi's session groups
 * (db_gc_util.ml timeout_sessions): root (or nameless) sessions by originator, others by user
 * name, root sessions without an originator together. A login costs the same at 0 and at
 * 50,000 sessions.
 */
export class SessionTable {
  /** ref → last use (ms), least recently used first. */
  readonly order = new Map<string, number>();
  private groups = new Map<string, Set<string>>();
  private groupOf = new Map<string, string>();
  /** Pool (intra-pool login) sessions: never evicted, not counted against --max-sessions. */
  readonly pool = new Set<string>();

  constructor(private store: Store) {
    const rows = [...store.rows('session')].map(([ref, r]) => [ref, parseDatetime(r.last_active)] as const);
    rows.sort((a, b) => a[1] - b[1]);
    for (const [ref, t] of rows) this.add(ref, Number.isNaN(t) ? 0 : t);
    store.onCommit((_gen, changes) => {
      for (const c of changes) {
        if (c.cls !== 'session') continue;
        const live = store.find('session', c.ref) !== undefined;
        if (live && !this.order.has(c.ref)) this.add(c.ref, Date.now());
        else if (!live && this.order.has(c.ref)) this.remove(c.ref);
      }
    });
  }

  private add(ref: string, t: number): void {
    const r = this.store.get('session', ref);
    this.order.set(ref, t);
    this.latest = ref; // appended last
    if (r.pool === true) {
      this.pool.add(ref);
      return;
    }
    const key = sessionGroup(String(r.auth_user_name), String(r.originator));
    this.groupOf.set(ref, key);
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = new Set()));
    g.add(ref);
  }

  private remove(ref: string): void {
    this.order.delete(ref);
    if (ref === this.latest) this.latest = undefined;
    this.pool.delete(ref);
    const key = this.groupOf.get(ref);
    if (key === undefined) return;
    this.groupOf.delete(ref);
    const g = this.groups.get(key)!;
    g.delete(ref);
    if (g.size === 0) this.groups.delete(key);
  }

  /** Records a use of a session (it becomes the most recently used). */
  touch(ref: string): void {
    if (ref === this.latest) {
      // Already the most recently used: only the time changes (a set keeps a Map's order). `latest`
      // is always in `order` (remove clears it), so no lookup first: this runs on every call.
      this.order.set(ref, Date.now());
      return;
    }
    if (!this.order.has(ref)) return;
    this.order.delete(ref);
    this.order.set(ref, Date.now());
    this.latest = ref;
  }
  /** The session touched last (re-inserting it would not change the order). */
  private latest: string | undefined;

  /** Live sessions of a group. */
  group(key: string): ReadonlySet<string> {
    return this.groups.get(key) ?? new Set();
  }

  /** Live sessions counted against --max-sessions. */
  get size(): number {
    return this.order.size - this.pool.size;
  }
}

const tables = new WeakMap<Store, SessionTable>();
/** The session table of a store (built on first use). */
export function sessionTable(store: Store): SessionTable {
  let t = tables.get(store);
  if (!t) tables.set(store, (t = new SessionTable(store)));
  return t;
}

/** xapi's per-group limit (max_sessions_per_originator / per_user_name), and for root without an originator (max_sessions). */
export const GROUP_LIMIT = 500;
export const ANONYMOUS_LIMIT = 400;

/** xapi's session group of a login (db_gc_util.ml): root by originator, other users by name. */
export function sessionGroup(user: string, originator: string): string {
  if (user === '' || user === 'root') return originator === '' ? 'anonymous' : `originator:${originator}`;
  return `username:${user}`;
}

/**
 * Destroys sessions idle longer than SESSION_IDLE_MS. Activity is tracked in memory (a getter
 * must not write); a session not used since the daemon started counts from its last_active.
 */
export async function expireSessions(store: Store, at = Date.now()): Promise<number> {
  const table = sessionTable(store);
  const idle: string[] = [];
  for (const [ref, last] of table.order) {
    if (at - last <= SESSION_IDLE_MS) break; // least recently used first: the rest are newer
    idle.push(ref);
  }
  if (idle.length) await store.write((tx) => idle.forEach((ref) => tx.exists('session', ref) && tx.destroy('session', ref)));
  return idle.length;
}

/**
 * Sessions whose user is gone from --users, or whose password hash changed since the login,
 * are destroyed at start-up (and refused by the dispatcher afterwards). Pool sessions stay:
 * they rest on the pool secret.
 */
export function purgeStaleSessions(tx: Txn, fingerprint: (user: string) => string | undefined): number {
  let n = 0;
  for (const ref of tx.refs('session')) {
    if (!sessionUserValid(tx.get('session', ref), fingerprint)) {
      tx.destroy('session', ref);
      n++;
    }
  }
  return n;
}

/** auth_fingerprint of a session opened by a root process on the local Unix socket (no password: valid whatever --users says). */
const PREAUTH_ROOT = 'preauth:root';

/** True when a session's user still exists with the password hash it logged in with (pool and local-root sessions: always). */
export function sessionUserValid(r: Record<string, unknown>, fingerprint: (user: string) => string | undefined): boolean {
  if (r.pool === true || r.auth_fingerprint === PREAUTH_ROOT) return true;
  const fp = fingerprint(String(r.auth_user_name));
  return fp !== undefined && fp === r.auth_fingerprint;
}

/** Compares two secrets (pool secret, tokens) in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A short fingerprint of a password hash, stored with each session (never the hash itself). */
export function hashFingerprint(hash: string): string {
  return createHash('sha256').update(`xenapi-netd session\0${hash}`).digest('base64').slice(0, 22);
}

/** Why a login is refused while the LoginGate's line is full: a refusal for now, not of the credentials. */
export const LOGINS_BUSY = 'Too many logins in progress; try again later';

/** A login's refusal while the LoginGate's line is full (what a caller gets; see gatedAuth's `busy`). */
export function loginsBusy(who: string): ApiError {
  return new ApiError('SESSION_AUTHENTICATION_FAILED', [who, LOGINS_BUSY]);
}

/**
 * Runs a password check under the daemon's LoginGate (waiting in line for a slot, refused at once
 * with `busy(who)` when the line is full); a failure waits --auth-fail-delay holding its slot,
 * outside any lock, then fails.
 */
export async function gatedCheck(ctx: CallCtx, uname: string, check: () => Promise<boolean>, busy: (who: string) => ApiError = loginsBusy): Promise<void> {
  return gatedAuth(ctx.d, ctx.peer ?? '', check, uname, busy);
}

/** gatedCheck for a credential that does not arrive in an API call (HTTP Basic, a node's Bearer token): the same gate and delay. */
export async function gatedAuth(
  d: Pick<Daemon, 'loginGate' | 'authFailDelayMs'>,
  peer: string,
  check: () => Promise<boolean>,
  who: string,
  busy: (who: string) => ApiError = loginsBusy,
): Promise<void> {
  if (!(await d.loginGate.acquire(peer))) throw busy(who);
  try {
    if (await check()) return;
    // xapi delays a failed login to slow password guessing; only this caller waits.
    await new Promise((r) => setTimeout(r, d.authFailDelayMs));
    throw new ApiError('SESSION_AUTHENTICATION_FAILED', [who, 'Authentication failure']);
  } finally {
    d.loginGate.release(peer);
  }
}

/**
 * Creates a session row in `tx`, first making room: the oldest sessions of its xapi group past
 * the group's limit, and the least recently used past --max-sessions (pool sessions never).
 */
export function createSession(ctx: CallCtx, tx: Txn, fields: Record<string, unknown>): string {
  const table = sessionTable(ctx.d.store);
  const t = now();
  const row = {
    this_host: ctx.d.hostRef,
    this_user: NULL_REF,
    last_active: t,
    pool: false,
    is_local_superuser: true,
    subject: NULL_REF,
    validation_time: t,
    auth_user_sid: '',
    auth_user_name: '',
    originator: '',
    ...fields,
  };
  if (row.pool !== true) {
    const key = sessionGroup(String(row.auth_user_name), String(row.originator));
    const limit = key === 'anonymous' ? ANONYMOUS_LIMIT : GROUP_LIMIT;
    const group = [...table.group(key)].filter((ref) => tx.exists('session', ref));
    let evicted = 0;
    if (group.length >= limit) {
      group.sort((a, b) => (table.order.get(a) ?? 0) - (table.order.get(b) ?? 0));
      for (const old of group.slice(0, group.length - limit + 1)) {
        tx.destroy('session', old);
        evicted++;
      }
    }
    let excess = table.size - evicted - ctx.d.maxSessions + 1;
    for (const [ref] of table.order) {
      if (excess <= 0) break;
      if (table.pool.has(ref) || !tx.exists('session', ref)) continue;
      tx.destroy('session', ref);
      excess--;
    }
  }
  return tx.create('session', row);
}

async function login(ctx: CallCtx, { uname, pwd, originator }: ParamsOf<'session.login_with_password'>) {
  // A root process on the local Unix socket is trusted without a password, whatever the user
  // name it gives (xapi_session.ml login_with_password, `Some `root`): the local superuser.
  if (ctx.preauth === 'root') {
    return ctx.d.store.write((tx) => createSession(ctx, tx, { auth_user_name: uname, originator, auth_fingerprint: PREAUTH_ROOT }));
  }
  await gatedCheck(ctx, uname, () => ctx.d.authenticate(uname, pwd));
  const fp = ctx.d.userFingerprint(uname);
  return ctx.d.store.write((tx) =>
    createSession(ctx, tx, { ...loginIdentity(tx, uname, ctx.d.roleOf(uname)), auth_user_name: uname, originator, auth_fingerprint: fp ?? '' }),
  );
}

function logout(ctx: CallCtx) {
  ctx.tx.destroy('session', ctx.session);
}

/** Implementations of the session class's messages. */
export const sessionImpls: Impls = {
  'session.login_with_password': withFlags(login, { ownLock: true }),
  'session.logout': logout,
  'session.local_logout': logout,
  // xapi_session.ml get_all_subject_identifiers: the sids of every session that is not the local superuser's, and of their subjects.
  'session.get_all_subject_identifiers': (ctx) => {
    const sids = new Set<string>();
    for (const [, s] of ctx.db.rows('session')) {
      if (s.is_local_superuser) continue;
      sids.add(String(s.auth_user_sid));
      const subject = s.subject !== NULL_REF ? ctx.db.find('subject', String(s.subject)) : undefined;
      if (subject && subject.subject_identifier !== '') sids.add(String(subject.subject_identifier));
    }
    return [...sids];
  },
};
