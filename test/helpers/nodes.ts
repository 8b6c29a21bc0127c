// In-process pool members for the pool tests and benchmark: each a full daemon (own file
// database, simulated backend, loopback port); slaves point at the master with --pool-master.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import type { NetState } from '../../src/backends/backend.js';
import { DEFAULTS, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import type { PoolService } from '../../src/pool/index.js';
import type { Log } from '../../src/log.js';
import { RemoteFailure, xapiCall } from '../../src/pool/rpc.js';
import type { InventoryNic } from '../../src/xapi/startup.js';

/** NICs eth0..eth<n-1> of host number `h`, management on eth0 with 192.0.2.(10+h). */
export function inventory(h: number, devices = ['eth0', 'eth1', 'eth2', 'eth3']): InventoryNic[] {
  return devices.map((device) => {
    const i = Number(device.slice(3));
    return {
      device,
      MAC: `02:00:5e:0${h}:00:${(0x10 + i).toString(16)}`,
      MTU: 1500,
      carrier: true,
      ...(i === 0
        ? { management: true, ip: { mode: 'Static' as const, address: `192.0.2.${10 + h}`, netmask: '255.255.255.0', gateway: '192.0.2.1', dns: '' } }
        : {}),
    };
  });
}

export interface Node {
  r: Running;
  backend: SimulatedBackend;
  db: string;
  url: string;
  pool: PoolService;
  /** XenAPI call with this node's session (master only). */
  call<T = any>(method: string, ...params: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

const dirs: string[] = [];
/** A fresh directory for databases (removed by cleanupDirs). */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'xnd-pool-'));
  dirs.push(d);
  return d;
}
/** Removes every directory tempDir made. */
export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Starts a daemon: master unless `master` is given. */
export async function startNode(o: {
  h: number;
  db: string;
  master?: string;
  nics?: InventoryNic[];
  state?: NetState;
  heartbeatMs?: number;
  logLevel?: string;
  config?: Partial<Config>;
  /** Where the daemon logs (default: stderr at logLevel). */
  log?: Log;
}): Promise<Node> {
  const inv = o.nics ?? inventory(o.h);
  const backend = new SimulatedBackend({ nics: inv.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: true })), state: o.state });
  const cfg: Config = {
    ...DEFAULTS,
    db: o.db,
    port: 0,
    authFailDelayMs: 10,
    inventory: inv,
    hostname: `host${o.h}`,
    logLevel: o.logLevel ?? 'error',
    ...(o.master ? { poolMaster: o.master, poolUser: 'root', poolPassword: 'secret', poolHeartbeatMs: o.heartbeatMs ?? 100, poolMaxBackoffMs: 300 } : {}),
    ...o.config,
  };
  const r = await startDaemon(cfg, { backend, log: o.log ?? makeLogger({ logLevel: cfg.logLevel, logFile: '' }) });
  let session: string | undefined;
  const node: Node = {
    r,
    backend,
    db: o.db,
    url: r.url,
    pool: r.d.services.pool!,
    async call(method, ...params) {
      session ??= await xapiCall<string>(r.url, 'session.login_with_password', ['root', 'secret']);
      return xapiCall(r.url, method, [session, ...params]);
    },
    stop: () => r.close(),
  };
  return node;
}

/** The failure of a call that must fail. */
export async function failure(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RemoteFailure) return e.details;
    throw e;
  }
  throw new Error('call succeeded but a Failure was expected');
}
