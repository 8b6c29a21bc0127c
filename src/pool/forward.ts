// The forwarder: a store precommit hook, registered before the local reconciler's. On a slave
// daemon it refuses every write to the local database (HOST_IS_SLAVE [master]: the master's
// database is the pool's). On the master, for every other host whose desired NetState in the
// transaction differs from the committed one, it sends the new state to that host's daemon
// (host.apply_network_state over authenticated XML-RPC), which applies it all or nothing; a
// failure fails the transaction (the master's database is unchanged) and the hosts already
// changed get their previous state back from tx.undo.
import type { Store, Txn } from '../store/store.js';
import { ApiError } from '../errors.js';
import type { NetState } from '../backends/backend.js';
import { desiredState } from '../reconciler/desired.js';
import { CULPRIT } from '../reconciler/reconciler.js';
import { RemoteFailure, Unreachable, xapiCall } from './rpc.js';

/** Per-transaction scratch key: the slave's own guard lets this write through (become_standalone). */
export const LOCAL_WRITE = 'pool.localWrite';

/** Hosts whose desired state the transaction may change: from every touched PIF, bond, VLAN, tunnel, network, VIF, VM. */
export function affectedHosts(tx: Txn, store: Store): Set<string> {
  const hosts = new Set<string>();
  const views = [tx, store] as const;
  const pifHost = (ref: unknown) => {
    for (const v of views) {
      const r = v.find('PIF', String(ref));
      if (r) hosts.add(String(r.host));
    }
  };
  const vmHost = (ref: unknown) => {
    for (const v of views) {
      const r = v.find('VM', String(ref));
      if (r) hosts.add(String(r.resident_on));
    }
  };
  for (const [cls, m] of tx.overlay) {
    for (const [ref, row] of m) {
      const rows = [row, store.find(cls, ref)].filter((r) => r) as Record<string, unknown>[];
      for (const r of rows) {
        switch (cls) {
          case 'PIF': hosts.add(String(r.host)); break;
          case 'Bond': pifHost(r.master); break;
          case 'VLAN': pifHost(r.tagged_PIF); pifHost(r.untagged_PIF); break;
          case 'tunnel': pifHost(r.access_PIF); pifHost(r.transport_PIF); break;
          case 'VIF': vmHost(r.VM); break;
          case 'VM': hosts.add(String(r.resident_on)); break;
          case 'host': hosts.add(ref); break;
          case 'network':
            for (const v of views) {
              for (const p of v.children('network', ref, 'PIFs')) pifHost(p);
              for (const vif of v.children('network', ref, 'VIFs')) vmHost(v.find('VIF', vif)?.VM);
            }
            break;
        }
      }
    }
  }
  return hosts;
}

/** Committed desired states by host, valid for one store generation. */
class CommittedCache {
  private gen = -1;
  private states = new Map<string, { state: NetState; json: string }>();
  get(store: Store, host: string): { state: NetState; json: string } {
    if (store.generation !== this.gen) {
      this.gen = store.generation;
      this.states.clear();
    }
    let s = this.states.get(host);
    if (!s) {
      const state = desiredState(store, host);
      s = { state, json: JSON.stringify(state) };
      this.states.set(host, s);
    }
    return s;
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
  /** Sends a desired state to a slave host's daemon; failures as the ApiError the caller sees. */
  sendState(host: string, uuid: string, json: string, culprit: string): Promise<void>;
}

/** Registers the guard/forwarder on `store` (call before the reconciler attaches). */
export function attachForwarder(store: Store, pool: ForwardPool): void {
  const cache = new CommittedCache();
  store.onPrecommit(async (tx) => {
    if (pool.isSlave) {
      if (tx.scratch.get(LOCAL_WRITE)) return;
      throw new ApiError('HOST_IS_SLAVE', [pool.masterHost]);
    }
    const me = pool.d.hostRef;
    for (const host of affectedHosts(tx, store)) {
      if (host === me || !tx.find('host', host)) continue;
      const next = desiredState(tx, host);
      const json = JSON.stringify(next);
      const prev = cache.get(store, host);
      if (json === prev.json && !tx.scratch.get(`pool.force.${host}`)) continue;
      const uuid = String(tx.get('host', host).uuid);
      // A host no slave daemon ever registered for is records only (tests build such hosts): nothing to send.
      if (!pool.roles.member(uuid)) continue;
      await pool.sendState(host, uuid, json, String(tx.scratch.get(CULPRIT) ?? 'OpaqueRef:NULL'));
      tx.undo.push(() => pool.sendState(host, uuid, prev.json, 'OpaqueRef:NULL').then(() => undefined, (e) => {
        pool.log.error(`pool: could not put host ${host} back after a failed transaction: ${(e as Error).message}`);
      }));
    }
  });
}

/** Turns a failure of a call to a slave into the ApiError the master's caller sees. */
export function slaveError(host: string, e: unknown, culprit: string): ApiError {
  if (e instanceof Unreachable) return new ApiError('CANNOT_CONTACT_HOST', [host]);
  if (e instanceof RemoteFailure) {
    const [code, ...params] = e.details;
    if (code === 'PIF_CONFIGURATION_ERROR') return new ApiError(code, [culprit, params[1] ?? params[0] ?? '']);
    return new ApiError(code ?? 'INTERNAL_ERROR', params);
  }
  if (e instanceof ApiError) return e;
  return new ApiError('INTERNAL_ERROR', [String((e as Error)?.message ?? e)]);
}

export { xapiCall };
