// Replays a recorded API session (`xenapi-netd --record FILE`) against a fresh daemon in this
// process and compares every reply with the recorded one, byte for byte after normalising what
// legitimately differs between two runs (test/contract/README.md):
//
//   node dist/scripts/replay.js RECORDING [--inventory FILE] [--hostname NAME]
//
// Exit 0 when every reply matches, 1 with the first difference, 2 on usage errors.
import http from 'node:http';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DEFAULT_PASSWORD, DEFAULTS, type Config } from '../src/config.js';
import { REDACTED, REDACTED_WRONG } from '../src/api/redact.js';
import { makeLogger, startDaemon } from '../src/daemon.js';
import type { Exchange } from '../src/wire/http.js';
import type { InventoryNic } from '../src/xapi/startup.js';

/** The first line of a recording: what the recording daemon was started with. */
export interface RecordingHeader {
  recording: 1;
  inventory: InventoryNic[];
  hostname: string;
  /** host_metrics figures first start read from the OS; the replay daemon reports the same ones. */
  hostMetrics?: { memory_total: number; memory_free: number };
}

/** A recording: its header and its exchanges in request arrival order. */
export interface Recording {
  header: RecordingHeader;
  exchanges: Exchange[];
}

/** Parses a recording's text (JSON lines); exchanges are put back in arrival order. */
export function parseRecording(text: string): Recording {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (!lines.length) throw new Error('empty recording');
  const header = JSON.parse(lines[0]) as RecordingHeader;
  if (header.recording !== 1) throw new Error('the first line is not a recording header {"recording": 1, ...}');
  const exchanges = lines.slice(1).map((l, i) => {
    const ex = JSON.parse(l) as Exchange & { recording?: number };
    if (ex.recording !== undefined) throw new Error(`line ${i + 2}: a second header: record each daemon run into a file of its own`);
    return ex;
  });
  exchanges.sort((a, b) => a.seq - b.seq);
  return { header, exchanges };
}

// ---------------------------------------------------------------------------------------------
// The normaliser.

/** What may differ between two runs, recognised in any body (XML-RPC or JSON-RPC alike). */
const VARIABLE = new RegExp([
  'OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', // refs: objects, sessions, tasks
  '(?<![0-9A-Za-z-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9A-Za-z-])', // object uuids
  '\\d{20},\\d{20}', // event.from / event.inject tokens (generations)
  '\\d{8}T\\d{2}:\\d{2}:\\d{2}Z', // datetimes
].join('|'), 'g');

type Kind = 'ref' | 'uuid' | 'token' | 'datetime';

function kindOf(s: string): Kind {
  if (s.startsWith('OpaqueRef:')) return 'ref';
  if (s.includes(',')) return 'token';
  if (s.includes('T')) return 'datetime';
  return 'uuid';
}

/** Splits a body into its fixed text and its variable parts (n + 1 texts around n parts). */
function split(body: string): { texts: string[]; vars: string[] } {
  const texts: string[] = [];
  const vars: string[] = [];
  let last = 0;
  for (const m of body.matchAll(VARIABLE)) {
    texts.push(body.slice(last, m.index));
    vars.push(m[0]);
    last = m.index! + m[0].length;
  }
  texts.push(body.slice(last));
  return { texts, vars };
}

/**
 * The identifiers of a recording mapped to the replay's: a bijection learnt in order of first
 * appearance in the replies (a recorded id seen first in a request, such as a deliberately
 * unknown uuid, is sent as it is and so maps to itself when a reply echoes it).
 */
export class IdMap {
  readonly fwd = new Map<string, string>();
  readonly back = new Map<string, string>();

  /** A request body with every known recorded id replaced by its replay id. */
  translate(body: string): string {
    return body.replace(VARIABLE, (s) => this.fwd.get(s) ?? s);
  }

  /** Recorded ids of `kind` in `body` not known yet. */
  unknown(body: string, kind: Kind): string[] {
    return [...body.matchAll(VARIABLE)].map((m) => m[0]).filter((s) => kindOf(s) === kind && !this.fwd.has(s));
  }

  /**
   * Compares a recorded body with the replayed one: equal fixed text, variable parts of the same
   * kind at the same places, ids consistent with (and added to) the mapping, any datetime for a
   * datetime. Returns null when they match, else a description of the first difference.
   */
  compare(recorded: string, actual: string): string | null {
    const r = split(recorded);
    const a = split(actual);
    const learnt: [string, string][] = [];
    const undo = () => {
      for (const [x, y] of learnt) {
        this.fwd.delete(x);
        this.back.delete(y);
      }
    };
    const n = Math.min(r.vars.length, a.vars.length);
    for (let i = 0; i <= n; i++) {
      if (r.texts[i] !== a.texts[i] || (i === n && r.vars.length !== a.vars.length)) {
        undo();
        return this.describe(recorded, actual, r, a, i);
      }
      if (i === n) break;
      const x = r.vars[i];
      const y = a.vars[i];
      const k = kindOf(x);
      let bad = kindOf(y) !== k;
      if (!bad && k !== 'datetime') {
        const mapped = this.fwd.get(x);
        if (mapped !== undefined) bad = mapped !== y;
        else if (this.back.has(y)) bad = true;
        else {
          this.fwd.set(x, y);
          this.back.set(y, x);
          learnt.push([x, y]);
        }
      }
      if (bad) {
        undo();
        return this.describe(recorded, actual, r, a, i, true);
      }
    }
    return null;
  }

  private describe(recorded: string, actual: string, r: ReturnType<typeof split>, a: ReturnType<typeof split>, i: number, atVar = false): string {
    // Offsets of the difference in each body.
    const offset = (s: ReturnType<typeof split>) => s.texts.slice(0, i).reduce((n, t, j) => n + t.length + s.vars[j].length, 0);
    let ro = offset(r);
    let ao = offset(a);
    if (atVar) {
      ro += r.texts[i].length;
      ao += a.texts[i].length;
    } else {
      let j = 0;
      const rt = r.texts[i] ?? '';
      const at = a.texts[i] ?? '';
      while (j < rt.length && j < at.length && rt[j] === at[j]) j++;
      ro += j;
      ao += j;
    }
    const around = (s: string, o: number) => JSON.stringify(s.slice(Math.max(0, o - 160), o)) + ' >>> ' + JSON.stringify(s.slice(o, o + 160));
    const what = atVar
      ? `${kindOf(r.vars[i])} ${r.vars[i]} (replay id ${this.fwd.get(r.vars[i]) ?? 'not yet known'}) came back as ${a.vars[i]}${this.back.has(a.vars[i]) ? ` (the replay id of recorded ${this.back.get(a.vars[i])})` : ''}`
      : `the text differs at byte ${ro} of the recorded body (${ao} of the replayed one)`;
    return `${what}\n  recorded: ${around(recorded, ro)}\n  replayed: ${around(actual, ao)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// The replay.

/** What a replay found. */
export interface ReplayResult {
  ok: boolean;
  exchanges: number;
  /** The first difference, with its exchange and context. */
  difference?: string;
  ms: number;
}

/** Calls that may wait for later writes: sent without waiting for their reply (see README). */
const LONG_POLLS = new Set(['event.from', 'event.next']);
/** How long a long poll gets to answer before the next request is sent anyway. */
const PARK_MS = 150;
/** How long a parked long poll may take to answer once everything else has been replayed. */
const SETTLE_MS = 10_000;

function methodOf(ex: Exchange): string {
  const m = /<methodName>\s*([^<]*?)\s*<\/methodName>/.exec(ex.request) ?? /"method"\s*:\s*"([^"]*)"/.exec(ex.request);
  return m ? m[1] : '?';
}

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

function post(agent: http.Agent, port: number, ex: Exchange, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: ex.path, method: 'POST', agent, headers: { 'Content-Type': ex.requestContentType || 'text/xml', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A redacted password (src/api/redact.ts) becomes the replay daemon's password, or a wrong one where the recorded login failed. */
function unredact(body: string): string {
  return body.split(REDACTED_WRONG).join('not-the-password').split(REDACTED).join(DEFAULT_PASSWORD);
}

/**
 * Replays a recording (a file name or its parsed form) against a fresh daemon: in-memory
 * database, simulated backend, the recording's inventory, host name and memory figures
 * (`opts` may override the first two). Stops at the first difference.
 */
export async function replay(rec: string | Recording, opts: { inventory?: InventoryNic[]; hostname?: string } = {}): Promise<ReplayResult> {
  const t0 = Date.now();
  const { header, exchanges } = typeof rec === 'string' ? parseRecording(readFileSync(rec, 'utf8')) : rec;
  const cfg: Config = {
    ...DEFAULTS,
    host: '127.0.0.1',
    port: 0,
    db: ':memory:',
    backend: 'simulated',
    inventory: opts.inventory ?? header.inventory,
    hostname: opts.hostname ?? header.hostname,
    authFailDelayMs: 10, // only time differs, never bytes
    logLevel: 'error',
  };
  // First start reads the host's memory from the OS: give it the recording host's figures.
  const osMem = os as { totalmem: () => number; freemem: () => number };
  const saved = { totalmem: osMem.totalmem, freemem: osMem.freemem };
  if (header.hostMetrics) {
    const m = header.hostMetrics;
    osMem.totalmem = () => m.memory_total;
    osMem.freemem = () => m.memory_free;
  }
  let r;
  try {
    r = await startDaemon(cfg, { log: makeLogger({ logLevel: 'error', logFile: '' }) });
  } finally {
    osMem.totalmem = saved.totalmem;
    osMem.freemem = saved.freemem;
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const ids = new IdMap();
  let difference: string | undefined;
  const check = (i: number, ex: Exchange, got: Reply): void => {
    if (difference) return;
    const where = `exchange ${i + 1} of ${exchanges.length} (seq ${ex.seq}, in arrival order): ${methodOf(ex)} POST ${ex.path}`;
    if (got.status !== ex.status) difference = `${where}: HTTP status ${got.status}, recorded ${ex.status}`;
    else if (got.contentType !== ex.contentType) difference = `${where}: Content-Type ${got.contentType}, recorded ${ex.contentType}`;
    else {
      const d = ids.compare(ex.response, got.body);
      if (d) difference = `${where}: reply differs: ${d}`;
    }
  };
  const pending = new Set<Promise<void>>();
  try {
    for (let i = 0; i < exchanges.length && !difference; i++) {
      const ex = exchanges[i];
      // A request carrying an event token not learnt yet waits for the parked long polls (one of them returns it).
      if (pending.size && ids.unknown(ex.request, 'token').length) await Promise.race([Promise.all(pending), sleep(SETTLE_MS)]);
      const sent = post(agent, r.port, ex, unredact(ids.translate(ex.request))).then((got) => check(i, ex, got));
      if (!LONG_POLLS.has(methodOf(ex))) {
        await sent;
        continue;
      }
      let done = false;
      const p: Promise<void> = sent.finally(() => {
        done = true;
        pending.delete(p);
      });
      pending.add(p);
      await Promise.race([p, sleep(PARK_MS)]);
      if (!done) continue; // parked: the writes replayed next wake it up, as they did when recorded
    }
    if (pending.size && !difference) {
      const left = await Promise.race([Promise.all(pending).then(() => 0), sleep(SETTLE_MS).then(() => pending.size)]);
      if (left) difference = `${left} long poll(s) never returned within ${SETTLE_MS} ms, though they did when recorded`;
    }
  } finally {
    agent.destroy();
    await r.close();
  }
  return { ok: !difference, exchanges: exchanges.length, difference, ms: Date.now() - t0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function main(argv: string[]): Promise<number> {
  let file: string | undefined;
  const opts: { inventory?: InventoryNic[]; hostname?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--inventory' && i + 1 < argv.length) opts.inventory = JSON.parse(readFileSync(argv[++i], 'utf8'));
    else if (a === '--hostname' && i + 1 < argv.length) opts.hostname = argv[++i];
    else if (!a.startsWith('--') && file === undefined) file = a;
    else {
      console.error('usage: node dist/scripts/replay.js RECORDING [--inventory FILE] [--hostname NAME]');
      return 2;
    }
  }
  if (!file) {
    console.error('usage: node dist/scripts/replay.js RECORDING [--inventory FILE] [--hostname NAME]');
    return 2;
  }
  const res = await replay(file, opts);
  if (res.ok) {
    console.log(`${file}: ${res.exchanges} exchanges replayed, every reply matches (${res.ms} ms)`);
    return 0;
  }
  console.error(`${file}: DIFFERENCE\n${res.difference}`);
  return 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error((e as Error).stack ?? String(e));
    process.exit(2);
  });
}
