// session.login_with_password / logout / local_logout. Sessions are rows of the session
// class, so they survive a restart and a client's refs stay valid.
import { scrypt as scryptCb, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ApiError } from '../errors.js';
import { NULL_REF, type Store } from '../store/store.js';
import { now, parseDatetime, type CallCtx, type Impls } from './context.js';
import { forgetSessionActivity, sessionLastActive } from './dispatch.js';
import { LOCAL_SUPERUSER, loginIdentity } from './rbac.js';
import type { RoleName } from '../../schema/index.js';

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
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length, { N: Number(N), r: Number(r), p: Number(p), maxmem: 256 * Number(N) * Number(r) });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** xapi destroys sessions idle for this long (xapi_globs: 24 hours). */
export const SESSION_IDLE_MS = 24 * 3600 * 1000;

/**
 * Destroys sessions idle longer than SESSION_IDLE_MS. Activity is tracked in memory (a getter
 * must not write); a session not used since the daemon started counts from its last_active.
 */
export async function expireSessions(store: Store, at = Date.now()): Promise<number> {
  const idle: string[] = [];
  for (const [ref, r] of store.rows('session')) {
    const last = sessionLastActive(ref) ?? parseDatetime(r.last_active);
    if (at - last > SESSION_IDLE_MS) idle.push(ref);
  }
  if (idle.length) {
    await store.write((tx) => idle.forEach((ref) => tx.exists('session', ref) && tx.destroy('session', ref)));
    idle.forEach(forgetSessionActivity);
  }
  return idle.length;
}

/** xapi keeps at most this many sessions per originator (oldest evicted). */
const MAX_SESSIONS_PER_ORIGINATOR = 500;

async function login(ctx: CallCtx, [uname, pwd, _version, originator]: string[]) {
  // A root process on the local Unix socket is trusted without a password, whatever the user
  // name it gives (xapi_session.ml login_with_password, `Some `root`): the local superuser.
  if (ctx.preauth !== 'root' && !(await ctx.d.authenticate(uname, pwd))) {
    // xapi delays a failed login to slow password guessing.
    await new Promise((r) => setTimeout(r, ctx.d.authFailDelayMs));
    throw new ApiError('SESSION_AUTHENTICATION_FAILED', [uname, 'Authentication failure']);
  }
  const tx = ctx.tx;
  const mine = tx.where('session', (r) => r.originator === originator && r.auth_user_name === uname);
  if (mine.length >= MAX_SESSIONS_PER_ORIGINATOR) {
    const byAge = mine.sort((a, b) => (sessionLastActive(a) ?? 0) - (sessionLastActive(b) ?? 0));
    for (const old of byAge.slice(0, mine.length - MAX_SESSIONS_PER_ORIGINATOR + 1)) {
      tx.destroy('session', old);
      forgetSessionActivity(old);
    }
  }
  const t = now();
  return tx.create('session', {
    this_host: ctx.d.hostRef,
    this_user: NULL_REF,
    last_active: t,
    pool: false,
    // RBAC identity: the local root peer is the local superuser whatever name it gave.
    ...(ctx.preauth === 'root' ? LOCAL_SUPERUSER : loginIdentity(tx, uname, ctx.d.roleOf(uname))),
    validation_time: t,
    auth_user_name: uname,
    originator,
  });
}

function logout(ctx: CallCtx) {
  ctx.tx.destroy('session', ctx.session);
  forgetSessionActivity(ctx.session);
}

/** Implementations of the session class's messages. */
export const sessionImpls: Impls = {
  'session.login_with_password': login,
  'session.logout': logout,
  'session.local_logout': logout,
};
