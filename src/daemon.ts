// Composes the daemon: store, backend, reconciler, semantics, dispatcher, tasks and wire.
import { appendFileSync, chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Daemon } from './api/context.js';
import { DaemonLog, type Log } from './log.js';
import { Dispatcher } from './api/dispatch.js';
import { eventImpls } from './api/events.js';
import { buildMethods } from './api/methods.js';
import { dumpJson } from './api/dump.js';
import { hashFingerprint, purgeStaleSessions, sessionImpls, sessionTable, verifyPassword } from './api/session.js';
import { LoginGate } from './api/context.js';
import { rbacImpls, syncSubjects } from './api/rbac.js';
import { Tasks, taskImpls } from './api/tasks.js';
import type { Backend } from './backends/backend.js';
import { createBackend } from './backends/index.js';
import { checkInventory, DEMO_INVENTORY, refuseToStart, type Config } from './config.js';
import { PoolService, poolJoinImpls } from './pool/index.js';
import { InvalidPlanValue, Reconciler } from './reconciler/reconciler.js';
import { Store } from './store/store.js';
import { normalizeUrl, trustPoolCa } from './pool/rpc.js';
import { NODE_CONFIG_PATH, nodeConfigRoute } from './pool/nodeconfig.js';
import { startWire, type Exchange } from './wire/http.js';
import { assertPeerCredAvailable } from './wire/peercred.js';
import { redactExchange } from './api/redact.js';
import { valueString } from './wire/xmlrpc.js';
import { semanticsImpls } from './xapi/index.js';
import { startHostMonitor } from './xapi/monitor.js';
import { startOfDayLocal } from './xapi/start_of_day.js';
import { adoptLayout } from './xapi/adopt.js';
import { removeStaleIpBatchDirs } from './backends/tmp.js';
import { bridgeForDevice } from './xapi/introduce.js';
import { firstStart, isEmpty, softwareVersion, splitInventory, type FirstStartOptions, type InventoryNic } from './xapi/startup.js';

/** This daemon's version (host.software_version:product_version). */
export const VERSION = '0.1.0';

/** A running daemon. */
export interface Running {
  d: Daemon;
  store: Store;
  backend: Backend;
  reconciler: Reconciler;
  dispatcher: Dispatcher;
  tasks: Tasks;
  port: number;
  url: string;
  /** The TCP server. */
  server: import('node:http').Server;
  /** Requests received so far, on every listener (idle detection; counted by the wire, not by a second 'request' listener). */
  requests(): number;
  close(): Promise<void>;
}

/** Makes the daemon's logger (stderr, plus a file if configured). */
export function makeLogger(cfg: Pick<Config, 'logLevel' | 'logFile'>): DaemonLog {
  return new DaemonLog(cfg.logLevel, cfg.logFile || undefined);
}

/** The path of the managed node controller (docs/backends.md, ifcfg; src/pool/nodeconfig.ts). */
export { NODE_CONFIG_PATH };

/**
 * --record FILE: a header line with what a replay needs to start an equal daemon (inventory,
 * host name, the host's memory figures), then one JSON line per exchange (scripts/replay.ts),
 * passwords and pool secrets redacted (api/redact.ts), and at shutdown a last line with the
 * networking records the session left (replay compares it). The file is created 0600.
 */
function recorder(file: string, cfg: Config, store: Store, hostRef: string, secrets: () => string[]): { exchange(ex: Exchange): void; finish(): void } {
  const host = store.get('host', hostRef);
  const m = store.get('host_metrics', String(host.metrics));
  const header = {
    recording: 1,
    inventory: cfg.inventory ?? DEMO_INVENTORY,
    hostname: host.hostname,
    hostMetrics: { memory_total: m.memory_total, memory_free: m.memory_free },
  };
  appendFileSync(file, `${JSON.stringify(header)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return {
    exchange: (ex) => appendFileSync(file, `${JSON.stringify(redactExchange(ex, secrets()))}\n`),
    finish: () => appendFileSync(file, `{"dump":${dumpJson(store)}}\n`),
  };
}

/** Creates the database file 0600 (SQLite gives its -wal and -shm files the same mode) and tightens existing ones. */
function privateDbFiles(db: string): void {
  if (db === ':memory:' || db === '') return;
  mkdirSync(dirname(db), { recursive: true });
  closeSync(openSync(db, 'a', 0o600));
  for (const f of [db, `${db}-wal`, `${db}-shm`, `${db}-journal`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/** host.software_version:network_backend when --network-backend is not given: ifcfg drives Linux bridges; the simulated host is openvswitch-flavoured, as a current XenServer, so tunnels work on `make run`. */
export function defaultNetworkBackend(backend: string): 'openvswitch' | 'bridge' {
  return backend === 'ifcfg' ? 'bridge' : 'openvswitch';
}

/**
 * What first start records: with the simulated backend the inventory (default: the demo NICs);
 * with a real one the host's own NICs, the inventory (if given) only saying which carries
 * management, its IP configuration and the bonds/VLANs; without an inventory, the host as found
 * (hostnet.ts): management is the interface holding the default route, with its address, so
 * first start changes nothing on the host. The demo inventory never reaches a real host.
 */
export async function firstStartLayout(cfg: Config, backend: Backend, log: Log): Promise<Pick<FirstStartOptions, 'inventory' | 'bonds' | 'vlans'>> {
  const nics = await backend.nics();
  if (backend.name === 'simulated') {
    const { nics: inv, bonds, vlans } = splitInventory(cfg.inventory ?? DEMO_INVENTORY);
    return { inventory: inv.map((n) => ({ ...n, ...(nics.find((x) => x.device === n.device) ?? {}) })), bonds, vlans };
  }
  if (cfg.inventory) {
    const { nics: inv, bonds, vlans } = splitInventory(cfg.inventory);
    const missing = [...bonds.flatMap((b) => b.members), ...vlans.map((v) => v.on)].filter(
      (d) => inv.some((n) => n.device === d) && !nics.some((n) => n.device === d),
    );
    if (missing.length) throw new Error(`--inventory names NICs this host does not have: ${[...new Set(missing)].join(', ')}`);
    return { inventory: nics.map((n) => ({ ...(inv.find((x) => x.device === n.device) ?? {}), ...n })), bonds, vlans };
  }
  const host = backend.discover ? await backend.discover() : { nics: nics.map((n) => ({ ...n, driver: '' })), foreign: [] };
  for (const f of host.foreign)
    log.info(`host has ${f.kind} ${f.device}${f.lower.length ? ` (${f.lower.join(', ')})` : ''}, not made by xenapi-netd: listed, left alone`);
  const m = host.management;
  const inventory: InventoryNic[] = host.nics.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: n.carrier }));
  // A host whose networking is in files the backend owns (ifcfg): those files are the layout (seed 003).
  if (backend.adopt) {
    const a = await backend.adopt();
    for (const s of a.skipped) log.warn(`first start: ${s.file} not adopted, left as it is: ${s.reason}`);
    const adopted = adoptLayout(a, inventory, m);
    if (adopted) {
      // Values read from the host's files pass the same datamodel value checks as --inventory.
      checkInventory([...adopted.inventory, ...adopted.bonds, ...adopted.vlans]);
      for (const line of adopted.adopted) log.info(`first start: adopted ${line}`);
      for (const p of adopted.problems) log.warn(`first start: cannot record ${p}: the first reconcile removes it`);
      return { inventory: adopted.inventory, bonds: adopted.bonds, vlans: adopted.vlans };
    }
  }
  if (!m) log.warn('no IPv4 default route: no management interface recorded (host.management_reconfigure sets one)');
  else if (!m.nic)
    log.warn(
      `management interface ${m.device} (${m.ip.address || 'no address'}) cannot be adopted: ${m.unadoptable}; PIFs recorded, the host's networking left as it is`,
    );
  else {
    const nic = inventory.find((n) => n.device === m.nic)!;
    Object.assign(nic, { management: true, ip: m.ip }, m.bridge ? { bridge: m.bridge } : { plugged: false });
    log.info(
      m.bridge
        ? `management: ${m.nic} on bridge ${m.bridge}, ${m.ip.mode} ${m.ip.address}/${m.ip.netmask} via ${m.ip.gateway || 'no gateway'}: adopted as it is`
        : `management: ${m.nic}, ${m.ip.mode} ${m.ip.address}/${m.ip.netmask} via ${m.ip.gateway || 'no gateway'}, on the NIC itself: recorded, left unplugged so nothing moves (PIF.plug puts it on ${bridgeForDevice(m.nic)})`,
    );
  }
  return { inventory };
}

/** Starts a daemon from a configuration; `backend` overrides the configured one (tests). */
export async function startDaemon(cfg: Config, opts: { backend?: Backend; log?: Log; monitorIntervalMs?: number } = {}): Promise<Running> {
  const refusal = refuseToStart(cfg);
  if (refusal) throw new Error(refusal);
  if (!cfg.tlsCert !== !cfg.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  const tls = cfg.tlsCert && cfg.tlsKey ? { cert: readFileSync(cfg.tlsCert, 'utf8'), key: readFileSync(cfg.tlsKey, 'utf8') } : undefined;
  if (cfg.poolCa) trustPoolCa(readFileSync(cfg.poolCa, 'utf8'));
  if (cfg.unixSocket) assertPeerCredAvailable();
  const log = opts.log ?? makeLogger(cfg);
  privateDbFiles(cfg.db);
  const store = new Store(cfg.db);
  // Scratch directories a daemon killed mid-plan left behind.
  for (const p of await removeStaleIpBatchDirs()) log.info(`start-up: removed leftover ${p}`);
  const backend =
    opts.backend ??
    (await createBackend(cfg.backend, {
      inventory: splitInventory(cfg.inventory ?? (cfg.backend === 'simulated' ? DEMO_INVENTORY : [])).nics,
      log,
      ovsSandbox: cfg.ovsSandbox,
      ifcfgRoot: cfg.ifcfgRoot,
      ifup: cfg.ifup,
      ifdown: cfg.ifdown,
      nmcli: cfg.nmcli,
      dhcpDir: cfg.db === ':memory:' ? undefined : join(dirname(cfg.db), 'dhcp'),
    }));
  const users = new Map(cfg.users.map((u) => [u.name, u.hash]));
  const fingerprints = new Map(cfg.users.map((u) => [u.name, hashFingerprint(u.hash)]));
  const roles = new Map(cfg.users.map((u) => [u.name, u.role ?? 'pool-admin']));
  const reconciler = new Reconciler(backend, () => d.hostRef, log);
  const d: Daemon = {
    store,
    log,
    hostRef: '',
    poolRef: '',
    encodeResult: valueString,
    authenticate: async (user, pw) => {
      const h = users.get(user);
      return h !== undefined && (await verifyPassword(pw, h));
    },
    roleOf: (user) => roles.get(user),
    authFailDelayMs: cfg.authFailDelayMs,
    loginGate: new LoginGate(cfg.loginsPerAddress, cfg.loginsInProgress),
    userFingerprint: (user) => fingerprints.get(user),
    maxSessions: cfg.maxSessions,
    services: { backend, reconciler },
  };

  // First start creates the world; the reconciler is attached afterwards and then brings
  // the host to the database in one plan (also what recovers from a crash mid-plan).
  const layout = await firstStartLayout(cfg, backend, log);
  const swOpts = {
    hostname: cfg.hostname,
    ...layout,
    ...(backend.name === 'ifcfg' ? { bondDriver: 'linux' } : {}),
    networkBackend: cfg.networkBackend ?? defaultNetworkBackend(backend.name),
    version: VERSION,
  };
  let first = false;
  await store.write((tx) => {
    if (isEmpty(tx)) {
      firstStart(tx, swOpts);
      first = true;
    }
  });
  d.poolRef = store.refs('pool')[0];
  d.hostRef = String(store.get('pool', d.poolRef).master);
  // Sessions of users removed from --users, or whose password changed, end here (before any hook: a slave's local records too).
  const purged = await store.write((tx) => purgeStaleSessions(tx, d.userFingerprint));
  if (purged) log.info(`start-up: destroyed ${purged} sessions whose user is gone or whose password changed`);
  sessionTable(store);
  await store.write((tx) => {
    tx.set('host', d.hostRef, { software_version: softwareVersion(swOpts) });
    // RBAC: one subject per configured user but the local superuser, with its role.
    syncSubjects(tx, cfg.users);
  });
  // The pool role (docs/pool.md): its hook runs before the reconciler's (a slave refuses local writes; a master forwards to slaves).
  const pool = new PoolService(cfg, d, store, swOpts);
  d.services.pool = pool;
  pool.attach();
  reconciler.attach(store);
  // Before the wire opens, through the reconciler's one entry point (journaled): the host goes to the committed database
  // (a slave's follows its master: what it last applied), which also resolves any journal entry a crash left open.
  let boot: Awaited<ReturnType<Reconciler['reconcileNow']>> | undefined;
  try {
    boot = await reconciler.reconcileNow(pool.startupState());
  } catch (e) {
    // A database holding a value no host command may take (an older daemon stored it unchecked): nothing is applied, and
    // the daemon serves so that the operator can correct it through the API (every plan carrying it fails until then).
    if (!(e instanceof InvalidPlanValue)) throw e;
    log.error(
      `start-up: the host was left as it is: the ${pool.isSlave ? 'state last applied for the master' : 'database'} holds a value no host command may take (${e.problem}); ` +
        'every call that would apply it fails until it is corrected (e.g. PIF.reconfigure_ip)',
    );
  }
  if (boot?.plan.length)
    log.info(
      `start-up: brought the host to ${pool.isSlave ? 'the state last applied for the master' : 'the database'} in ${boot.plan.length} steps: ${boot.lines.join('; ')}`,
    );
  // Start of day as xapi (fix_bonds, best-effort bring-up of physical PIFs and bond masters) at every restart; a slave's is
  // run by its master. A first start keeps only the management PIF up (docs/compat.md).
  if (!pool.isSlave && !first) await startOfDayLocal(store, d.hostRef, log);
  // Bond.links_up, PIF_metrics and a DHCP PIF's IP/netmask/gateway (what its client obtained, never made up) follow the host:
  // every second with a real backend, off for the simulated one unless asked.
  const monitor = startHostMonitor(d, reconciler.facts, opts.monitorIntervalMs ?? (backend.name === 'simulated' ? 0 : 1000));
  d.services.monitor = monitor;

  const methods = buildMethods({ ...sessionImpls, ...rbacImpls, ...taskImpls, ...eventImpls(store), ...semanticsImpls, ...poolJoinImpls });
  const dispatcher = new Dispatcher(d, methods);
  const tasks = new Tasks(d, dispatcher);
  d.services.tasks = tasks;
  const secrets = () => [pool.role.secret, pool.role.token, ...pool.roles.tokens()].filter((x): x is string => !!x);
  const rec = cfg.record ? recorder(cfg.record, cfg, store, d.hostRef, secrets) : undefined;
  const record = rec?.exchange;
  const wire = await startWire({
    host: cfg.host,
    port: cfg.port,
    maxBody: cfg.maxBody,
    handler: dispatcher,
    log,
    record,
    tls,
    unixSocket: cfg.unixSocket,
    requestTimeoutMs: cfg.requestTimeoutMs,
    keepAliveTimeoutMs: cfg.keepAliveTimeoutMs,
    maxConnections: cfg.maxConnections,
    corsOrigins: cfg.corsOrigins,
    routes: { [NODE_CONFIG_PATH]: nodeConfigRoute(d, () => (pool.isSlave ? normalizeUrl(pool.masterAddress) : undefined)) },
  });
  const url = `${tls ? 'https' : 'http'}://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${wire.port}`;
  await pool.start(url);
  return {
    d,
    store,
    backend,
    reconciler,
    dispatcher,
    tasks,
    port: wire.port,
    url,
    server: wire.server,
    requests: wire.requests,
    async close() {
      await pool.stop();
      await wire.close();
      await monitor.stop();
      await tasks.drain();
      tasks.close();
      rec?.finish(); // the state the recorded session left, once nothing can change it any more
      await backend.close();
      store.close();
    },
  };
}
