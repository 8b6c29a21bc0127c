// Pool benchmarks (simulated backends, daemons talking XML-RPC over loopback; figures in the
// report's `pool` table):
//   - master write latency (network.create p99) while one slave daemon is SIGSTOPped with a
//     forwarded call to it in flight, beside the same with no slave hung (goal < 100 ms);
//   - start-up sync of 1, 4, 16, 32 and 64 slaves started at once against a master process with
//     50 bonds (100 NICs) and 500 VLANs (10 per bond, each on its own network); each slave is a
//     daemon process of its own (as each is a host of its own in a pool) with the same 100 NICs,
//     and gets the 50 bonds and 500 VLANs copied. The slaves start first and wait for the master
//     (retrying every 200 ms); the time runs from the moment the master listens to the last
//     slave's "start-up sync done" line, so what is measured is the pool's sync, not 64 Node
//     start-ups on one machine. The master's RSS after each run (goals < 2 s at 16, < 8 s at 64, linear);
//   - pool.create_VLAN_from_PIF on all 65 hosts of the 64-slave pool (goal < 1 s).
// BENCH_CPU_PROF=DIR: V8 CPU profiles of the master and the first slave process of each pool size
// (DIR/pool-master-N/, DIR/pool-slave-N/).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RemoteFailure, xapiCall } from '../../src/pool/rpc.js';
import { allFigures, figure, tables } from './report.js';
import net from 'node:net';
import type { CallCtx } from '../../src/api/context.js';
import { bondCreate } from '../../src/xapi/bond.js';
import { vlanCreate } from '../../src/xapi/vlan.js';
import { inventory, startNode, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const NICS = Array.from({ length: 100 }, (_, i) => `eth${i}`);
const BONDS = 50;
const VLANS_PER_BOND = 10;

/** A master whose host has 50 bonds and 500 VLANs on them (built in three transactions). */
export async function bigMaster(dir: string): Promise<Node> {
  const m = await startNode({ h: 0, db: join(dir, 'm.db'), nics: inventory(0, NICS) });
  const store = m.r.store;
  const host = m.r.d.hostRef;
  const pif = (dev: string) => [...store.rows('PIF')].find(([, p]) => p.host === host && p.device === dev && p.physical === true)![0];
  const net = (tx: any, name: string) => tx.create('network', { name_label: name, name_description: '', MTU: 1500, other_config: Object.create(null), bridge: name.toLowerCase(), managed: true });
  const bondMasters: string[] = [];
  await store.write((tx) => {
    const ctx: CallCtx = { d: m.r.d, session: '', db: tx, tx, method: 'bench', facts: m.r.reconciler.facts };
    for (let b = 0; b < BONDS; b++) {
      const n = net(tx, `xapib${b}`);
      const bond = bondCreate(ctx, n, [pif(`eth${2 * b}`), pif(`eth${2 * b + 1}`)], '', b === 0 ? 'active-backup' : 'balance-slb', {});
      bondMasters.push(String(tx.get('Bond', bond).master));
    }
  });
  await store.write((tx) => {
    for (let b = 0; b < BONDS; b++) {
      for (let v = 0; v < VLANS_PER_BOND; v++) vlanCreate(tx, bondMasters[b], 100 + b * VLANS_PER_BOND + v, net(tx, `xapiv${b}x${v}`));
    }
  });
  return m;
}

/** A master daemon as a child process (its RSS is its own), on an existing database; resolves when it serves (`listening`: when it said so). */
async function childMaster(
  db: string,
  nics: string[],
  args: string[] = [],
  o: { listen?: string; nodeArgs?: string[]; onListening?: () => void } = {},
): Promise<{ url: string; proc: ChildProcess; listening: number; cpuAtListening: number; mainCpuAtListening: number; stop(): Promise<void> }> {
  let url = '';
  let listening = 0;
  let cpuAtListening = 0;
  let mainCpuAtListening = 0;
  const inv = join(dirname(db), 'master-inv.json');
  writeFileSync(inv, JSON.stringify(inventory(0, nics)));
  const proc = spawn(process.execPath, ['--max-semi-space-size=8', ...(o.nodeArgs ?? []), MAIN, '--db', db, '--inventory', inv, '--hostname', 'host0', '--listen', o.listen ?? '127.0.0.1:0',
    '--auth-fail-delay', '10', '--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MALLOC_ARENA_MAX: '1' } });
  // The listening line is logged at info; after it, only the last few KB are kept (for errors).
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString();
    if (!listening && /xenapi-netd http:\/\/[\d.]+:\d+:/.test(out)) {
      listening = performance.now();
      cpuAtListening = cpuMs(proc.pid!);
      mainCpuAtListening = cpuMs(proc.pid!, true);
      o.onListening?.();
    }
    if (url && out.length > 8192) out = out.slice(-4096);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  await until('the master to serve', () => !!(url = /xenapi-netd (http:\/\/[\d.]+:\d+):/.exec(out)?.[1] ?? ''), 60_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${out.slice(-2000)}`);
  });
  return {
    url, proc, listening, cpuAtListening, mainCpuAtListening,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

/** A slave daemon process (simulated backend, 100 NICs) pointing at a master that may not listen yet. */
interface SlaveProc { proc: ChildProcess; ready: Promise<void>; synced: Promise<number>; stop(): Promise<void> }
function childSlave(dir: string, name: string, h: number, masterUrl: string, nodeArgs: string[] = []): SlaveProc {
  const inv = join(dir, `${name}-inv.json`);
  writeFileSync(inv, JSON.stringify(inventory(h, NICS)));
  const proc = spawn(process.execPath, ['--max-semi-space-size=8', ...nodeArgs, MAIN, '--db', join(dir, `${name}.db`), '--inventory', inv, '--hostname', name, '--listen', '127.0.0.1:0',
    '--log-level', 'info', '--pool-master', masterUrl, '--pool-user', 'root', '--pool-password', 'secret', '--pool-heartbeat', '600000', '--pool-max-backoff', '200'],
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MALLOC_ARENA_MAX: '1' } });
  let out = '';
  let onReady!: () => void;
  let onSynced!: (t: number) => void;
  let failed!: (e: Error) => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const synced = new Promise<number>((r, j) => {
    onSynced = r;
    failed = j;
  });
  let isReady = false;
  let isSynced = false;
  // Lines are looked at as they come; only a tail is kept (for errors).
  const scan = (b: Buffer) => {
    out = (out + b.toString()).slice(-16384);
    if (!isReady && /xenapi-netd http:\/\/[\d.]+:\d+:/.test(out)) {
      isReady = true;
      onReady();
    }
    if (!isSynced && out.includes('pool: start-up sync with the master done')) {
      isSynced = true;
      onSynced(performance.now());
    }
  };
  proc.stdout!.on('data', scan);
  proc.stderr!.on('data', scan);
  const exited = new Promise<void>((r) => proc.on('exit', () => {
    failed(new Error(`slave ${name} exited before it synced:\n${out.slice(-2000)}`));
    r();
  }));
  synced.catch(() => undefined);
  return {
    proc, ready, synced,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * CPU time (user + system) a process has used so far, in ms (/proc/PID/stat, 100 ticks a second);
 * `mainThread`: only its main thread's (/proc/PID/task/PID/stat), the event loop, whose work is
 * serial, without libuv's pool (password hashing) and V8's helper threads.
 */
function cpuMs(pid: number, mainThread = false): number {
  try {
    const f = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return NaN;
  }
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A progress line, printed at once (a long run shows what it measured so far) and kept for the report. */
function say(out: string[], l: string): void {
  console.error(`  [pool] ${l}`);
  out.push(l);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/**
 * Starts `n` slave processes pointing at a master that does not listen yet, waits until each serves
 * (and retries its master), then starts the master on that address: returns the ms from the
 * master listening until every slave finished its start-up sync.
 */
async function startPool(
  dir: string,
  n: number,
): Promise<{
  ms: number;
  slaves: SlaveProc[];
  m: Awaited<ReturnType<typeof childMaster>>;
  masterCpu: number;
  masterMainCpu: number;
  slaveCpu: number;
  slaveSyncCpu: number;
}> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const slaves: SlaveProc[] = [];
  let m: Awaited<ReturnType<typeof childMaster>> | undefined;
  try {
    // Started a few at a time: 64 Node start-ups at once on a small machine take long, and they are not what is measured.
    for (let i = 0; i < n; i += 8) {
      const batch = Array.from({ length: Math.min(8, n - i) }, (_, k) => childSlave(dir, `slave${n}-${i + k}`, ((i + k) % 9) + 1, url,
        // The first slave's profile beside the master's (BENCH_CPU_PROF).
        process.env.BENCH_CPU_PROF && i + k === 0 ? ['--cpu-prof', '--cpu-prof-dir', join(process.env.BENCH_CPU_PROF, `pool-slave-${n}`)] : []));
      slaves.push(...batch);
      await Promise.race([Promise.all(batch.map((s) => s.ready)), ...batch.map((s) => s.synced)]);
    }
    // CPU each process spends on the sync: from here (slaves started and waiting) to the last sync done.
    const slaveCpu0 = slaves.map((s) => cpuMs(s.proc.pid!));
    const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', join(process.env.BENCH_CPU_PROF, `pool-master-${n}`)] : [];
    // Every slave here logs in from 127.0.0.1; in a pool each is a machine with an address of its own, which the
    // per-address limit of password checks in progress (default 4, 16 more waiting) does not meet.
    // Each slave's CPU again once the master listens: before that the slaves only retry (every 200 ms) while it starts.
    let slaveCpuL: number[] = slaveCpu0;
    m = await childMaster(join(dir, 'm.db'), NICS, ['--logins-per-address', '64'], {
      listen: `127.0.0.1:${port}`,
      nodeArgs: prof,
      onListening: () => (slaveCpuL = slaves.map((s) => cpuMs(s.proc.pid!))),
    });
    const done = await Promise.race([
      Promise.all(slaves.map((s) => s.synced)),
      new Promise<never>((_, j) => setTimeout(() => j(new Error(`${n} slaves did not sync within 600 s`)), 600_000)),
    ]);
    const masterCpu = cpuMs(m.proc.pid!) - m.cpuAtListening;
    const masterMainCpu = cpuMs(m.proc.pid!, true) - m.mainCpuAtListening;
    const slaveNow = slaves.map((s) => cpuMs(s.proc.pid!));
    const slaveCpu = slaveNow.reduce((t, c, i) => t + c - slaveCpu0[i], 0) / n;
    const slaveSyncCpu = slaveNow.reduce((t, c, i) => t + c - slaveCpuL[i], 0) / n;
    return { ms: Math.max(...done) - m.listening, slaves, m, masterCpu, masterMainCpu, slaveCpu, slaveSyncCpu };
  } catch (e) {
    await Promise.all(slaves.map((s) => s.stop()));
    await m?.stop();
    throw e;
  }
}

/** Start-up sync of N slaves at once against a child-process master with 50 bonds and 500 VLANs; at 64, a pool-wide VLAN. */
async function benchStartup(dir: string, out: string[]): Promise<void> {
  // The master's database is built once, in process, then copied for each run.
  const seed = join(dir, 'seed');
  mkdirSync(seed);
  const built = await bigMaster(seed);
  const bondPifDevice = 'bond0';
  await built.stop();
  const curve: [number, number][] = [];
  // BENCH_POOL_SLAVES=1,4,16 runs fewer sizes (the pool-wide VLAN is measured on the largest).
  const sizes = (process.env.BENCH_POOL_SLAVES ?? '1,4,16,32,64').split(',').map(Number);
  for (const n of sizes) {
    const rd = join(dir, `run${n}`);
    mkdirSync(rd);
    copyFileSync(join(seed, 'm.db'), join(rd, 'm.db'));
    const { ms, slaves, m, masterCpu, masterMainCpu, slaveCpu, slaveSyncCpu } = await startPool(rd, n);
    // Every process this run started stops, whatever fails below.
    try {
      curve.push([n, ms]);
      const target = n === 16 ? { op: '<' as const, value: 2000 } : n === 64 ? { op: '<' as const, value: 8000 } : undefined;
      figure({ area: 'pool', name: `start-up sync, ${n} slave${n > 1 ? 's' : ''} at once (100 NICs, 50 bonds, 500 VLANs each)`, value: ms, unit: 'ms', target, note: `${(ms / n).toFixed(0)} ms per slave` });
      figure({ area: 'pool', name: `master RSS after ${n} slave${n > 1 ? 's' : ''} synced`, value: rssMB(m.proc.pid!), unit: 'MB', note: 'VmRSS of the master process' });
      // Where the time can go on this machine: the master's CPU per slave is the serial part of a real
      // pool; each slave's own CPU runs on its own machine in a real pool, on these same cores here.
      figure({ area: 'pool', name: `start-up sync, ${n} slave${n > 1 ? 's' : ''}: master CPU per slave`, value: masterCpu / n, unit: 'ms', note: `slave process CPU per sync ${slaveSyncCpu.toFixed(0)} ms from the master listening (${slaveCpu.toFixed(0)} ms with the retries while it started); ${cpus().length} cores` });
      // The serial part: what one master's event loop spends per slave (its time x slaves is the least a pool of machines can take).
      figure({ area: 'pool', name: `start-up sync, ${n} slave${n > 1 ? 's' : ''}: master event-loop CPU per slave (serial)`, value: masterMainCpu / n, unit: 'ms', note: `x ${n} = ${(masterMainCpu / 1000).toFixed(2)} s; the rest of the master's CPU is password hashing (libuv pool) and V8's helper threads` });
      say(out, `pool start-up sync, ${n} slaves at once: ${ms.toFixed(0)} ms; master RSS ${rssMB(m.proc.pid!).toFixed(0)} MB; CPU per slave: master ${(masterCpu / n).toFixed(0)} ms (event loop ${(masterMainCpu / n).toFixed(0)} ms), slave ${slaveSyncCpu.toFixed(0)} ms (${slaveCpu.toFixed(0)} ms with its retries while the master started)`);
      if (n === sizes[sizes.length - 1]) {
        // pool.create_VLAN_from_PIF on the master's first bond: a VLAN on the same bond of every host (65 hosts, 64 forwarded calls).
        const session = await xapiCall<string>(m.url, 'session.login_with_password', ['root', 'secret']);
        // Only the bond PIFs (65), not every PIF of the pool (42,000 at 64 slaves).
        const pifs = await xapiCall<Record<string, Record<string, string>>>(m.url, 'PIF.get_all_records_where', [session, `field "device" = "${bondPifDevice}"`]);
        const hosts = await xapiCall<Record<string, Record<string, string>>>(m.url, 'host.get_all_records', [session]);
        const masterHost = Object.keys(hosts).find((h) => hosts[h].name_label === 'host0')!;
        const bondPif = Object.keys(pifs).find((r) => pifs[r].host === masterHost)!;
        const network = await xapiCall<string>(m.url, 'network.create', [session, { name_label: 'POOLWIDE', name_description: '', MTU: '1500', other_config: {}, bridge: '' }]);
        const [m0, s0] = [cpuMs(m.proc.pid!, true), slaves.reduce((t, s) => t + cpuMs(s.proc.pid!), 0)];
        const t0 = performance.now();
        // A slave too slow for --pool-call-timeout on a loaded machine fails the call (CANNOT_CONTACT_HOST [host]): reported, not fatal to the report.
        const made = await xapiCall<string[]>(m.url, 'pool.create_VLAN_from_PIF', [session, bondPif, network, '4000']).catch((e: unknown) => e as Error);
        const vlanMs = performance.now() - t0;
        const [mc, sc] = [cpuMs(m.proc.pid!, true) - m0, slaves.reduce((t, s) => t + cpuMs(s.proc.pid!), 0) - s0];
        const cpu = `master event loop ${mc.toFixed(0)} ms CPU, slaves ${sc.toFixed(0)} ms CPU in all`;
        const failed = made instanceof Error ? `failed after ${vlanMs.toFixed(0)} ms: ${made.message}` : '';
        const hostsN = made instanceof Error ? n + 1 : made.length;
        figure({
          area: 'pool',
          name: `pool.create_VLAN_from_PIF on ${hostsN} hosts (${n} slaves)`,
          value: failed ? NaN : vlanMs,
          unit: 'ms',
          target: n === 64 ? { op: '<', value: 1000 } : undefined,
          note: failed || `one VLAN per host on its copy of bond0; slave processes called in parallel; ${cpu}`,
        });
        say(out, `pool.create_VLAN_from_PIF on ${hostsN} hosts: ${failed || `${vlanMs.toFixed(0)} ms (${cpu})`}`);
      }
    } finally {
      await Promise.all(slaves.map((s) => s.stop()));
      await m.stop();
    }
  }
  // Linear growth: time per slave at 64 against at 4 (1 is dominated by fixed costs).
  const per = (n: number) => curve.find(([k]) => k === n)![1] / n;
  const [lo, hi] = [sizes.find((n) => n >= 4), sizes[sizes.length - 1]];
  if (lo && hi > lo) figure({ area: 'pool', name: `start-up sync: time per slave at ${hi} / at ${lo} (linear: <= 1.5)`, value: per(hi) / per(lo), unit: 'x', target: { op: '<=', value: 1.5 } });
}

/** Master write latency while one slave is SIGSTOPped with a forwarded call to it in flight, against the same with no slave hung. */
async function benchHungSlave(dir: string, out: string[]): Promise<void> {
  const m = await childMaster(join(dir, 'hung-m.db'), ['eth0', 'eth1', 'eth2', 'eth3']);
  const inv = join(dir, 'hung-s-inv.json');
  writeFileSync(inv, JSON.stringify(inventory(1)));
  const s = spawn(process.execPath, [MAIN, '--db', join(dir, 'hung-s.db'), '--inventory', inv, '--hostname', 'host1', '--listen', '127.0.0.1:0', '--log-level', 'warn',
    '--pool-master', m.url, '--pool-user', 'root', '--pool-password', 'secret', '--pool-heartbeat', '500'], { stdio: ['ignore', 'ignore', 'ignore'] });
  const sExited = new Promise<void>((r) => s.on('exit', () => r()));
  try {
    const session = await xapiCall<string>(m.url, 'session.login_with_password', ['root', 'secret']);
    const call = <T>(method: string, ...p: unknown[]) => xapiCall<T>(m.url, method, [session, ...p]);
    let slaveHost = '';
    await until('the slave to sync', async () => {
      const hosts = await call<Record<string, Record<string, string>>>('host.get_all_records');
      slaveHost = Object.keys(hosts).find((h) => hosts[h].name_label === 'host1') ?? '';
      return !!slaveHost && (await call<boolean>('host_metrics.get_live', hosts[slaveHost].metrics));
    }, 30_000);
    const pifs = await call<Record<string, Record<string, string>>>('PIF.get_all_records');
    const eth2 = Object.keys(pifs).find((r) => pifs[r].host === slaveHost && pifs[r].device === 'eth2')!;
    if (await call<boolean>('PIF.get_currently_attached', eth2)) await call('PIF.unplug', eth2);
    const writes = async (ms: number) => {
      const lat: number[] = [];
      const end = performance.now() + ms;
      let i = 0;
      while (performance.now() < end) {
        const t0 = performance.now();
        await call('network.create', { name_label: `lat${i++}`, name_description: '', MTU: '1500', other_config: {}, bridge: '' });
        lat.push(performance.now() - t0);
      }
      return lat;
    };
    const calm = await writes(3000);
    s.kill('SIGSTOP');
    // A forwarded call to the hung slave in flight for the whole window (default --pool-call-timeout: 5 s).
    const t0 = performance.now();
    const plug = call('PIF.plug', eth2).then(() => 'succeeded', (e: RemoteFailure) => e.details.join(' '));
    const hung = await writes(4000);
    const outcome = await plug;
    const plugMs = performance.now() - t0;
    s.kill('SIGCONT');
    const [p99c, p99h] = [pct(calm, 99), pct(hung, 99)];
    figure({ area: 'pool', name: 'master write (network.create) p99 while a slave is hung', value: p99h, unit: 'ms', target: { op: '<', value: 100 }, note: `${hung.length} writes; no slave hung: p99 ${p99c.toFixed(1)} ms (${calm.length} writes)` });
    figure({ area: 'pool', name: 'PIF.plug on the hung slave: time to fail', value: plugMs, unit: 'ms', note: `--pool-call-timeout default 5000 ms; ${outcome}` });
    say(out, `master write p99 while a slave is hung: ${p99h.toFixed(1)} ms (${hung.length} writes; calm ${p99c.toFixed(1)} ms); PIF.plug on it: ${outcome} after ${plugMs.toFixed(0)} ms`);
  } finally {
    s.kill('SIGCONT');
    s.kill('SIGTERM');
    await sExited;
    await m.stop();
  }
}

/** `make bench` lines for the pool (figures go to the report's pool table). */
export async function benchPool(): Promise<string[]> {
  const out: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'xnd-pool-bench-'));
  try {
    // BENCH_POOL_HUNG=0 leaves the hung-slave figure out (profiling the start-up sync alone).
    if (process.env.BENCH_POOL_HUNG !== '0') await benchHungSlave(dir, out);
    await benchStartup(dir, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// `node dist/test/bench/pool-bench.js` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  benchPool().then((lines) => {
    for (const l of lines) console.log(l);
    for (const l of tables(allFigures())) console.log(l);
    process.exit(0);
  }, (e) => {
    console.error(e);
    process.exit(1);
  });
}
