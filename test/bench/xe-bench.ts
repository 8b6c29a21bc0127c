// xe start-up benchmark: `xe-netd pif-list` against a running daemon (demo host, session kept
// from a first run as an operator's script would have it) against a bare `node -e 0`, run
// alternately in the same loop so both see the same machine load. Target: ≤ 1.5× bare Node.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure } from './report.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const XE = join(ROOT, 'dist/src/cli/xe.cjs');
const MAIN = join(ROOT, 'dist/src/main.js');
const RUNS = Number(process.env.BENCH_XE_RUNS ?? 25);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall time of one child run, in ms (and its exit status). */
function timed(args: string[], env: NodeJS.ProcessEnv): { ms: number; status: number | null } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: r.status };
}

/** Runs the benchmark; returns the lines to print. */
export async function benchXe(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'xnd-xe-bench-'));
  const port = await freePort();
  const d = spawn(process.execPath, [MAIN, '--listen', `127.0.0.1:${port}`, '--db', ':memory:', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const env = { ...process.env, XE_NETD_URL: `http://127.0.0.1:${port}/`, XDG_RUNTIME_DIR: dir };
    for (let i = 0; i < 100 && timed([XE, 'pif-list'], env).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const bare: number[] = [];
    const xe: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bare.push(timed(['-e', '0'], env).ms);
      const r = timed([XE, 'pif-list'], env);
      if (r.status !== 0) throw new Error('xe-netd pif-list failed');
      xe.push(r.ms);
    }
    const ratio = median(xe) / median(bare);
    figure({ area: 'xe', name: 'xe-netd pif-list, start to exit', value: ratio, unit: 'x node -e 0', target: { op: '<=', value: 1.5 }, note: `bare node -e 0 ${median(bare).toFixed(0)} ms, xe-netd ${median(xe).toFixed(0)} ms (medians of ${RUNS} alternating runs)` });
    return [
      'xe start-up (median of ' + RUNS + ' alternating runs, wall clock from process start to exit)',
      `  node -e 0              ${median(bare).toFixed(1)} ms`,
      `  xe-netd pif-list       ${median(xe).toFixed(1)} ms`,
      `  ratio                  ${ratio.toFixed(2)}x   target <= 1.5x   ${ratio <= 1.5 ? 'met' : 'missed'}`,
    ];
  } finally {
    d.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
