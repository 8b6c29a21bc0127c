// Regenerates the contract corpus (test/contract/*.jsonl): each scenario starts a fresh
// recording daemon (--record, in-memory database, simulated demo host), runs a REAL client
// against it, and closes it. Run after a deliberate change of behaviour, then review the diff:
//
//   node dist/scripts/record-contracts.js [SCENARIO ...]     (default: all; see test/contract/README.md)
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createClient } from 'xen-api';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../src/config.js';
import { makeLogger, startDaemon } from '../src/daemon.js';
import { replay } from './replay.js';

const run = promisify(execFile);
/** The repository root (this file runs from dist/scripts/). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the corpus lives. */
export const CORPUS = join(ROOT, 'test/contract');
const PY = '/usr/bin/python3';
/** The stdlib smoke client (a copy of the project's shared/clients/xapi_smoke.py). */
const SMOKE = join(ROOT, 'test/contract/clients/xapi_smoke.py');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, f: () => unknown, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function python(args: string[]): Promise<void> {
  const { stdout, stderr } = await run(PY, args, { timeout: 60_000 });
  if (stderr.trim()) throw new Error(`${args[0]} wrote to stderr:\n${stderr}`);
  process.stdout.write(stdout.replace(/^/gm, '    '));
}

/**
 * xen-api@4.7.6 in one transport: connect (login, pool.get_all_records, system.listMethods,
 * event.inject, get_all_records of every class, event.from), network.create, Bond.create,
 * disconnect. Each step waits until the client's event loop has seen the previous one and
 * parked its next event.from, so the recording does not depend on timing.
 */
async function xenApi(url: string, transport: 'json-rpc' | 'xml-rpc'): Promise<void> {
  const xapi = createClient({ url, auth: { user: 'root', password: 'secret' }, transport, allowUnauthorized: true });
  const settle = () => sleep(600); // > the client's 200 ms debounce: the next event.from is waiting in the daemon
  await xapi.connect();
  await xapi.objectsFetched;
  await waitFor('the first event.from', () => xapi.lastEventFetchedTimestamp);
  await settle();
  const pifs = Object.values(xapi.objects.all).filter((o) => o.$type === 'PIF');
  const eth0 = pifs.find((p) => p.device === 'eth0')!.$ref;
  const eth3 = pifs.find((p) => p.device === 'eth3')!.$ref;
  const net = String(await xapi.call('network.create', { name_label: 'MGT', name_description: '', other_config: {} }));
  await waitFor('the network in the cache', () => xapi.getObjectByRef(net, undefined));
  await settle();
  const bond = String(await xapi.call('Bond.create', net, [eth0, eth3], '', 'active-backup', {}));
  await waitFor('the bond in the cache', () => xapi.getObjectByRef(bond, undefined));
  await settle();
  await xapi.disconnect();
  await sleep(300); // the logout's reply (disconnect does not wait for it)
  console.log(`    xen-api ${transport}: network ${net}, bond ${bond}`);
}

/** The corpus: one recording per scenario, each a real client's session. */
export const SCENARIOS: Record<string, (url: string) => Promise<void>> = {
  'os-xenapi-seed004': (url) => python([join(CORPUS, 'clients/seed004_os_xenapi.py'), `${url}/`, 'root', 'secret']),
  'xen-api-jsonrpc': (url) => xenApi(url, 'json-rpc'),
  'xen-api-xmlrpc': (url) => xenApi(url, 'xml-rpc'),
  'smoke-xmlrpc-negative': (url) => python([SMOKE, `${url}/`, 'root', 'secret', '--negative']),
  'smoke-jsonrpc-negative': (url) => python([SMOKE, `${url}/`, 'root', 'secret', '--jsonrpc', '--negative']),
};

/** Records one scenario into test/contract/NAME.jsonl (replacing it) and checks that it replays. */
export async function record(name: string): Promise<string> {
  const file = join(CORPUS, `${name}.jsonl`);
  rmSync(file, { force: true });
  const cfg: Config = {
    ...DEFAULTS,
    port: 0,
    db: ':memory:',
    backend: 'simulated',
    inventory: DEMO_INVENTORY,
    hostname: 'contract-host',
    authFailDelayMs: 10,
    logLevel: 'error',
    record: file,
  };
  const r = await startDaemon(cfg, { log: makeLogger({ logLevel: 'error', logFile: '' }) });
  // xen-api's last event.from is still parked when the daemon closes: its client says so; expected.
  const warn = console.warn;
  console.warn = (...a: unknown[]) => {
    if (!(a[0] === '_watchEvents' && /other side closed/.test(String(a[1])))) warn(...a);
  };
  try {
    await SCENARIOS[name](r.url);
  } finally {
    await r.close();
    await sleep(100);
    console.warn = warn;
  }
  const res = await replay(file);
  if (!res.ok) throw new Error(`${file} does not replay:\n${res.difference}`);
  return file;
}

async function main(names: string[]): Promise<void> {
  if (!existsSync(SMOKE)) throw new Error(`${SMOKE} is missing (it is part of the repository)`);
  for (const name of names.length ? names : Object.keys(SCENARIOS)) {
    if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    console.log(`${name}:`);
    console.log(`  -> ${await record(name)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      console.error((e as Error).stack ?? String(e));
      process.exit(1);
    },
  );
}
