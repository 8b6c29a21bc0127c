// The pool's messages: pool.join / pool.eject, the pool-internal host.* and session.slave_login
// messages, host.sync_vlans / sync_tunnels / sync_bonds, and session.login_with_password as a
// slave answers it (HOST_IS_SLAVE [master address]). Registered through src/xapi/index.ts.
import { isIfName, isMac, isMtu } from '../../schema/values.js';
import type { ParamsOf, Ref } from '../../schema/index.js';
import type { CallCtx, Impls } from '../api/context.js';
import { now, withFlags } from '../api/context.js';
import { createSession, gatedCheck, sameSecret, sessionImpls } from '../api/session.js';
import type { NetState } from '../backends/backend.js';
import { ApiError } from '../errors.js';
import { desiredState } from '../reconciler/desired.js';
import { summarize } from '../reconciler/reconciler.js';
import { NULL_REF, type Txn } from '../store/store.js';
import { RemoteFailure, Unreachable, normalizeUrl, xapiCall } from './rpc.js';
import type { Ticket } from './role.js';
import type { PoolService } from './service.js';
import { bringUpAtStartOfDay, fixBonds } from '../xapi/start_of_day.js';
import { fetchPoolSecret, type StateDelta } from './slave.js';
import { forgetAbsent, poolMaster, registerHost, reportNics, syncBonds, syncTunnels, syncVlans, type SlaveReport } from './sync.js';

/** The daemon's pool service. */
export function poolOf(ctx: CallCtx): PoolService {
  const p = ctx.d.services.pool;
  if (!p) throw new ApiError('INTERNAL_ERROR', ['pool service not running']);
  return p;
}

function assertMaster(ctx: CallCtx): PoolService {
  const p = poolOf(ctx);
  if (p.isSlave) throw new ApiError('HOST_IS_SLAVE', [p.masterHost]);
  return p;
}

/** Deletes every record of a host (pool.eject, master side): bonds, VLANs, tunnels, PIFs, dom0, metrics, the host. */
function forgetHost(tx: Txn, host: Ref<'host'>): void {
  const pifs = tx.children('host', host, 'PIFs');
  for (const p of pifs) {
    for (const b of tx.children('PIF', p, 'bond_master_of')) if (tx.find('Bond', b)) tx.destroy('Bond', b);
    const v = tx.get('PIF', p).VLAN_master_of;
    if (v !== NULL_REF && tx.find('VLAN', v)) tx.destroy('VLAN', v);
    for (const t of tx.children('PIF', p, 'tunnel_access_PIF_of')) if (tx.find('tunnel', t)) tx.destroy('tunnel', t);
  }
  const metrics = new Set<string>();
  for (const p of pifs) {
    metrics.add(tx.get('PIF', p).metrics);
    tx.destroy('PIF', p);
  }
  for (const m of metrics) if (tx.find('PIF_metrics', m)) tx.destroy('PIF_metrics', m);
  for (const vm of tx.where('VM', (r) => r.resident_on === host && r.is_control_domain === true)) {
    for (const vif of tx.where('VIF', (r) => r.VM === vm)) tx.destroy('VIF', vif);
    const vmm = tx.get('VM', vm).metrics;
    tx.destroy('VM', vm);
    if (tx.find('VM_metrics', vmm)) tx.destroy('VM_metrics', vmm);
  }
  const hm = tx.get('host', host).metrics;
  tx.destroy('host', host);
  if (tx.find('host_metrics', hm)) tx.destroy('host_metrics', hm);
}

/** host.pool_slave_startup on the master: register (first time), NICs, fix_bonds, bonds, VLANs, tunnels; the forwarder applies the result on the slave. */
async function slaveStartup(ctx: CallCtx, uuid: string, url: string, reportJson: string): Promise<string> {
  const pool = assertMaster(ctx);
  const receivedAt = Date.now();
  const tx = ctx.tx;
  const log = ctx.d.log;
  let report: SlaveReport;
  try {
    report = JSON.parse(reportJson) as SlaveReport;
  } catch {
    throw new ApiError('INVALID_VALUE', ['report', 'not JSON']);
  }
  if (!report.token || !Array.isArray(report.nics)) throw new ApiError('INVALID_VALUE', ['report', 'token and nics are required']);
  // A slave's NICs become PIF records (device, MAC, MTU): typed values, or nothing is stored.
  for (const n of report.nics) {
    if (!n || !isIfName(n.device)) throw new ApiError('INVALID_VALUE', ['report', `NIC device ${JSON.stringify(n?.device)}`]);
    if (!isMac(n.MAC)) throw new ApiError('MAC_INVALID', [n.MAC]);
    if (!isMtu(n.MTU)) throw new ApiError('INVALID_VALUE', ['report', `NIC ${n.device} MTU ${JSON.stringify(n.MTU)}`]);
  }
  const master = poolMaster(tx);
  let host: string | undefined;
  try {
    host = tx.byUuid('host', uuid);
  } catch {
    host = undefined;
  }
  if (host === master) throw new ApiError('INVALID_VALUE', ['host_uuid', 'the pool master cannot be its own slave']);
  pool.roles.setMember({ hostUuid: uuid, url, token: report.token });
  pool.takesDeltas(uuid, report.deltas === true);
  if (!host) {
    host = registerHost(tx, uuid, report, master);
    log.info(`pool: host ${report.hostname} (${uuid}) joined the pool as ${host}`);
  }
  // Always send the result, even if the master's view did not change: the slave may have lost it.
  tx.ctx.forceSync = new Set([...(tx.ctx.forceSync ?? []), host]);
  // (1) NIC inventory.
  const absent = reportNics(tx, host, report.nics, log);
  forgetAbsent(tx, host, absent, log);
  // (2) rectify bond-slave rule violations.
  fixBonds(tx, host);
  // (3) replicate the master's bonds, VLANs, tunnels.
  syncBonds(ctx, host, absent, log);
  syncVlans(tx, host, log, true);
  syncTunnels(tx, host, log);
  // PIFs of gone NICs that the bond copy freed go now (quietly for those still kept).
  forgetAbsent(tx, host, absent, log, true);
  // (4) start of day, as xapi at every start of a host: every managed physical PIF that is not a bond slave, every bond
  // master, every PIF with an IP comes up. Only when the slave daemon has just started: a resync brings it to the master's state.
  if (report.boot !== false) bringUpAtStartOfDay(tx, host, log, absent);
  const hm = tx.get('host', host).metrics;
  if (tx.find('host_metrics', hm)) tx.set('host_metrics', hm, { live: true, last_updated: now() });
  const h = host;
  tx.after.push(() => pool.synced(h, uuid, report.clock, receivedAt));
  // (5) the forwarder sends desiredState(tx, host) to the slave before commit. The reply carries it too only for a slave that
  // asks for it: computing it again and sending it as XML-RPC (~300 KB for 650 bridges) cost the master ~10 ms a sync, and
  // parsing it the slave ~100 ms, for a state the slave has just applied.
  const reply: { host: string; master: string; metrics: string; secret?: string; state?: NetState } = { host, master, metrics: hm, secret: pool.role.secret };
  if (report.stateInReply !== false) reply.state = desiredState(tx, host);
  return JSON.stringify(reply);
}

/** pool.join on a standalone daemon: xapi's pre-join checks, log in to the master, register and sync once. */
async function join(ctx: CallCtx, masterAddress: string, user: string, password: string): Promise<void> {
  const pool = assertMaster(ctx);
  const db = ctx.db;
  if (db.count('host') > 1) throw new ApiError('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS', []);
  if (db.count('Bond') > 0) throw new ApiError('POOL_JOINING_HOST_HAS_BONDS', []);
  if (db.count('tunnel') > 0) throw new ApiError('POOL_JOINING_HOST_HAS_TUNNELS', []);
  for (const [, v] of db.rows('VLAN')) {
    const u = db.find('PIF', v.untagged_PIF);
    if (!u || !u.management) throw new ApiError('POOL_JOINING_HOST_HAS_NON_MANAGEMENT_VLANS', []);
  }
  const url = normalizeUrl(masterAddress);
  try {
    // As xapi's join: log in to the master as the given user, get the pool secret (Pool.initial_auth), then register as a slave with it.
    const secret = await fetchPoolSecret(url, user, password);
    await pool.becomeSlave(masterAddress, secret);
  } catch (e) {
    if (e instanceof Unreachable) throw new ApiError('CANNOT_CONTACT_HOST', [masterAddress]);
    if (e instanceof RemoteFailure) throw ApiError.relayed(e.details[0] ?? 'INTERNAL_ERROR', e.details.slice(1));
    throw e;
  }
  // Every session opened here before the join could still read this daemon's old local records: they all end (the caller's too).
  ctx.tx.ctx.localWrite = true;
  for (const s of ctx.tx.refs('session')) ctx.tx.destroy('session', s);
  ctx.d.log.info(`pool: joined the pool of ${masterAddress}`);
}

/** pool.eject on the master: the slave daemon becomes standalone, then the host's records go. */
async function eject(ctx: CallCtx, host: string): Promise<void> {
  const pool = assertMaster(ctx);
  const tx = ctx.tx;
  const row = tx.get('host', host);
  if (host === poolMaster(tx)) throw new ApiError('HOST_IS_MASTER', [host]);
  const uuid = row.uuid;
  const m = pool.roles.member(uuid);
  if (!m) throw new ApiError('CANNOT_CONTACT_HOST', [host]);
  forgetHost(tx, host);
  // Made by Store.write outside the write lock, under the host's own lock, before the records go.
  tx.remote.set(host, {
    key: host,
    payload: 'host.become_standalone',
    run: async () => {
      try {
        await xapiCall(m.url, 'host.become_standalone', [m.token], pool.callTimeoutMs);
      } catch (e) {
        if (e instanceof Unreachable) throw new ApiError('CANNOT_CONTACT_HOST', [host]);
        if (e instanceof RemoteFailure) throw ApiError.relayed(e.details[0] ?? 'INTERNAL_ERROR', e.details.slice(1));
        throw e;
      }
    },
  });
  tx.after.push(() => {
    pool.roles.dropMember(uuid);
    pool.forgetSlave(uuid, host);
  });
}

/**
 * What the master sent, as JSON: a whole NetState, or a StateDelta ({base, set, del}: only to a
 * slave that reported `deltas`). The shape only: the slave agent checks the values (it is the one
 * place that does, for both and for dry runs).
 */
function parseState(state: string): NetState | StateDelta {
  let s: (NetState & Partial<StateDelta>) | null;
  try {
    s = JSON.parse(state) as NetState & Partial<StateDelta>;
  } catch {
    throw new ApiError('INVALID_VALUE', ['state', 'not JSON']);
  }
  if (s && typeof s === 'object' && !('bridges' in s) && 'base' in s) {
    const { base, set, del } = s;
    if (!Number.isFinite(base) || typeof set !== 'object' || set === null || Array.isArray(set) || !Array.isArray(del)) {
      throw new ApiError('INVALID_VALUE', ['state', 'a delta needs a numeric base, set (bridges by name) and del (bridge names)']);
    }
    return { base: base!, set, del };
  }
  if (!s || typeof s.bridges !== 'object' || s.bridges === null) throw new ApiError('INVALID_VALUE', ['state', 'no bridges']);
  return s;
}
const isDelta = (s: NetState | StateDelta): s is StateDelta => !('bridges' in s);

/** host.become_standalone on a slave, from its master. */
async function becomeStandalone(ctx: CallCtx, { token }: ParamsOf<'host.become_standalone'>): Promise<void> {
  const p = assertToken(ctx, token);
  // Answer first, then reset: the master is waiting inside its transaction.
  setImmediate(() => {
    p.becomeStandalone().catch((e) => ctx.d.log.error(`pool: becoming standalone failed: ${(e as Error).message}`));
  });
}

/** Checks the token the master presents on a pool-internal call to this slave. */
function assertToken(ctx: CallCtx, token: string): PoolService {
  const p = poolOf(ctx);
  if (!p.isSlave || !p.role.token || !sameSecret(token, p.role.token))
    throw new ApiError('SESSION_AUTHENTICATION_FAILED', ['pool', 'not a slave of this master, or a wrong token']);
  return p;
}

const login = sessionImpls['session.login_with_password']!;

/** auth_user_name of pool sessions: a registered slave's (followed by its uuid), and a host not yet registered. */
const POOL_SLAVE_PREFIX = 'pool-slave ';
const POOL_NEW_HOST = 'pool-slave (registering)';

/**
 * host.pool_slave_startup: (the dispatcher lets only pool sessions through, schema poolInternal)
 * a registered slave's session acts for its own host only, and a registering session
 * (slave_login with OpaqueRef:NULL) only for a host not yet in the pool.
 */
function assertPoolSession(ctx: CallCtx, hostUuid: string): void {
  const s = ctx.d.store.find('session', ctx.session);
  const deny = () => new ApiError('SESSION_INVALID', [ctx.session]);
  if (!s || s.pool !== true) throw deny();
  const name = s.auth_user_name;
  if (name === `${POOL_SLAVE_PREFIX}${hostUuid}`) return;
  const registered = (() => {
    try {
      return ctx.db.byUuid('host', hostUuid) !== undefined;
    } catch {
      return false;
    }
  })();
  if (name === POOL_NEW_HOST && !registered) return;
  throw deny();
}

/** Implementations of the pool messages. */
export const poolJoinImpls: Impls = {
  'session.login_with_password': withFlags(
    (ctx, args) => {
      const p = ctx.d.services.pool;
      if (p?.isSlave) throw new ApiError('HOST_IS_SLAVE', [p.masterHost]);
      return login(ctx, args);
    },
    { ownLock: true },
  ),
  // The secret is checked (and a wrong one waited out) outside the write lock, under the LoginGate.
  'session.slave_login': withFlags(
    async (ctx, { host, psecret: secret }) => {
      const pool = assertMaster(ctx);
      const known = () => host === NULL_REF || ctx.d.store.find('host', host) !== undefined;
      // A full login line answers xapi's TOO_BUSY, a code the slave tells from a refused secret (it keeps the secret and retries).
      await gatedCheck(
        ctx,
        'pool',
        async () => !!pool.role.secret && sameSecret(secret, pool.role.secret) && known(),
        () => new ApiError('TOO_BUSY', []),
      );
      // A registered slave's session is bound to its host; NULL is a host registering for the first time.
      const who = host === NULL_REF ? POOL_NEW_HOST : `${POOL_SLAVE_PREFIX}${ctx.d.store.get('host', host).uuid}`;
      return ctx.d.store.write((tx) => createSession(ctx, tx, { pool: true, auth_user_name: who, originator: 'xenapi-netd-pool' }));
    },
    { ownLock: true },
  ),
  // xapi's Pool.initial_auth: a joining host, logged in as a user, gets the pool secret to log in as a slave.
  'pool.initial_auth': (ctx) => {
    const pool = assertMaster(ctx);
    if (!pool.role.secret) throw new ApiError('INTERNAL_ERROR', ['no pool secret']);
    return pool.role.secret;
  },
  'host.pool_slave_startup': withFlags(
    (ctx, { host_uuid: uuid, url, report }) => {
      assertPoolSession(ctx, uuid);
      return slaveStartup(ctx, uuid, url, report);
    },
    { noDryRun: 'it registers a slave and sends it its state' },
  ),
  'host.sync_vlans': (ctx, { host }) => {
    assertMaster(ctx);
    ctx.tx.get('host', host);
    syncVlans(ctx.tx, host, ctx.d.log);
  },
  'host.sync_tunnels': (ctx, { host }) => {
    assertMaster(ctx);
    ctx.tx.get('host', host);
    syncTunnels(ctx.tx, host, ctx.d.log);
  },
  'host.sync_bonds': (ctx, { host }) => {
    assertMaster(ctx);
    ctx.tx.get('host', host);
    syncBonds(ctx, host, new Set(), ctx.d.log);
  },
  'host.apply_network_state': withFlags(
    async (ctx, { token, state, ticket }) => {
      const p = assertToken(ctx, token);
      const s = parseState(state);
      let t: Ticket;
      try {
        t = JSON.parse(ticket) as Ticket;
      } catch {
        throw new ApiError('INVALID_VALUE', ['ticket', 'not JSON']);
      }
      if (!t || !Number.isFinite(t.seq) || !Number.isFinite(t.deadline)) throw new ApiError('INVALID_VALUE', ['ticket', 'seq and deadline are required']);
      await (isDelta(s) ? p.agent!.applyDelta(s, t) : p.agent!.applyState(s, t));
    },
    {
      // The master's dry run of a call that changes this host: the plan, not applied (the ticket is not used).
      dryRun: async (ctx, { token, state }) => {
        const s = parseState(state);
        if (isDelta(s)) throw new ApiError('INVALID_VALUE', ['state', 'a dry run takes a whole state']);
        return summarize(await assertToken(ctx, token).agent!.planState(s));
      },
    },
  ),
  'pool.join': withFlags((ctx, { master_address: address, master_username: user, master_password: password }) => join(ctx, address, user, password), {
    noDryRun: 'joining contacts the master and hands this host to it',
  }),
  'pool.eject': withFlags((ctx, { host }) => eject(ctx, host), { noDryRun: 'ejecting resets the slave host' }),
  'host.become_standalone': withFlags(becomeStandalone, { noDryRun: 'it resets this host' }),
};
