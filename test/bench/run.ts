// `make bench`: the daemon against a raw node:http server measured in the same run, so the
// figures are ratios that survive a noisy machine. Prints:
//   - PIF.get_record calls/s, p50 and p99 at 1, 16 and 64 connections (wrk), and the ratio to
//     the raw server returning the same bytes;
//   - PIF.get_all_records at 1,000 and 10,000 PIFs: time to last byte and the daemon's peak RSS,
//     with the raw server's time for the same bytes;
//   - get_record p99 at 16 connections while a 10,000-PIF get_all_records loops;
//   - Bond.create / Bond.destroy with 1,000 VIFs to move and 100 VLANs (bond.ts), when present;
//   - logins/s at 0 and 50,000 live sessions, a good login's p99 while 10 clients fail logins (login-bench.ts).
// Fixtures: the daemon's --inventory with N NICs makes N PIFs (+ networks, metrics) at first start.
// The daemon runs with the V8 flags and environment `make run` uses (src/main.ts's #! line).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allFigures, figure, readResults, tables, writeResults } from './report.js';
import { expectSuccess, post } from './post.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/main.js');
const RAW = join(ROOT, 'dist/test/bench/raw-server.js');
const DUR = Number(process.env.BENCH_SECONDS ?? 5);
/** Rounds per get_record point, raw and daemon alternated (BENCH_WIRE_ROUNDS). */
const WIRE_ROUNDS = Number(process.env.BENCH_WIRE_ROUNDS ?? 3);
const tmp = mkdtempSync(join(tmpdir(), 'xnd-bench-'));
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await new Promise<boolean>((res) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); res(true); });
      c.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

const xmlCall = (method: string, ...params: string[]) =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value>${p}</value></param>`).join('')}</params></methodCall>`;

function valueOf(xml: Buffer): string {
  const m = /<name>Value<\/name><value>([^<]*)<\/value>/.exec(xml.toString());
  if (!m) throw new Error(`no value in ${xml.toString().slice(0, 300)}`);
  return m[1];
}

/** Starts a daemon with n NICs; resolves to its port and pid. */
async function startDaemon(n: number): Promise<{ port: number; child: ChildProcess; session: string }> {
  const inv = Array.from({ length: n }, (_, i) => ({
    device: `eth${i}`,
    MAC: `02:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`,
    MTU: 1500,
    ...(i === 0 ? { management: true, ip: { mode: 'Static', address: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1' } } : {}),
  }));
  const invFile = join(tmp, `inv-${n}.json`);
  writeFileSync(invFile, JSON.stringify(inv));
  const port = await freePort();
  const child = spawn(process.execPath, ['--max-semi-space-size=8', MAIN, '--listen', `127.0.0.1:${port}`, '--db', join(tmp, `db-${n}.db`), '--inventory', invFile, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, MALLOC_ARENA_MAX: '1' },
  });
  children.push(child);
  await waitListening(port);
  const session = valueOf((await post(port, xmlCall('session.login_with_password', 'root', 'secret'))).body);
  return { port, child, session };
}

async function startRaw(replyFile: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [RAW, String(port), replyFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  await waitListening(port);
  return { port, child };
}

function stop(c: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r(); // exited, or killed by a signal (no second 'exit')
    c.once('exit', () => r());
    c.kill('SIGTERM');
  });
}

interface WrkResult { rps: number; p50: number; p99: number }

function wrkArgs(port: number, body: string, conns: number, seconds: number): string[] {
  const lua = join(tmp, `post-${port}-${conns}.lua`);
  writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "text/xml"\nwrk.body = [==[${body}]==]\n`);
  return ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', lua, `http://127.0.0.1:${port}/`];
}

function wrk(port: number, body: string, conns: number, seconds = DUR): WrkResult {
  return wrkResult(execFileSync('wrk', wrkArgs(port, body, conns, seconds), { encoding: 'utf8' }));
}

/** wrk while this process's event loop keeps running (a client of our own, here, calls meanwhile). */
function wrkAsync(port: number, body: string, conns: number, seconds = DUR): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    execFile('wrk', wrkArgs(port, body, conns, seconds), { encoding: 'utf8' }, (e, out) => {
      if (e) reject(e);
      else {
        try {
          resolve(wrkResult(out));
        } catch (x) {
          reject(x);
        }
      }
    });
  });
}

function wrkResult(out: string): WrkResult {
  const ms = (label: string) => {
    const m = new RegExp(`\\s${label}\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return { rps, p50: ms('50%'), p99: ms('99%') };
}

/** Resets and reads a process's peak RSS (VmHWM), in MB. */
function resetPeak(pid: number): void {
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* kernels without it: peak since start */ }
}
function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function peakMB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const rows: string[] = [];
function line(s = ''): void {
  console.log(s);
  rows.push(s);
}

async function benchGetRecord(): Promise<void> {
  const d = await startDaemon(6);
  const all = (await post(d.port, xmlCall('PIF.get_all', d.session))).body.toString();
  const ref = /<value>(OpaqueRef:[^<]+)<\/value>/.exec(all)![1];
  const body = xmlCall('PIF.get_record', d.session, ref);
  const reply = (await post(d.port, body)).body;
  const replyFile = join(tmp, 'pif-record.xml');
  writeFileSync(replyFile, reply);
  const raw = await startRaw(replyFile);
  line(`PIF.get_record (${reply.length}-byte reply), ${WIRE_ROUNDS} rounds of ${DUR} s per point (median round), wrk -t1, loopback`);
  line('conns | daemon req/s | p50 ms | p99 ms | raw req/s | raw p99 ms | ratio');
  // Each point is 3 rounds, raw and daemon alternated (order flipped each round), and the figure is
  // the median round: on a shared 2-core machine the cores' speed drifts over seconds, and one
  // raw-then-daemon pair moved the ratio by ±0.15 between back-to-back runs of the same build.
  const median = <T>(xs: T[], by: (x: T) => number) => [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)];
  for (const c of [1, 16, 64]) {
    const rounds: { rr: WrkResult; dr: WrkResult }[] = [];
    for (let i = 0; i < WIRE_ROUNDS; i++) {
      if (i % 2 === 0) {
        const rr = wrk(raw.port, body, c);
        rounds.push({ rr, dr: wrk(d.port, body, c) });
      } else {
        const dr = wrk(d.port, body, c);
        rounds.push({ dr, rr: wrk(raw.port, body, c) });
      }
    }
    const { rr, dr } = median(rounds, (x) => x.dr.rps / x.rr.rps);
    line(`${String(c).padStart(5)} | ${fmt(dr.rps, 0).padStart(12)} | ${fmt(dr.p50, 2).padStart(6)} | ${fmt(dr.p99, 2).padStart(6)} | ${fmt(rr.rps, 0).padStart(9)} | ${fmt(rr.p99, 2).padStart(10)} | ${fmt((100 * dr.rps) / rr.rps, 0)} %`);
    figure({
      area: 'wire', name: `PIF.get_record req/s, ${c} conn${c > 1 ? 's' : ''}, share of raw`, value: dr.rps / rr.rps, unit: 'x raw',
      target: c === 16 ? { op: '>=', value: 0.75 } : c === 64 ? { op: '>=', value: 0.6 } : undefined,
      note: `raw node:http returning the same ${reply.length} bytes (${fmt(rr.rps, 0)} req/s)`,
    });
    figure({ area: 'wire', name: `PIF.get_record p99, ${c} conn${c > 1 ? 's' : ''}`, value: dr.p99, unit: 'ms', note: `raw: ${fmt(rr.p99, 2)} ms` });
  }
  // The idle daemon's memory: RSS after the benchmark's traffic, once it has been idle for a while:
  // the daemon gives memory back at its first 2 s check without requests (src/heap.ts releaseWhenIdle).
  await new Promise((r) => setTimeout(r, 5000));
  figure({ area: 'memory', name: 'idle daemon RSS (6 NICs, 5 s after traffic)', value: rssMB(d.child.pid!), unit: 'MB', target: { op: '<', value: 60 }, note: 'VmRSS' });
  await stop(raw.child);
  await stop(d.child);
}

async function benchGetAll(n: number): Promise<void> {
  const d = await startDaemon(n);
  const body = xmlCall('PIF.get_all_records', d.session);
  // Warm-up: JIT, the first allocation of the reply buffers, and the record cache filled (its
  // time is reported as the first reply's).
  const cold = await post(d.port, body);
  expectSuccess(`PIF.get_all_records, ${n} PIFs, first reply`, cold);
  resetPeak(d.child.pid!);
  const runs: number[] = [];
  let size = 0;
  let replyBuf: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 3; i++) {
    const r = await post(d.port, body);
    expectSuccess(`PIF.get_all_records, ${n} PIFs`, r);
    runs.push(r.ms);
    size = r.body.length;
    replyBuf = r.body;
  }
  const peak = peakMB(d.child.pid!);
  const replyFile = join(tmp, `all-${n}.xml`);
  writeFileSync(replyFile, replyBuf);
  const raw = await startRaw(replyFile);
  const rawRuns: number[] = [];
  for (let i = 0; i < 3; i++) rawRuns.push((await post(raw.port, body)).ms);
  await stop(raw.child);
  const best = Math.min(...runs);
  const rawBest = Math.min(...rawRuns);
  line(`PIF.get_all_records, ${n} PIFs (${(size / 1e6).toFixed(1)} MB): best of 3 ${fmt(best, 0)} ms (raw server, same bytes: ${fmt(rawBest, 0)} ms, ratio ${fmt(best / rawBest, 1)}x), daemon peak RSS ${fmt(peak, 0)} MB`);
  figure({ area: 'bulk', name: `PIF.get_all_records, ${n} PIFs, time to last byte`, value: best / rawBest, unit: 'x raw', target: n === 10000 ? { op: '<=', value: 2 } : undefined, note: `raw server, same ${(size / 1e6).toFixed(1)} MB: ${fmt(rawBest, 0)} ms (daemon ${fmt(best, 0)} ms)` });
  figure({ area: 'bulk', name: `PIF.get_all_records, ${n} PIFs, first reply (record cache empty)`, value: cold.ms / rawBest, unit: 'x raw', note: `daemon ${fmt(cold.ms, 0)} ms` });
  figure({ area: 'bulk', name: `PIF.get_all_records, ${n} PIFs, daemon peak RSS`, value: peak, unit: 'MB', target: n === 10000 ? { op: '<', value: 120 } : undefined, note: 'VmHWM reset before the replies' });
  if (n === 10000) {
    // Does a bulk reply starve small calls? get_record p99 while get_all_records loops.
    const ref = /<name>(OpaqueRef:[^<]+)<\/name>/.exec(replyBuf.toString('utf8', 0, 5000))![1];
    let looping = true;
    let bulk = 0;
    const loop = (async () => {
      while (looping) {
        expectSuccess('PIF.get_all_records while get_record runs', await post(d.port, body));
        bulk++;
      }
    })();
    loop.catch(() => undefined); // a failed reply is thrown by `await loop` below, once wrk is done
    // wrk runs asynchronously: this process must go on reading the bulk replies meanwhile (with
    // execFileSync the loop stood still and the daemon waited for it to drain).
    const r = await wrkAsync(d.port, xmlCall('PIF.get_record', d.session, ref), 16, DUR);
    looping = false;
    await loop;
    line(`PIF.get_record at 16 conns while 10,000-PIF get_all_records loops (${bulk} bulk replies): ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms`);
    figure({ area: 'bulk', name: 'PIF.get_record p99 at 16 conns while bulk replies loop', value: r.p99, unit: 'ms', target: { op: '<', value: 10 }, note: `${bulk} 10,000-PIF replies during the run` });
  }
  await stop(d.child);
}

/**
 * The idle daemon's memory: VmRSS of a daemon with 6 NICs that started, took one login and has
 * had no traffic for 3 s (median of 3 daemons), beside a bare `node` process waiting on a timer
 * in the same run (what any Node process holds). RssAnon/RssFile split says what is heap and
 * what is the node binary's pages.
 */
async function benchIdle(): Promise<void> {
  const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (s: string, k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) / 1024;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const runs: { rss: number; anon: number; file: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const d = await startDaemon(6);
    await new Promise((r) => setTimeout(r, 3000));
    const s = status(d.child.pid!);
    runs.push({ rss: kb(s, 'VmRSS'), anon: kb(s, 'RssAnon'), file: kb(s, 'RssFile') });
    await stop(d.child);
  }
  const bare = spawn(process.execPath, ['--max-semi-space-size=8', '-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore', env: { ...process.env, MALLOC_ARENA_MAX: '1' } });
  children.push(bare);
  await new Promise((r) => setTimeout(r, 1500));
  const b = status(bare.pid!);
  await stop(bare);
  const m = runs.find((x) => x.rss === median(runs.map((y) => y.rss)))!;
  line(`Idle daemon (6 NICs, one login, 3 s without traffic), median of 3: VmRSS ${fmt(m.rss)} MB (anon ${fmt(m.anon)}, file ${fmt(m.file)}); bare node: ${fmt(kb(b, 'VmRSS'))} MB (anon ${fmt(kb(b, 'RssAnon'))}, file ${fmt(kb(b, 'RssFile'))})`);
  figure({ area: 'memory', name: 'idle daemon RSS (6 NICs, no traffic)', value: m.rss, unit: 'MB', target: { op: '<', value: 60 }, note: `median of 3; anon ${fmt(m.anon)} + file ${fmt(m.file)} MB; bare node -e in the same run: ${fmt(kb(b, 'VmRSS'))} MB` });
}

/** Runs an optional benchmark module (bond, pool, ovs) and prints its lines. */
async function benchModule(file: string, fn: string, what: string): Promise<void> {
  const modUrl = new URL(`./${file}`, import.meta.url);
  if (!existsSync(fileURLToPath(modUrl))) {
    line(`${what}: not built (${file} absent)`);
    return;
  }
  const mod = await import(modUrl.href);
  line('');
  for (const l of await mod[fn]()) line(l);
}

async function main(): Promise<void> {
  line(`xenapi-netd benchmarks, ${new Date().toISOString()}, node ${process.version}`);
  // BENCH_ONLY=wire|bulk|memory|bond|pool|xe|login|ovs runs one group (default: all; wire includes bulk); BENCH_SECONDS sets wrk's duration.
  const only = process.env.BENCH_ONLY;
  const want = (g: string) => !only || only.split(',').includes(g);
  if (want('wire') || want('bulk')) {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    } catch (e) {
      // wrk prints its version with exit status 1; only a missing binary is fatal
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error("wrk is not installed: 'apt-get install wrk' (make bench does it as root)");
    }
    if (want('wire')) await benchGetRecord();
    await benchGetAll(1000);
    await benchGetAll(10000);
  }
  if (want('memory')) await benchIdle();
  if (want('bond')) await benchModule('bond-bench.js', 'benchBond', 'Bond.create/destroy benchmark');
  if (want('pool')) await benchModule('pool-bench.js', 'benchPool', 'pool start-up benchmark');
  if (want('xe')) await benchModule('xe-bench.js', 'benchXe', 'xe start-up benchmark');
  if (want('login')) await benchModule('login-bench.js', 'benchLogin', 'login benchmark');
  if (want('ovs')) {
    if (process.getuid?.() === 0) await benchModule('ovs-bench.js', 'benchOvs', 'Open vSwitch benchmark');
    else line('Open vSwitch benchmark: needs root (network namespaces)');
  }
  // The report: one table per area with targets, the JSON for a later COMPARE, and the text.
  const old = process.env.COMPARE ? readResults(process.env.COMPARE) : undefined;
  for (const l of tables(allFigures(), old)) line(l);
  writeResults(join(ROOT, 'bench/results.json'), { when: new Date().toISOString(), node: process.version, cores: (await import('node:os')).cpus().length });
  line(`\nfigures written to bench/results.json${old ? `; compared with ${process.env.COMPARE}` : ''}`);
  writeFileSync(join(ROOT, 'bench-results.txt'), rows.join('\n') + '\n');
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all(children.map(stop));
    rmSync(tmp, { recursive: true, force: true });
    // Every child is stopped above; the in-process pool master leaves a handle the loop waits on
    // (the run hung after its report), so the benchmark ends here, keeping its exit code.
    process.exit();
  });
