#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=8
// xenapi-netd: the daemon's command line. The V8 flag caps the young generation at 8 MB: with
// 10,000 PIFs it keeps ~15 MB of RSS off the idle daemon and ~20 MB off a bulk reply's peak
// for ~10 % on get_all_records time (make bench). MALLOC_ARENA_MAX=1: one malloc arena for all
// threads, so what V8's worker threads free is reused by the others (-6 MB on that peak, -0.5 MB
// idle); it must be in the environment, as threads have their arenas before any module runs.
import http from 'node:http';
import { hashPassword } from './api/session.js';
import { DEFAULT_PASSWORD, DEFAULTS, USAGE, parseArgs } from './config.js';
import { makeLogger, startDaemon } from './daemon.js';
import { loadHeapAddon, releaseMemory, releaseWhenIdle } from './heap.js';
import { assemblerMissing } from './wire/xmlrpc.js';
import { lazyHttps } from './lazy.js';
import { keepTickShape } from './wire/http.js';

/**
 * `wait-ready [daemon options] [--timeout S]`: the unit's readiness check. Resolves once the
 * --listen address accepts a connection and answers HTTP (any status), as the daemon does only
 * after start-up (database, crash recovery, reconcile) has finished.
 */
async function waitReady(argv: string[]): Promise<void> {
  let timeoutS = 60;
  const i = argv.indexOf('--timeout');
  if (i >= 0) {
    timeoutS = Number(argv[i + 1]);
    argv = [...argv.slice(0, i), ...argv.slice(i + 2)];
  }
  const cfg = parseArgs(argv);
  const host = cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host === '::' ? '::1' : cfg.host;
  const end = Date.now() + timeoutS * 1000;
  const probe = () =>
    new Promise<boolean>((resolve) => {
      const req = (cfg.tlsCert ? lazyHttps() : http).request(
        { host, port: cfg.port, method: 'GET', path: '/', timeout: 2000, rejectUnauthorized: false },
        (res) => {
          res.resume();
          resolve(true);
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`no daemon answered on ${host}:${cfg.port} within ${timeoutS} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(argv: string[]): Promise<void> {
  keepTickShape(); // before any full collection (src/wire/http.ts says why)
  if (argv[0] === 'hash-password') {
    if (!argv[1]) throw new Error('usage: xenapi-netd hash-password PASSWORD');
    console.log(await hashPassword(argv[1]));
    return;
  }
  if (argv[0] === 'wait-ready') {
    await waitReady(argv.slice(1));
    return;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const cfg = parseArgs(argv);
  const log = makeLogger(cfg);
  const noAddon = loadHeapAddon();
  if (noAddon !== undefined) log.info(`memory is not given back after start-up nor kept from growing per login: ${noAddon}`);
  const noAssembler = assemblerMissing();
  if (noAssembler !== undefined) log.info(`bulk XML-RPC replies are assembled in JavaScript (slower than the addon): ${noAssembler}`);
  const r = await startDaemon(cfg, { log });
  log.info(`xenapi-netd ${r.url}: XML-RPC on every POST path, JSON-RPC on ${r.url}/jsonrpc`);
  log.info(`database ${cfg.db}, backend ${r.backend.name}, host ${String(r.store.get('host', r.d.hostRef).name_label)} with ${r.store.count('PIF')} PIFs`);
  if (cfg.users === DEFAULTS.users) log.info(`login: user root, password ${DEFAULT_PASSWORD} (embedded default; use --users FILE to change)`);
  // Start-up's garbage and grown young generation given back at once (src/heap.ts).
  const freed = releaseMemory();
  if (typeof freed === 'number') log.debug(`start-up memory returned to the system in ${freed.toFixed(0)} ms`);
  // ... and again each time traffic stops (at most every 30 s): a burst grows V8's young generation to its cap.
  if (noAddon === undefined) releaseWhenIdle(r.requests);
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig}: stopping`);
    await r.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`xenapi-netd: ${(e as Error).message}`);
  process.exit(1);
});
