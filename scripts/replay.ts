// Replays a recorded API session (`xenapi-netd --record FILE`) against a fresh daemon in this
// process (or, with --url, a running one) and compares every reply with the recorded one, byte
// for byte after normalising what legitimately differs between two runs, then the networking
// records the session left with the recording's final dump (test/contract/README.md):
//
//   node dist/scripts/replay.js RECORDING [--inventory FILE] [--hostname NAME]
//   node dist/scripts/replay.js RECORDING --url URL [--user U] [--password P]
//
// Exit 0 when everything matches, 1 with every difference listed, 2 on usage errors.
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DEFAULT_PASSWORD, DEFAULTS, type Config } from '../src/config.js';
import { REDACTED, REDACTED_WRONG } from '../src/api/redact.js';
import { makeLogger, startDaemon, type Running } from '../src/daemon.js';
import { DUMP_CLASSES, type Dump } from '../src/api/dump.js';
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

/** A recording: its header, its exchanges in request arrival order, and the final dump (if the daemon was closed). */
export interface Recording {
  header: RecordingHeader;
  exchanges: Exchange[];
  /** The networking records the session left (the last line, written at daemon shutdown). */
  dump?: Dump;
}

/** Parses a recording's text (JSON lines); exchanges are put back in arrival order. */
export function parseRecording(text: string): Recording {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (!lines.length) throw new Error('empty recording');
  const header = JSON.parse(lines[0]) as RecordingHeader;
  if (header.recording !== 1) throw new Error('the first line is not a recording header {"recording": 1, ...}');
  let dump: Dump | undefined;
  const exchanges: Exchange[] = [];
  lines.slice(1).forEach((l, i) => {
    const ex = JSON.parse(l) as Exchange & { recording?: number; dump?: Dump };
    if (ex.recording !== undefined) throw new Error(`line ${i + 2}: a second header: record each daemon run into a file of its own`);
    if (dump) throw new Error(`line ${i + 2}: after the final dump`);
    if (ex.dump !== undefined) dump = ex.dump;
    else exchanges.push(ex);
  });
  exchanges.sort((a, b) => a.seq - b.seq);
  return dump ? { header, exchanges, dump } : { header, exchanges };
}

// ---------------------------------------------------------------------------------------------
// The normaliser.

/** What may differ between two runs, recognised in any body (XML-RPC or JSON-RPC alike). */
const VARIABLE = new RegExp(
  [
    'OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', // refs: objects, sessions, tasks
    '(?<![0-9A-Za-z-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9A-Za-z-])', // object uuids
    '\\d{20},\\d{20}', // event.from / event.inject tokens (generations)
    '\\d{8}T\\d{2}:\\d{2}:\\d{2}Z', // datetimes
  ].join('|'),
  'g',
);

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

  /** A replayed text with every replay id written as the recorded id it stands for (names as in the recording). */
  toRecorded(body: string): string {
    return body.replace(VARIABLE, (s) => this.back.get(s) ?? s);
  }

  /** Pairs a recorded id with a replay id if neither is paired yet; true if they are (now) paired together. */
  pair(x: string, y: string): boolean {
    const have = this.fwd.get(x);
    if (have !== undefined) return have === y;
    if (this.back.has(y) || kindOf(x) !== kindOf(y)) return false;
    this.fwd.set(x, y);
    this.back.set(y, x);
    return true;
  }

  /**
   * After a difference: learns what still lines up (same number of variable parts, each pair of
   * the same kind and not contradicting the mapping), so that later requests carry the replay's
   * ids and one difference is not reported again for every exchange after it.
   */
  learnLoose(recorded: string, actual: string): void {
    const r = split(recorded).vars;
    const a = split(actual).vars;
    if (r.length !== a.length) return;
    r.forEach((x, i) => {
      if (kindOf(x) !== 'datetime') this.pair(x, a[i]);
    });
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
    // The replayed side's ids are shown as the recorded ids they stand for: those known, and
    // those this body pairs up before the difference.
    const names = new Map(this.back);
    for (let k = 0; k < Math.min(r.vars.length, a.vars.length); k++) {
      if (kindOf(r.vars[k]) === kindOf(a.vars[k]) && kindOf(r.vars[k]) !== 'datetime' && !names.has(a.vars[k])) names.set(a.vars[k], r.vars[k]);
    }
    const named = around(actual, ao).replace(VARIABLE, (x) => names.get(x) ?? x);
    return `${what}\n  recorded: ${around(recorded, ro)}\n  replayed: ${named}`;
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
  /** Every difference: exchanges in arrival order, then the final state's. */
  differences: string[];
  ms: number;
}

/** How to replay: against a fresh in-process daemon (default) or a running one at `url`. */
export interface ReplayOptions {
  /** In-process only: the inventory and host name to start with (default: the recording's). */
  inventory?: InventoryNic[];
  hostname?: string;
  /** Replay against the daemon (or xapi) at this base URL (http:// or https://) instead. */
  url?: string;
  /** The login used to fetch the final state (default root / secret, the embedded login). */
  user?: string;
  password?: string;
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

/** A keep-alive HTTP(S) client for one base URL. */
class Target {
  private readonly base: URL;
  private readonly agent: http.Agent;
  constructor(url: string) {
    this.base = new URL(url);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new Error(`--url ${url}: http:// or https:// expected`);
    this.agent = this.base.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 64 }) : new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  post(path: string, contentType: string, body: string): Promise<Reply> {
    const mod = this.base.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          host: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port || undefined,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(parts).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** One JSON-RPC call; throws on a Failure. */
  async call(method: string, params: unknown[]): Promise<unknown> {
    const got = await this.post('/jsonrpc', 'application/json', JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }));
    const j = JSON.parse(got.body) as { result?: unknown; error?: { message: string; data?: unknown[] } };
    if (j.error) throw new Error(`${method}: ${[j.error.message, ...(j.error.data ?? [])].join(' ')}`);
    return j.result;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A redacted password (src/api/redact.ts) becomes the replay daemon's password (--password with --url), or a wrong one where the recorded login failed. */
function unredact(body: string, password = DEFAULT_PASSWORD): string {
  return body.split(REDACTED_WRONG).join('not-the-password').split(REDACTED).join(password);
}

/**
 * A fresh daemon as the recording's was: in-memory database, simulated backend, the recording's
 * inventory, host name and memory figures (`opts` may override the first two), a free port.
 */
export async function startReplayDaemon(header: RecordingHeader, opts: { inventory?: InventoryNic[]; hostname?: string } = {}): Promise<Running> {
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
  try {
    return await startDaemon(cfg, { log: makeLogger({ logLevel: 'error', logFile: '' }) });
  } finally {
    osMem.totalmem = saved.totalmem;
    osMem.freemem = saved.freemem;
  }
}

/**
 * Replays a recording (a file name or its parsed form) against a fresh daemon in this process,
 * or against the daemon at `opts.url`, which must have started as the recording's did (an empty
 * database, the header's inventory and host name). Every exchange is sent and checked, and the
 * networking records left at the end are compared with the recording's final dump; every
 * difference is listed.
 */
export async function replay(rec: string | Recording, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const t0 = Date.now();
  const { header, exchanges, dump } = typeof rec === 'string' ? parseRecording(readFileSync(rec, 'utf8')) : rec;
  const r = opts.url ? undefined : await startReplayDaemon(header, opts);
  const target = new Target(opts.url ?? r!.url);
  const ids = new IdMap();
  const differences: string[] = [];
  const check = (i: number, ex: Exchange, got: Reply): void => {
    const where = `exchange ${i + 1} of ${exchanges.length} (seq ${ex.seq}, in arrival order): ${methodOf(ex)} POST ${ex.path}`;
    if (got.status !== ex.status) differences.push(`${where}: HTTP status ${got.status}, recorded ${ex.status}`);
    else if (got.contentType !== ex.contentType) differences.push(`${where}: Content-Type ${got.contentType}, recorded ${ex.contentType}`);
    else {
      const d = ids.compare(ex.response, got.body);
      if (!d) return;
      differences.push(`${where}: reply differs: ${d}`);
    }
    ids.learnLoose(ex.response, got.body);
  };
  const pending = new Set<Promise<void>>();
  try {
    for (let i = 0; i < exchanges.length; i++) {
      const ex = exchanges[i];
      // A request carrying an event token not learnt yet waits for the parked long polls (one of them returns it).
      if (pending.size && ids.unknown(ex.request, 'token').length) await Promise.race([Promise.all(pending), sleep(SETTLE_MS)]);
      const sent = target
        .post(ex.path, ex.requestContentType || 'text/xml', unredact(ids.translate(ex.request), opts.password))
        .then((got) => check(i, ex, got));
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
    if (pending.size) {
      const left = await Promise.race([Promise.all(pending).then(() => 0), sleep(SETTLE_MS).then(() => pending.size)]);
      if (left) differences.push(`${left} long poll(s) never returned within ${SETTLE_MS} ms, though they did when recorded`);
    }
    if (dump) differences.push(...compareDumps(dump, await fetchDump(target, opts), ids));
  } finally {
    target.close();
    await r?.close();
  }
  return { ok: differences.length === 0, exchanges: exchanges.length, difference: differences[0], differences, ms: Date.now() - t0 };
}

/** The replay side's networking records, through the API (JSON-RPC get_all_records), as the recorder dumps them. */
async function fetchDump(target: Target, opts: ReplayOptions): Promise<Dump> {
  const session = await target.call('session.login_with_password', [opts.user ?? 'root', opts.password ?? 'secret', '1.0', 'xenapi-netd replay']);
  try {
    const out: Dump = {};
    for (const cls of DUMP_CLASSES) out[cls] = (await target.call(`${cls}.get_all_records`, [session])) as Dump[string];
    return out;
  } finally {
    await target.call('session.logout', [session]).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The final state.

const ID = /^(?:OpaqueRef:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const isId = (v: unknown): v is string => typeof v === 'string' && ID.test(v);

/** What a person recognises an object by: its device, name or bridge, and its recorded ref. */
function labelOf(cls: string, ref: string, rec: Record<string, unknown>): string {
  const name =
    cls === 'PIF'
      ? `${String(rec.device)}${Number(rec.VLAN) >= 0 ? `.${String(rec.VLAN)}` : ''}`
      : cls === 'network'
        ? `${String(rec.name_label)} (${String(rec.bridge)})`
        : cls === 'host'
          ? String(rec.hostname)
          : cls === 'VIF'
            ? `device ${String(rec.device)}`
            : cls === 'VLAN'
              ? `tag ${String(rec.tag)}`
              : '';
  return `${cls} ${name ? `${name} ` : ''}${ref}`;
}

/**
 * Compares the recording's final dump with the replay's, objects paired through the ids the
 * replay learnt (refs and uuids), then through the references between records (a host's PIFs,
 * a PIF's network and metrics...), singletons (pool, host) by themselves, and what is left by
 * its label. Returns one line per differing field, missing object or extra object, the replay's
 * ids written as the recorded ids they stand for.
 */
export function compareDumps(recorded: Dump, replayed: Dump, ids: IdMap): string[] {
  const out: string[] = [];
  const classOf = new Map<string, string>(); // recorded ref → class
  for (const cls of DUMP_CLASSES) for (const ref of Object.keys(recorded[cls] ?? {})) classOf.set(ref, cls);
  const paired = new Map<string, string>(); // recorded ref → replay ref
  const queue: string[] = [];
  const tryPair = (cls: string, x: string, y: string): void => {
    if (paired.has(x) || !recorded[cls]?.[x] || !replayed[cls]?.[y]) return;
    if (!ids.pair(x, y)) return;
    const ru = recorded[cls][x].uuid;
    const au = replayed[cls][y].uuid;
    if (isId(ru) && isId(au)) ids.pair(ru, au);
    paired.set(x, y);
    queue.push(x);
  };
  const seed = () => {
    for (const cls of DUMP_CLASSES) {
      const R = recorded[cls] ?? {};
      const A = replayed[cls] ?? {};
      const byUuid = new Map(Object.entries(A).map(([ref, rec]) => [String(rec.uuid), ref]));
      for (const [x, rec] of Object.entries(R)) {
        const y = ids.fwd.get(x) ?? byUuid.get(ids.fwd.get(String(rec.uuid)) ?? '');
        if (y !== undefined) tryPair(cls, x, y);
      }
      if (Object.keys(R).length === 1 && Object.keys(A).length === 1) tryPair(cls, Object.keys(R)[0], Object.keys(A)[0]);
    }
  };
  /** Follows the references of a pair: a recorded ref field pairs with the replay's value in the same place. */
  const follow = (x: string): void => {
    const cls = classOf.get(x)!;
    const rr = recorded[cls][x];
    const ar = replayed[cls][paired.get(x)!];
    for (const [f, rv] of Object.entries(rr)) {
      const av = ar[f];
      if (isId(rv) && isId(av) && classOf.has(rv)) tryPair(classOf.get(rv)!, rv, av);
      else if (Array.isArray(rv) && Array.isArray(av) && rv.every(isId) && av.every(isId)) {
        // A set of refs: the unpaired ones pair up when there is exactly one of each left.
        const rLeft = rv.filter((v) => !ids.fwd.has(v));
        const aLeft = av.filter((v) => !ids.back.has(v));
        if (rLeft.length === 1 && aLeft.length === 1 && classOf.has(rLeft[0])) tryPair(classOf.get(rLeft[0])!, rLeft[0], aLeft[0]);
      }
    }
  };
  const drain = () => {
    while (queue.length) follow(queue.shift()!);
  };
  seed();
  drain();
  // Sets of several unpaired refs: pair members with the same label (a host's PIFs by device).
  for (const cls of DUMP_CLASSES) {
    const R = recorded[cls] ?? {};
    const A = replayed[cls] ?? {};
    const freeA = new Map<string, string[]>();
    for (const [y, rec] of Object.entries(A)) {
      if (ids.back.has(y)) continue;
      const k = labelOf(cls, '', rec);
      freeA.set(k, [...(freeA.get(k) ?? []), y]);
    }
    for (const [x, rec] of Object.entries(R)) {
      if (paired.has(x)) continue;
      const cand = freeA.get(labelOf(cls, '', rec));
      if (cand?.length === 1) tryPair(cls, x, cand[0]);
    }
    drain();
  }
  // Field by field, every difference.
  const replayRefs = new Set(DUMP_CLASSES.flatMap((cls) => Object.keys(replayed[cls] ?? {})));
  const inDump = (x: string, y: string) => classOf.has(x) || replayRefs.has(y);
  const show = (v: unknown) => ids.toRecorded(JSON.stringify(v));
  for (const cls of DUMP_CLASSES) {
    const R = recorded[cls] ?? {};
    const A = replayed[cls] ?? {};
    for (const [x, rr] of Object.entries(R)) {
      const y = paired.get(x);
      if (y === undefined) {
        out.push(`final state: ${labelOf(cls, x, rr)} is not in the replay`);
        continue;
      }
      const ar = A[y];
      for (const f of new Set([...Object.keys(rr), ...Object.keys(ar)])) {
        if (!(f in ar)) out.push(`final state: ${labelOf(cls, x, rr)}: field ${f} is missing in the replay`);
        else if (!(f in rr)) out.push(`final state: ${labelOf(cls, x, rr)}: the replay has a field ${f} not recorded (${show(ar[f])})`);
        else if (!sameValue(rr[f], ar[f], ids, inDump))
          out.push(`final state: ${labelOf(cls, x, rr)}: ${f} is ${show(ar[f])} in the replay, recorded ${JSON.stringify(rr[f])}`);
      }
    }
    for (const [y, ar] of Object.entries(A)) {
      if (!ids.back.has(y) || !R[ids.back.get(y)!]) out.push(`final state: the replay has an extra ${labelOf(cls, y, ar)} (replay ref)`);
    }
  }
  return out;
}

/** A recorded field value equals the replayed one, ids compared through the mapping (sets in any order). */
function sameValue(rv: unknown, av: unknown, ids: IdMap, inDump: (recorded: string, replayed: string) => boolean): boolean {
  if (Array.isArray(rv) && Array.isArray(av) && rv.every(isId) && av.every(isId)) {
    if (rv.length !== av.length) return false;
    // Ids not met before (objects outside the dump, such as the VMs of host.resident_VMs) pair
    // with the replay's ids not accounted for, in order.
    const rLeft = rv.filter((v) => !ids.fwd.has(v));
    const aLeft = av.filter((v) => !ids.back.has(v));
    if (rLeft.length === aLeft.length) rLeft.forEach((v, i) => !inDump(v, aLeft[i]) && ids.pair(v, aLeft[i]));
    const want = rv.map((v) => ids.fwd.get(v) ?? v).sort();
    return JSON.stringify(want) === JSON.stringify([...av].sort());
  }
  if (isId(rv) && isId(av)) return ids.fwd.get(rv) === av || (!inDump(rv, av) && ids.pair(rv, av));
  // Anything else (maps, strings with datetimes, numbers): the byte comparison of the wire, on its JSON.
  return ids.compare(JSON.stringify(rv), JSON.stringify(av)) === null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

const USAGE =
  'usage: node dist/scripts/replay.js RECORDING [--inventory FILE] [--hostname NAME]\n' +
  '       node dist/scripts/replay.js RECORDING --url URL [--user USER] [--password PASSWORD]';

async function main(argv: string[]): Promise<number> {
  let file: string | undefined;
  const opts: ReplayOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = i + 1 < argv.length ? argv[i + 1] : undefined;
    if (a === '--inventory' && val !== undefined) {
      opts.inventory = JSON.parse(readFileSync(val, 'utf8'));
      i++;
    } else if (a === '--hostname' && val !== undefined) {
      opts.hostname = val;
      i++;
    } else if (a === '--url' && val !== undefined) {
      opts.url = val;
      i++;
    } else if (a === '--user' && val !== undefined) {
      opts.user = val;
      i++;
    } else if (a === '--password' && val !== undefined) {
      opts.password = val;
      i++;
    } else if (!a.startsWith('--') && file === undefined) file = a;
    else {
      console.error(USAGE);
      return 2;
    }
  }
  if (!file || (opts.url && (opts.inventory || opts.hostname))) {
    console.error(USAGE);
    return 2;
  }
  const res = await replay(file, opts);
  const against = opts.url ?? 'a fresh in-process daemon';
  if (res.ok) {
    console.log(`${file}: ${res.exchanges} exchanges replayed against ${against}, every reply and the final state match (${res.ms} ms)`);
    return 0;
  }
  console.error(`${file}: ${res.differences.length} difference(s) replaying against ${against}:`);
  for (const d of res.differences) console.error(`- ${d}`);
  return 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error((e as Error).stack ?? String(e));
      process.exit(2);
    },
  );
}
