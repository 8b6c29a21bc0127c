// The slave daemon's agent: it keeps the host as last applied while the master is away, and
// talks to the master — log in (pool secret, or the configured user/password the first
// time), report the NICs and have the master run the start-up sync (host.pool_slave_startup),
// apply what comes back, then heartbeat. A lost master is retried with backoff; when it is
// back (or it restarted and marked this host not live) the whole start-up sync runs again.
// What the master sends reaches the host through the reconciler's one entry point
// (Reconciler.reconcile: fitted to the NICs, journaled, applied all or nothing), and the state
// applied is remembered in the same SQLite transaction that closes its journal entry.
import { EventEmitter } from 'node:events';
import type { Bridge, NetState, Step } from '../backends/backend.js';
import { ApiError } from '../errors.js';
import { desiredState } from '../reconciler/desired.js';
import type { Reconciler } from '../reconciler/reconciler.js';
import { normalize, patchState, validate } from '../backends/plan.js';
import { valueProblems } from '../backends/state.js';
import { isIfName } from '../../schema/values.js';
import type { Store } from '../store/store.js';
import type { RoleRecord, RoleStore, Ticket } from './role.js';
import { RemoteFailure, Unreachable, xapiCall } from './rpc.js';
import type { SlaveReport } from './sync.js';

type Log = { info(m: string): void; warn(m: string): void; error(m: string): void };

export interface SlaveOptions {
  store: Store;
  /** The one way to the host (journaled). */
  reconciler: Reconciler;
  roles: RoleStore;
  /** The live role record (shared with the service). */
  role: RoleRecord;
  localHost: () => string;
  log: Log;
  user?: string;
  password?: string;
  heartbeatMs: number;
  maxBackoffMs: number;
}

/** Logs in to the master as a user, gets the pool secret (pool.initial_auth) and logs out again. */
export async function fetchPoolSecret(url: string, user: string, password: string): Promise<string> {
  const session = await xapiCall<string>(url, 'session.login_with_password', [user, password, '1.0', 'xenapi-netd-pool-join'], 30_000);
  try {
    return await xapiCall<string>(url, 'pool.initial_auth', [session], 30_000);
  } finally {
    await xapiCall(url, 'session.logout', [session], 10_000).catch(() => undefined);
  }
}

/**
 * A change from the master as the bridges that differ from the state it last saw this slave apply
 * (`base`: that state's ticket seq): `set` bridges are put in (added or replaced), `del` ones go.
 * A slave whose last state is not `base` refuses it with INVALID_VALUE [base, ...] and the master
 * sends the whole state instead.
 */
export interface StateDelta {
  base: number;
  set: Record<string, Bridge>;
  del: string[];
}

/** The start-up sync's answer from the master. */
interface StartupReply {
  host: string;
  master: string;
  metrics: string;
  secret: string;
  /** Only when the report asked for it (stateInReply). */
  state?: NetState;
}

export class SlaveAgent extends EventEmitter {
  private session?: string;
  private metrics?: string;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private applyTail: Promise<void> = Promise.resolve();
  /** Completed start-up syncs (tests, benchmarks). */
  syncs = 0;
  /** True while the master answers. */
  connected = false;
  url = '';

  constructor(private o: SlaveOptions) {
    super();
  }

  /** What the host goes back to at start-up (before the wire opens): the last state applied for the master, or, never synced, the local database. */
  startupState(): NetState {
    return this.o.role.lastState ?? desiredState(this.o.store, this.o.localHost());
  }

  /** The plan that applyState would run for `state` now (a dry run: nothing is applied). */
  async planState(state: NetState): Promise<Step[]> {
    const bad = valueProblems(state);
    if (bad.length) throw new ApiError('INVALID_VALUE', ['state', bad[0]]);
    return (await this.o.reconciler.reconcile({ method: 'host.apply_network_state', desired: state, dryRun: true })).plan;
  }

  /** The highest ticket seq applied for the master (a start-up sync resets it). */
  private lastSeq = 0;

  /**
   * Applies a desired state through the local backend, all or nothing, and remembers it.
   * Serialised. With a `ticket` (a forwarded change), a state the master has given up on — its
   * deadline passed before its turn came (the daemon was stopped, the network slow), or a newer
   * one was already applied — is refused and never applied; one that finished only after its
   * deadline (the master may have rolled it back meanwhile) starts a full sync with the master at once.
   */
  applyState(state: NetState, ticket?: Ticket): Promise<number> {
    // State from another daemon is input like any other: typed values and a consistent shape, or
    // INVALID_VALUE [state, problem] and nothing is applied or remembered. The normalized copy the
    // check makes is what is applied and remembered (its bridges are shared by the next delta's state).
    const bad = valueProblems(state);
    const norm = bad.length ? undefined : normalize(state);
    if (norm) bad.push(...validate(norm));
    if (bad.length) return Promise.reject(this.refuse(bad));
    return this.apply(() => norm!, ticket);
  }

  /**
   * Applies a change the master sent as a delta (see StateDelta) to the state last applied, as
   * applyState does a whole state. A slave whose last state is not the delta's base (it restarted
   * from an older one, missed or refused a change, or applied one the master stopped waiting for)
   * refuses it with INVALID_VALUE [base, why], applying nothing: the master sends the whole state.
   */
  applyDelta(delta: StateDelta, ticket: Ticket): Promise<number> {
    // The bridges it carries are typed values; the whole state they make is checked at its turn (it depends on the states queued before).
    const bad = valueProblems({ bridges: delta.set });
    for (const name of delta.del) if (!isIfName(name)) bad.push(`bridge ${JSON.stringify(name)} is not a valid interface name`);
    if (bad.length) return Promise.reject(this.refuse(bad));
    return this.apply(() => {
      const r = this.o.role;
      if (!r.lastState || r.stateSeq !== delta.base) {
        throw new ApiError('INVALID_VALUE', ['base', `the last state applied is ${r.stateSeq ?? 'not one the master sent'}, not ${delta.base}`]);
      }
      const state = patchState(r.lastState, delta.set, delta.del);
      const problems = validate(state);
      if (problems.length) throw this.refuse(problems);
      return state;
    }, ticket);
  }

  /** Logs and makes the INVALID_VALUE [state, problem] of a state refused. */
  private refuse(bad: string[]): ApiError {
    this.o.log.warn(`pool: refused a desired state from the master: ${bad.slice(0, 3).join('; ')}`);
    return new ApiError('INVALID_VALUE', ['state', bad[0]]);
  }

  /** Applies the state `make` returns (normalized and checked) when its turn comes; see applyState. */
  private apply(make: () => NetState, ticket?: Ticket): Promise<number> {
    const run = this.applyTail.then(async () => {
      if (ticket) {
        const late = Date.now() - ticket.deadline;
        if (late > 0 || (!ticket.sync && ticket.seq <= this.lastSeq)) {
          const why = late > 0 ? `its deadline passed ${late} ms ago` : `state ${this.lastSeq} is newer`;
          this.o.log.warn(`pool: refused a change from the master that it has given up on (seq ${ticket.seq}: ${why})`);
          throw new ApiError('CANNOT_CONTACT_HOST', [this.o.role.hostRef ?? this.o.localHost()]);
        }
      }
      const state = make();
      // Applied, journaled; the state is remembered with the journal entry's close (a crash before it: start-up goes back to the last one).
      // With it the ticket seq it came with: the base the master's next delta names.
      const { plan } = await this.o.reconciler
        .reconcile({
          method: ticket ? 'host.apply_network_state' : 'host.pool_slave_startup',
          desired: state,
          commit: () => {
            this.o.role.lastState = state;
            this.o.role.stateSeq = ticket?.seq;
            this.o.roles.save(this.o.role);
          },
        })
        .catch((e: unknown) => {
          // The SQLite transaction that saved the state may have been rolled back after the save.
          this.o.roles.stateUnsure();
          throw e;
        });
      if (ticket) this.lastSeq = ticket.seq;
      if (ticket && Date.now() > ticket.deadline && !this.stopped) {
        this.o.log.warn(`pool: a change from the master (seq ${ticket.seq}) finished after the master stopped waiting; syncing with the master`);
        this.resync();
      }
      return plan.length;
    });
    this.applyTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Makes the background loop run a full start-up sync now. */
  private resync(): void {
    this.needSync = true;
    this.wake?.();
  }
  private needSync = false;

  /** Starts talking to the master in the background; `url` is where the master reaches this daemon. */
  start(url: string): void {
    this.url = url;
    this.loop = this.run();
  }

  /** Stops the background loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }

  private async run(): Promise<void> {
    const min = Math.min(200, this.o.maxBackoffMs);
    let delay = min;
    let synced = false;
    while (!this.stopped) {
      try {
        if (this.needSync) {
          this.needSync = false;
          synced = false;
        }
        if (!synced) {
          await this.sync();
          synced = true;
          delay = min;
        } else if (!(await this.heartbeat())) {
          this.o.log.warn('pool: the master no longer counts this host live (it restarted?): syncing again');
          synced = false;
          continue;
        }
        if (!this.connected) this.o.log.info(`pool: connected to the master ${this.o.role.masterUrl}`);
        this.connected = true;
        await this.sleep(this.o.heartbeatMs);
      } catch (e) {
        if (this.stopped) break;
        if (e instanceof Unreachable) {
          if (this.connected || !synced) this.o.log.warn(`pool: master unreachable (${e.message}); keeping the host as last applied, retrying in ${delay} ms`);
        } else if (e instanceof RemoteFailure && e.details[0] === 'SESSION_INVALID') {
          this.session = undefined;
        } else {
          this.o.log.warn(`pool: start-up sync with the master failed: ${(e as Error).message}; retrying in ${delay} ms`);
        }
        this.connected = false;
        synced = false;
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.o.maxBackoffMs);
      }
    }
  }

  /**
   * A pool session on the master (session.slave_login with the pool secret; pool-internal calls
   * accept nothing else). Without a secret yet, the configured user logs in and asks for it
   * (pool.initial_auth, as a joining xapi host does), then logs out.
   */
  private async login(): Promise<string> {
    const r = this.o.role;
    const url = r.masterUrl!;
    if (r.secret) {
      try {
        return await xapiCall<string>(url, 'session.slave_login', [r.hostRef ?? 'OpaqueRef:NULL', r.secret], 10_000);
      } catch (e) {
        // A master too busy to check it now (TOO_BUSY) has not refused the secret: the sync is retried later with it.
        if (!(e instanceof RemoteFailure) || this.o.user === undefined || e.details[0] !== 'SESSION_AUTHENTICATION_FAILED') throw e;
        this.o.log.warn(`pool: slave_login refused (${e.details.join(' ')}); registering again with the configured user`);
      }
    }
    if (this.o.user === undefined) throw new Error('no pool secret and no --pool-user/--pool-password to register with');
    r.secret = await fetchPoolSecret(url, this.o.user, this.o.password ?? '');
    r.hostRef = undefined;
    return await xapiCall<string>(url, 'session.slave_login', ['OpaqueRef:NULL', r.secret], 10_000);
  }

  /** What this host reports: name, NICs, management configuration, token. */
  private async report(): Promise<SlaveReport> {
    const store = this.o.store;
    const host = store.get('host', this.o.localHost());
    let management: SlaveReport['management'];
    for (const p of store.children('host', this.o.localHost(), 'PIFs')) {
      const r = store.get('PIF', p);
      if (r.management) {
        management = { device: r.device, mode: r.ip_configuration_mode, IP: r.IP, netmask: r.netmask, gateway: r.gateway, DNS: r.DNS };
      }
    }
    return {
      hostname: String(host.hostname || host.name_label),
      nics: await this.o.reconciler.facts.scanNics(),
      management,
      token: this.o.role.token!,
      software_version: { ...host.software_version },
      clock: Date.now(),
      boot: this.syncs === 0,
      // The master's forwarder sends the state (host.apply_network_state) and waits for it before it answers.
      stateInReply: false,
      // Changes may come as the bridges that differ from the last state applied (StateDelta).
      deltas: true,
    };
  }

  /** The start-up sync: log in, report, let the master sync this host, apply the answer. */
  async sync(session?: string): Promise<void> {
    const r = this.o.role;
    this.session = session ?? this.session ?? (await this.login());
    const uuid = String(this.o.store.get('host', this.o.localHost()).uuid);
    const t0 = Date.now();
    let raw: string;
    try {
      raw = await xapiCall<string>(r.masterUrl!, 'host.pool_slave_startup', [this.session, uuid, this.url, JSON.stringify(await this.report())], 120_000);
    } catch (e) {
      if (e instanceof RemoteFailure && e.details[0] === 'SESSION_INVALID') this.session = undefined;
      throw e;
    }
    const reply = JSON.parse(raw) as StartupReply;
    r.secret = reply.secret;
    r.hostRef = reply.host;
    r.masterHost = reply.master;
    this.metrics = reply.metrics;
    this.o.roles.save(r);
    // The master sent the host's state (host.apply_network_state) and waited for it to be applied
    // before it committed and answered, so the reply does not carry it (stateInReply: false). A
    // master that sends it anyway: it is applied only if it differs from the last state applied.
    await this.applyTail;
    if (reply.state !== undefined && JSON.stringify(reply.state) !== JSON.stringify(r.lastState)) await this.applyState(reply.state);
    this.syncs++;
    this.connected = true;
    this.o.log.info(`pool: start-up sync with the master done in ${Date.now() - t0} ms (host ${reply.host})`);
    this.emit('synced', this.syncs);
  }

  /** One heartbeat: false when the master says this host is not live (it restarted and has not seen us since). */
  private async heartbeat(): Promise<boolean> {
    if (!this.session || !this.metrics) return false;
    return await xapiCall<boolean>(this.o.role.masterUrl!, 'host_metrics.get_live', [this.session, this.metrics], 10_000);
  }
}
