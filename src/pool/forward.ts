// The forwarder: a store prepare hook, run before the local reconciler's precommit hook. On a
// slave daemon it refuses every write to the local database (HOST_IS_SLAVE [master]: the master's
// database is the pool's). On the master, for every other host whose desired NetState in the
// transaction differs from the committed one, it asks Store.write for a remote call that sends
// the new state to that host's daemon (host.apply_network_state over authenticated XML-RPC),
// made outside the write lock under the host's own lock; the slave applies it all or nothing. A
// failure fails the transaction (the master's database is unchanged) and the hosts already
// called get the committed state back.
import type { Ref } from '../../schema/index.js';
import type { NetState } from '../backends/backend.js';
import type { Store, Txn } from '../store/store.js';
import { ApiError } from '../errors.js';
import { affectedHosts, DESIRED_CLASSES, desiredState } from '../reconciler/desired.js';
import type { PlanSummary } from '../reconciler/reconciler.js';
import { RemoteFailure, Unreachable, xapiCall } from './rpc.js';

declare module '../store/store.js' {
  /** What the forwarder reads of a transaction. */
  interface TxContext {
    /** The slave's own guard lets this write through (pool.join, become_standalone). */
    localWrite?: boolean;
    /** Hosts sent their desired state even if unchanged, as a start-up sync (host.pool_slave_startup: the slave may have lost it). */
    forceSync?: ReadonlySet<string>;
  }
}

export { affectedHosts };

/**
 * A host's desired state as JSON, whole and bridge by bridge (`json` is JSON.stringify of the
 * state): what a change sends is the bridges whose JSON differs from the state the slave has.
 */
export interface StateJson {
  json: string;
  bridges: ReadonlyMap<string, string>;
}

/** The StateJson of a state (each bridge stringified once; the whole is made of those). */
export function stateJson(state: NetState): StateJson {
  const bridges = new Map<string, string>();
  const parts: string[] = [];
  for (const name of Object.keys(state.bridges)) {
    const j = JSON.stringify(state.bridges[name]);
    if (j === undefined) continue;
    bridges.set(name, j);
    parts.push(`${JSON.stringify(name)}:${j}`);
  }
  return { json: `{"bridges":{${parts.join(',')}}}`, bridges };
}

/**
 * The committed desired state of each host, as JSON, kept across commits that do not change it:
 * every write that commits passes the forwarder first, which knows the hosts it affects and their
 * new states (a pool-wide VLAN on 64 hosts compared each new state with a committed one computed
 * afresh after every commit). A commit the forwarder did not see (Store.createNow's tasks,
 * setNow) drops them all only if it changed a class desired states are read from
 * (DESIRED_CLASSES): an Async call's task commits on every call and changes none.
 */
export class CommittedCache {
  private states = new Map<string, string>();
  /** The generation of the last commit seen (committed()), and of the last foreign change that emptied the cache. */
  private seen = -1;
  private cleared = -1;
  /** The latest commit that changed a class of DESIRED_CLASSES, and the one before it. */
  private touched = -1;
  private touchedBefore = -1;

  constructor(store: Pick<Store, 'onCommit'>) {
    store.onCommit((gen, changes) => {
      for (const c of changes) {
        if (!DESIRED_CLASSES.has(c.cls)) continue;
        this.touchedBefore = this.touched;
        this.touched = gen;
        return;
      }
    });
  }

  /** States computed afresh from the store (tests). */
  computed = 0;

  /** Host states held (tests). */
  get size(): number {
    return this.states.size;
  }

  get(store: Store, host: string): string {
    // Called before the transaction's own commit: a change since the last commit seen is foreign.
    if (this.touched > Math.max(this.seen, this.cleared)) this.forget(this.touched);
    let json = this.states.get(host);
    if (json === undefined) {
      json = stateJson(desiredState(store, host)).json;
      this.computed++;
      this.states.set(host, json);
    }
    return json;
  }

  /** A write committed (`gen`): `now` holds the new states of the hosts it affected that are known, every other affected host is forgotten. */
  committed(gen: number, affected: Iterable<string>, now: ReadonlyMap<string, string>): void {
    // The listener has already seen this commit: the latest foreign change is the one before it.
    const foreign = this.touched === gen ? this.touchedBefore : this.touched;
    if (foreign > Math.max(this.seen, this.cleared)) this.forget(foreign);
    this.seen = gen;
    for (const h of affected) {
      const json = now.get(h);
      if (json === undefined) this.states.delete(h);
      else this.states.set(h, json);
    }
  }

  private forget(gen: number): void {
    this.states.clear();
    this.cleared = gen;
  }
}

/** What the forwarder needs from the pool role (PoolService implements it; declared here so the dependency runs one way). */
export interface ForwardPool {
  /** True when this daemon is a pool slave (then every local write is refused). */
  readonly isSlave: boolean;
  /** The master's host name or IP, as HOST_IS_SLAVE carries it. */
  readonly masterHost: string;
  /** This daemon's own host ref. */
  readonly d: { readonly hostRef: string };
  /** The registered slave daemons, by host uuid. */
  readonly roles: { member(hostUuid: string): unknown };
  readonly log: { error(m: string): void };
  /** True when a call to this host went unanswered and the host has not synced since (calls to it fail at once). */
  unanswered(host: string): boolean;
  /** Sends a desired state to a slave host's daemon (whole, or the bridges that changed); failures as the ApiError the caller sees. `sync`: a start-up sync (the slave waits for it). */
  sendState(host: string, uuid: string, state: StateJson, culprit: string, sync: boolean): Promise<void>;
  /** Asks a slave host's daemon for the plan of a desired state, applying nothing (dry runs). */
  planState(host: string, uuid: string, json: string, culprit: string): Promise<PlanSummary>;
}

/**
 * Registers the guard/forwarder on `store` as a prepare hook (before the reconciler's precommit
 * hook): the calls to slaves are made by Store.write outside its write lock, each under the lock
 * of its host (docs/pool.md "Locking").
 */
export function attachForwarder(store: Store, pool: ForwardPool): void {
  const cache = new CommittedCache(store);
  store.onPrepare((tx) => {
    if (pool.isSlave) {
      if (tx.ctx.localWrite) return;
      throw new ApiError('HOST_IS_SLAVE', [pool.masterHost]);
    }
    const me = pool.d.hostRef;
    // A standalone daemon's transactions concern no other host: not a walk of every row the transaction wrote (2.7 % of a Bond.create moving 1,000 VIFs).
    if (tx.sent.size === 0 && onlyHostIs(tx, me)) return;
    // Hosts an earlier run of this write already sent a state to get one again, even if this run leaves them as committed.
    const hosts = affectedHosts(tx, store);
    for (const h of tx.sent.keys()) hosts.add(h);
    // A start-up sync's host gets its state even when the sync changed none of its records (a resync: only host_metrics).
    for (const h of tx.ctx.forceSync ?? []) hosts.add(h);
    // What the hosts' committed states will be once this commits (the cache keeps them).
    const after = new Map<string, string>();
    tx.after.push(() => cache.committed(store.generation, hosts, after));
    for (const host of hosts) {
      if (host === me || !tx.find('host', host)) continue;
      const uuid = tx.get('host', host).uuid;
      // A host no slave daemon ever registered for is records only (tests build such hosts): nothing to send.
      if (!pool.roles.member(uuid)) continue;
      const sync = tx.ctx.forceSync?.has(host) ?? false;
      const state = stateJson(desiredState(tx, host));
      const json = state.json;
      after.set(host, json);
      if (!sync && !tx.sent.has(host) && json === cache.get(store, host)) continue;
      // A host that left a call unanswered is not waited for again until it syncs: the caller hears at once.
      if (!sync && pool.unanswered(host)) throw new ApiError('CANNOT_CONTACT_HOST', [host]);
      const culprit = tx.ctx.culprit ?? 'OpaqueRef:NULL';
      if (tx.ctx.dryRun) {
        // A dry run asks the slave for its plan (nothing is applied there), after the write lock is let go (Dispatcher.dryRun).
        tx.ctx.dryRun.remote.push({ host: tx.get('host', host).name_label, plan: () => pool.planState(host, uuid, json, culprit) });
        continue;
      }
      tx.remote.set(host, {
        key: host,
        payload: json,
        run: () => pool.sendState(host, uuid, state, culprit, sync),
        // Put back to what is committed when the undo runs (others may have committed since); a host that does not answer is resynced instead.
        undo: async () => {
          if (pool.unanswered(host)) return;
          await pool.sendState(host, uuid, stateJson(desiredState(store, host)), 'OpaqueRef:NULL', false).catch((e) => {
            pool.log.error(`pool: could not put host ${host} back after a failed transaction: ${(e as Error).message}`);
          });
        },
      });
    }
  });
}

/** True if the transaction's view holds no host but `me` (read off the committed store and the overlay, so nothing is recorded as read). */
function onlyHostIs(tx: Txn, me: string): boolean {
  if (tx.store.count('host') !== 1 || !tx.store.find('host', me)) return false;
  for (const ref of tx.overlay.get('host')?.keys() ?? []) if (ref !== me) return false;
  return true;
}

/** Turns a failure of a call to a slave into the ApiError the master's caller sees. */
export function slaveError(host: Ref<'host'>, e: unknown, culprit: string): ApiError {
  if (e instanceof Unreachable) return new ApiError('CANNOT_CONTACT_HOST', [host]);
  if (e instanceof RemoteFailure) {
    const [code, ...params] = e.details;
    if (code === 'PIF_CONFIGURATION_ERROR') return new ApiError(code, [culprit, params[1] ?? params[0] ?? '']);
    return ApiError.relayed(code ?? 'INTERNAL_ERROR', params);
  }
  if (e instanceof ApiError) return e;
  return new ApiError('INTERNAL_ERROR', [String((e as Error)?.message ?? e)]);
}

export { xapiCall };
