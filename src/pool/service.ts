// The pool role of a running daemon (docs/pool.md): master (default) or slave. Owns the
// persisted role, the slave agent, the calls the master makes to slave daemons, and the
// transitions (pool.join: standalone → slave; pool.eject / host.become_standalone: slave →
// standalone).
import type { Daemon } from '../api/context.js';
import type { NetState } from '../backends/backend.js';
import { desiredState } from '../reconciler/desired.js';
import { storedClasses } from '../../schema/index.js';
import { ApiError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { PlanSummary } from '../reconciler/reconciler.js';
import { firstStart, type FirstStartOptions } from '../xapi/startup.js';
import { attachForwarder, slaveError, type ForwardPool, type StateJson } from './forward.js';
import { RoleStore, newSecret, type RoleRecord, type Ticket } from './role.js';
import { RemoteFailure, Unreachable, normalizeUrl, xapiCall } from './rpc.js';
import { SlaveAgent } from './slave.js';

/** Pool options from the command line. */
export interface PoolConfig {
  /** --pool-master: this daemon is a slave of that master (address or URL). */
  poolMaster?: string;
  poolUser?: string;
  poolPassword?: string;
  /** --pool-heartbeat MS: how often a slave checks its master (default 2000). */
  poolHeartbeatMs?: number;
  /** --pool-max-backoff MS: the longest wait between reconnection attempts (default 10000). */
  poolMaxBackoffMs?: number;
  /** --pool-advertise URL: where the master reaches this daemon (default: the URL it listens on). */
  poolAdvertise?: string;
  /** --pool-ca FILE: PEM certificates trusted for https:// traffic between daemons (besides the system's). */
  poolCa?: string;
  /** --pool-call-timeout MS: how long the master waits for a slave to answer a forwarded call (default 5000). */
  poolCallTimeoutMs?: number;
}

/** Default of --pool-call-timeout. */
export const DEFAULT_POOL_CALL_TIMEOUT_MS = 5000;
/** A start-up sync's state may be large (hundreds of bonds and VLANs to build): the slave, which asked for it, gets this long at least. */
const SYNC_APPLY_TIMEOUT_MS = 120_000;

declare module '../api/context.js' {
  interface Services {
    /** The pool role (set before the reconciler is attached). */
    pool?: PoolService;
  }
}

export class PoolService implements ForwardPool {
  readonly roles: RoleStore;
  role: RoleRecord;
  agent?: SlaveAgent;
  private url = '';
  private started = false;
  /** Master: hosts that left a call unanswered and have not synced since. */
  private silent = new Set<string>();
  /** Master: each slave's clock minus the master's (ms), measured at its start-up sync. */
  private clockOffset = new Map<string, number>();
  private seq = 0;

  constructor(
    readonly cfg: PoolConfig,
    readonly d: Daemon,
    readonly store: Store,
    readonly firstStartOptions: FirstStartOptions,
  ) {
    this.roles = new RoleStore(store.db);
    this.role = this.roles.load();
    if (cfg.poolMaster) {
      const masterUrl = normalizeUrl(cfg.poolMaster);
      if (this.role.role !== 'slave' || this.role.masterUrl !== masterUrl) {
        // A new master (or the first start as a slave): register with the configured user.
        this.role = { role: 'slave', masterAddress: cfg.poolMaster, masterUrl, token: this.role.token ?? newSecret(), lastState: this.role.lastState };
      }
    }
    if (this.role.role === 'master') this.role.secret ??= newSecret();
    this.roles.save(this.role);
  }

  get log() {
    return this.d.log;
  }
  /** True when this daemon is a pool slave. */
  get isSlave(): boolean {
    return this.role.role === 'slave';
  }
  /** The master's address as configured (--pool-master, pool.join's master_address). */
  get masterAddress(): string {
    return this.role.masterAddress ?? '';
  }
  /**
   * The master's host name or IP, as HOST_IS_SLAVE carries it (xapi sends the master's address;
   * clients such as xen-api replace only the host name of their URL with it and keep the port).
   */
  get masterHost(): string {
    const a = this.masterAddress;
    try {
      return new URL(normalizeUrl(a)).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return a;
    }
  }

  /** Registers the guard/forwarder hook (before the reconciler's). */
  attach(): void {
    attachForwarder(this.store, this);
  }

  private makeAgent(): SlaveAgent {
    return new SlaveAgent({
      store: this.store,
      reconciler: this.d.services.reconciler,
      roles: this.roles,
      role: this.role,
      localHost: () => this.d.hostRef,
      log: this.log,
      user: this.cfg.poolUser,
      password: this.cfg.poolPassword,
      heartbeatMs: this.cfg.poolHeartbeatMs ?? 2000,
      maxBackoffMs: this.cfg.poolMaxBackoffMs ?? 10_000,
    });
  }

  /** What start-up brings the host to (Reconciler.reconcileNow): a master's committed database; a slave's last state applied for its master (never synced: its local database). */
  startupState(): NetState {
    if (!this.isSlave) return desiredState(this.store, this.d.hostRef);
    this.agent ??= this.makeAgent();
    return this.agent.startupState();
  }

  /** After the wire opens at `url`: a slave starts talking to its master; a master marks its slaves not live until they sync. */
  async start(url: string): Promise<void> {
    this.url = this.cfg.poolAdvertise ?? url;
    this.started = true;
    if (this.isSlave) {
      this.agent ??= this.makeAgent();
      this.agent.start(this.url);
      return;
    }
    const others = this.store.refs('host').filter((h) => h !== this.d.hostRef);
    if (others.length) {
      await this.store.write((tx) => {
        for (const h of others) {
          const m = tx.get('host', h).metrics;
          if (tx.find('host_metrics', m)?.live) tx.set('host_metrics', m, { live: false });
        }
      });
    }
  }

  /** Stops the slave agent. */
  async stop(): Promise<void> {
    await this.agent?.stop();
  }

  /** The forwarded-call timeout (--pool-call-timeout). */
  get callTimeoutMs(): number {
    return this.cfg.poolCallTimeoutMs ?? DEFAULT_POOL_CALL_TIMEOUT_MS;
  }

  /** Master: true when `host` left a call unanswered and has not synced since. */
  unanswered(host: string): boolean {
    return this.silent.has(host);
  }

  /** Master: a slave synced (its start-up sync committed): it is answered again; `clock` is its clock when it reported. */
  synced(host: string, uuid: string, clock: number | undefined, receivedAt: number): void {
    if (typeof clock === 'number' && Number.isFinite(clock)) this.clockOffset.set(uuid, clock - receivedAt);
    if (this.silent.delete(host)) this.log.info(`pool: host ${host} answers again and is in sync with the master`);
  }

  /**
   * Master: a call to `host` went unanswered (timed out, or the connection broke), so whether it
   * applied the change is unknown. The host is marked not live: calls to it fail at once, and its
   * heartbeat, when it answers again, finds live=false and runs a full start-up sync, which brings
   * it to the master's state.
   */
  private markSilent(host: string, uuid: string, why: string): void {
    this.acked.delete(uuid);
    if (this.silent.has(host)) return;
    this.silent.add(host);
    this.log.warn(`pool: host ${host} did not answer (${why}); marked not live until it syncs again`);
    this.store
      .write((tx) => {
        const m = String(tx.find('host', host)?.metrics ?? '');
        if (m && tx.find('host_metrics', m)?.live) tx.set('host_metrics', m, { live: false });
      })
      .catch((e) => this.log.error(`pool: could not mark host ${host} not live: ${(e as Error).message}`));
  }

  // What the master keeps per slave daemon is keyed by its host's uuid, as the members are
  // (roles.member): the host's ref changes when an ejected host joins again, its uuid does not.

  /** Master: the slave hosts (uuids) whose daemon takes changes as deltas (SlaveReport.deltas), as each last reported. */
  takesDeltas(uuid: string, yes: boolean): void {
    if (yes) this.deltaHosts.add(uuid);
    else this.deltaHosts.delete(uuid);
  }
  private deltaHosts = new Set<string>();
  /**
   * Master: per slave host (uuid), the state it last applied for us as far as we know (its ticket
   * seq and bridges' JSON): the base of the next delta. Dropped while a call to the host is in
   * flight and whenever one fails, so what is kept is only what the slave answered for.
   */
  private acked = new Map<string, { seq: number; bridges: ReadonlyMap<string, string> }>();

  /** Master: the ticket seq of the state slave `uuid` last applied for us (its next delta's base), if known. */
  deltaBase(uuid: string): number | undefined {
    return this.acked.get(uuid)?.seq;
  }

  /** Master: forgets what it kept for slave `uuid`, host `ref` (pool.eject: the daemon is no longer a member). */
  forgetSlave(uuid: string, ref: string): void {
    this.silent.delete(ref); // keyed by ref, as the calls that ask (unanswered) know the host
    this.deltaHosts.delete(uuid);
    this.acked.delete(uuid);
    this.clockOffset.delete(uuid);
  }

  /**
   * Master: sends a desired state to a slave host's daemon; failures as the ApiError the caller
   * sees. A slave that takes deltas and last applied a state we know gets only the bridges that
   * differ from it (a pool-wide VLAN sent each of 64 slaves its whole 650-bridge state, ~55 KB of
   * JSON to escape into XML-RPC, parse, check and normalize); one that refuses the delta's base
   * (INVALID_VALUE [base, ...]: it restarted, or applied something else since) gets the whole
   * state, under the same ticket and deadline. A start-up sync always sends the whole state.
   */
  async sendState(host: string, uuid: string, state: StateJson, culprit: string, sync = false): Promise<void> {
    const m = this.roles.member(uuid);
    if (!m) throw new ApiError('CANNOT_CONTACT_HOST', [host]);
    const timeout = sync ? Math.max(this.callTimeoutMs, SYNC_APPLY_TIMEOUT_MS) : this.callTimeoutMs;
    this.seq = Math.max(this.seq + 1, Date.now() * 1000);
    const ticket: Ticket = { seq: this.seq, deadline: Date.now() + timeout + (this.clockOffset.get(uuid) ?? 0), ...(sync ? { sync: true } : {}) };
    const ticketJson = JSON.stringify(ticket);
    const base = sync || !this.deltaHosts.has(uuid) ? undefined : this.acked.get(uuid);
    this.acked.delete(uuid);
    const started = Date.now();
    try {
      let whole = !base;
      if (base) {
        try {
          await xapiCall(m.url, 'host.apply_network_state', [m.token, deltaJson(base.seq, base.bridges, state.bridges), ticketJson], timeout);
        } catch (e) {
          if (!(e instanceof RemoteFailure && e.details[0] === 'INVALID_VALUE' && e.details[1] === 'base')) throw e;
          this.log.info(
            `pool: host ${host} does not have the state the change was made against (${JSON.stringify(String(e.details[2] ?? '').slice(0, 200))}); sending the whole state`,
          );
          whole = true;
        }
      }
      if (whole) await xapiCall(m.url, 'host.apply_network_state', [m.token, state.json, ticketJson], Math.max(1, timeout - (Date.now() - started)));
      this.acked.set(uuid, { seq: ticket.seq, bridges: state.bridges });
    } catch (e) {
      if (e instanceof Unreachable) this.markSilent(host, uuid, e.message);
      throw slaveError(host, e, culprit);
    }
  }

  /** Master: asks a slave host's daemon what it would do for a desired state (DryRun.host.apply_network_state); nothing is applied. */
  async planState(host: string, uuid: string, json: string, culprit: string): Promise<PlanSummary> {
    const m = this.roles.member(uuid);
    if (!m) throw new ApiError('CANNOT_CONTACT_HOST', [host]);
    try {
      return await xapiCall<PlanSummary>(
        m.url,
        'DryRun.host.apply_network_state',
        [m.token, json, JSON.stringify({ seq: 0, deadline: 0 })],
        this.callTimeoutMs,
      );
    } catch (e) {
      throw slaveError(host, e, culprit);
    }
  }

  /** Standalone → slave (pool.join): registers with the master (with the pool secret) and syncs once; on failure the role goes back. */
  async becomeSlave(masterAddress: string, secret: string): Promise<void> {
    const before = this.role;
    this.role = { role: 'slave', masterAddress, masterUrl: normalizeUrl(masterAddress), token: newSecret(), secret };
    this.roles.save(this.role);
    const agent = this.makeAgent();
    agent.url = this.cfg.poolAdvertise ?? this.url;
    this.agent = agent;
    try {
      await agent.sync();
    } catch (e) {
      this.agent = undefined;
      this.role = before;
      this.roles.save(before);
      throw e;
    }
    if (this.started) agent.start(agent.url);
  }

  /** Slave → standalone (pool.eject): the agent stops, the local database starts afresh (first start) and the reconciler brings the host to it. */
  async becomeStandalone(): Promise<void> {
    await this.agent?.stop();
    this.agent = undefined;
    this.role = { role: 'master', secret: newSecret() };
    this.roles.save(this.role);
    const old = { host: this.d.hostRef, pool: this.d.poolRef };
    const uuid = this.store.get('host', old.host).uuid;
    try {
      await this.store.write((tx) => {
        tx.ctx.localWrite = true;
        for (const c of storedClasses()) for (const ref of tx.refs(c.name)) tx.destroy(c.name, ref);
        const host = firstStart(tx, this.firstStartOptions);
        // The host keeps its identity; the reconciler (later in this transaction) works for the new records.
        tx.set('host', host, { uuid });
        this.d.hostRef = host;
        this.d.poolRef = tx.refs('pool')[0];
      });
    } catch (e) {
      Object.assign(this.d, { hostRef: old.host, poolRef: old.pool });
      throw e;
    }
    this.log.info('pool: ejected from the pool; this daemon is now the master of its own host (first-start configuration)');
  }
}

/** The StateDelta (slave.ts) that turns the bridges `from` (JSON by name, the state of ticket `base`) into `to`, as JSON made of their JSON. */
export function deltaJson(base: number, from: ReadonlyMap<string, string>, to: ReadonlyMap<string, string>): string {
  const set: string[] = [];
  const del: string[] = [];
  for (const [name, json] of to) if (from.get(name) !== json) set.push(`${JSON.stringify(name)}:${json}`);
  for (const name of from.keys()) if (!to.has(name)) del.push(JSON.stringify(name));
  return `{"base":${base},"set":{${set.join(',')}},"del":[${del.join(',')}]}`;
}
