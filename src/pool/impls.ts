// The pool's messages: pool.join / pool.eject, the pool-internal host.* and session.slave_login
// messages, host.sync_vlans / sync_tunnels / sync_bonds, and session.login_with_password as a
// slave answers it (HOST_IS_SLAVE [master address]). Registered through src/xapi/index.ts.
import type { CallCtx, Impls } from '../api/context.js';
import { now } from '../api/context.js';
import { sessionImpls } from '../api/session.js';
import type { NetState } from '../backends/backend.js';
import { ApiError } from '../errors.js';
import { desiredState } from '../reconciler/desired.js';
import { NULL_REF, type Txn } from '../store/store.js';
import { RemoteFailure, Unreachable, normalizeUrl, xapiCall } from './rpc.js';
import type { Ticket } from './role.js';
import type { PoolService } from './service.js';
import {
  fixBonds, forgetAbsent, poolMaster, registerHost, reportNics, syncBonds, syncTunnels, syncVlans, type SlaveReport,
} from './sync.js';

/** The daemon's pool service. */
export function poolOf(ctx: CallCtx): PoolService {
  const p = ctx.d.services.get('pool') as PoolService | undefined;
  if (!p) throw new ApiError('INTERNAL_ERROR', ['pool service not running']);
  return p;
}

function assertMaster(ctx: CallCtx): PoolService {
  const p = poolOf(ctx);
  if (p.isSlave) throw new ApiError('HOST_IS_SLAVE', [p.masterHost]);
  return p;
}

/** Deletes every record of a host (pool.eject, master side): bonds, VLANs, tunnels, PIFs, dom0, metrics, the host. */
function forgetHost(tx: Txn, host: string): void {
  const pifs = tx.children('host', host, 'PIFs');
  for (const p of pifs) {
    for (const b of tx.children('PIF', p, 'bond_master_of')) if (tx.find('Bond', b)) tx.destroy('Bond', b);
    const v = String(tx.get('PIF', p).VLAN_master_of);
    if (v !== NULL_REF && tx.find('VLAN', v)) tx.destroy('VLAN', v);
    for (const t of tx.children('PIF', p, 'tunnel_access_PIF_of')) if (tx.find('tunnel', t)) tx.destroy('tunnel', t);
  }
  const metrics = new Set<string>();
  for (const p of pifs) {
    metrics.add(String(tx.get('PIF', p).metrics));
    tx.destroy('PIF', p);
  }
  for (const m of metrics) if (tx.find('PIF_metrics', m)) tx.destroy('PIF_metrics', m);
  for (const vm of tx.where('VM', (r) => r.resident_on === host && r.is_control_domain === true)) {
    for (const vif of tx.where('VIF', (r) => r.VM === vm)) tx.destroy('VIF', vif);
    const vmm = String(tx.get('VM', vm).metrics);
    tx.destroy('VM', vm);
    if (tx.find('VM_metrics', vmm)) tx.destroy('VM_metrics', vmm);
  }
  const hm = String(tx.get('host', host).metrics);
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
  const master = poolMaster(tx);
  let host: string | undefined;
  try {
    host = tx.byUuid('host', uuid);
  } catch {
    host = undefined;
  }
  if (host === master) throw new ApiError('INVALID_VALUE', ['host_uuid', 'the pool master cannot be its own slave']);
  pool.roles.setMember({ hostUuid: uuid, url, token: report.token });
  if (!host) {
    host = registerHost(tx, uuid, report, master);
    log.info(`pool: host ${report.hostname} (${uuid}) joined the pool as ${host}`);
  }
  // Always send the result, even if the master's view did not change: the slave may have lost it.
  tx.scratch.set(`pool.force.${host}`, true);
  // (1) NIC inventory.
  const absent = reportNics(tx, host, report.nics, log);
  forgetAbsent(tx, host, absent, log);
  // (2) rectify bond-slave rule violations.
  fixBonds(tx, host);
  // (3) replicate the master's bonds, VLANs, tunnels.
  syncBonds(ctx, host, absent, log);
  syncVlans(tx, host, log);
  syncTunnels(tx, host, log);
  // PIFs of gone NICs that the bond copy freed go now (quietly for those still kept).
  forgetAbsent(tx, host, absent, log, true);
  const hm = String(tx.get('host', host).metrics);
  if (tx.find('host_metrics', hm)) tx.set('host_metrics', hm, { live: true, last_updated: now() });
  const h = host;
  tx.after.push(() => pool.synced(h, uuid, report.clock, receivedAt));
  // (4) the forwarder sends desiredState(tx, host) to the slave before commit; the reply carries it too.
  const state: NetState = desiredState(tx, host);
  return JSON.stringify({ host, master, metrics: hm, secret: pool.role.secret, state });
}

/** pool.join on a standalone daemon: xapi's pre-join checks, log in to the master, register and sync once. */
async function join(ctx: CallCtx, masterAddress: string, user: string, password: string): Promise<void> {
  const pool = assertMaster(ctx);
  const db = ctx.db;
  if (db.count('host') > 1) throw new ApiError('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS', []);
  if (db.count('Bond') > 0) throw new ApiError('POOL_JOINING_HOST_HAS_BONDS', []);
  if (db.count('tunnel') > 0) throw new ApiError('POOL_JOINING_HOST_HAS_TUNNELS', []);
  for (const [, v] of db.rows('VLAN')) {
    const u = db.find('PIF', String(v.untagged_PIF));
    if (!u || !u.management) throw new ApiError('POOL_JOINING_HOST_HAS_NON_MANAGEMENT_VLANS', []);
  }
  const url = normalizeUrl(masterAddress);
  let session: string;
  try {
    session = await xapiCall<string>(url, 'session.login_with_password', [user, password, '1.0', 'xenapi-netd-pool-join'], 30_000);
  } catch (e) {
    if (e instanceof Unreachable) throw new ApiError('CANNOT_CONTACT_HOST', [masterAddress]);
    if (e instanceof RemoteFailure) throw new ApiError(e.details[0] ?? 'INTERNAL_ERROR', e.details.slice(1));
    throw e;
  }
  try {
    await pool.becomeSlave(masterAddress, session);
  } catch (e) {
    if (e instanceof Unreachable) throw new ApiError('CANNOT_CONTACT_HOST', [masterAddress]);
    if (e instanceof RemoteFailure) throw new ApiError(e.details[0] ?? 'INTERNAL_ERROR', e.details.slice(1));
    throw e;
  }
  ctx.d.log.info(`pool: joined the pool of ${masterAddress}`);
}

/** pool.eject on the master: the slave daemon becomes standalone, then the host's records go. */
async function eject(ctx: CallCtx, host: string): Promise<void> {
  const pool = assertMaster(ctx);
  const tx = ctx.tx;
  const row = tx.get('host', host);
  if (host === poolMaster(tx)) throw new ApiError('HOST_IS_MASTER', [host]);
  const uuid = String(row.uuid);
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
        if (e instanceof RemoteFailure) throw new ApiError(e.details[0] ?? 'INTERNAL_ERROR', e.details.slice(1));
        throw e;
      }
    },
  });
  tx.after.push(() => pool.roles.dropMember(uuid));
}

/** Checks the token the master presents on a pool-internal call to this slave. */
function assertToken(ctx: CallCtx, token: string): PoolService {
  const p = poolOf(ctx);
  if (!p.isSlave || !p.role.token || token !== p.role.token) throw new ApiError('SESSION_AUTHENTICATION_FAILED', ['pool', 'not a slave of this master, or a wrong token']);
  return p;
}

const login = sessionImpls['session.login_with_password'];

/** Implementations of the pool messages. */
export const poolJoinImpls: Impls = {
  'session.login_with_password': (ctx, args) => {
    const p = ctx.d.services.get('pool') as PoolService | undefined;
    if (p?.isSlave) throw new ApiError('HOST_IS_SLAVE', [p.masterHost]);
    return login(ctx, args);
  },
  'session.slave_login': async (ctx, [host, secret]) => {
    const pool = assertMaster(ctx);
    const tx = ctx.tx;
    if (!pool.role.secret || secret !== pool.role.secret || !tx.find('host', host)) {
      await new Promise((r) => setTimeout(r, ctx.d.authFailDelayMs));
      throw new ApiError('SESSION_AUTHENTICATION_FAILED', ['pool', 'Authentication failure']);
    }
    const t = now();
    return tx.create('session', {
      this_host: ctx.d.hostRef, this_user: NULL_REF, last_active: t, pool: true, is_local_superuser: true,
      subject: NULL_REF, validation_time: t, auth_user_sid: '', auth_user_name: `pool-slave ${tx.get('host', host).uuid}`,
      originator: 'xenapi-netd-pool',
    });
  },
  'host.pool_slave_startup': (ctx, [uuid, url, report]) => slaveStartup(ctx, uuid, url, report),
  'host.sync_vlans': (ctx, [host]) => {
    assertMaster(ctx);
    ctx.tx.get('host', host);
    syncVlans(ctx.tx, host, ctx.d.log);
  },
  'host.sync_tunnels': (ctx, [host]) => {
    assertMaster(ctx);
    ctx.tx.get('host', host);
    syncTunnels(ctx.tx, host, ctx.d.log);
  },
  'host.sync_bonds': (ctx, [host]) => {
    assertMaster(ctx);
    ctx.tx.get('host', host);
    syncBonds(ctx, host, new Set(), ctx.d.log);
  },
  'host.apply_network_state': async (ctx, [token, state, ticket]) => {
    const p = assertToken(ctx, token);
    let s: NetState;
    try {
      s = JSON.parse(state) as NetState;
    } catch {
      throw new ApiError('INVALID_VALUE', ['state', 'not JSON']);
    }
    if (!s || typeof s.bridges !== 'object') throw new ApiError('INVALID_VALUE', ['state', 'no bridges']);
    let t: Ticket;
    try {
      t = JSON.parse(ticket) as Ticket;
    } catch {
      throw new ApiError('INVALID_VALUE', ['ticket', 'not JSON']);
    }
    if (!t || !Number.isFinite(t.seq) || !Number.isFinite(t.deadline)) throw new ApiError('INVALID_VALUE', ['ticket', 'seq and deadline are required']);
    await p.agent!.applyState(s, t);
  },
  'host.become_standalone': async (ctx, [token]) => {
    const p = assertToken(ctx, token);
    // Answer first, then reset: the master is waiting inside its transaction.
    setImmediate(() => {
      p.becomeStandalone().catch((e) => ctx.d.log.error(`pool: becoming standalone failed: ${(e as Error).message}`));
    });
  },
  'pool.join': (ctx, [address, user, password]) => join(ctx, address, user, password),
  'pool.eject': (ctx, [host]) => eject(ctx, host),
};
