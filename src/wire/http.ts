// The HTTP front: XML-RPC on every POST path not under /jsonrpc (xapi routes by longest
// prefix), JSON-RPC on /jsonrpc, CORS pre-flight on OPTIONS. Bodies are read with a limit
// and refused past it without being buffered; replies always carry Content-Length.
import http from 'node:http';
import { createHook } from 'node:async_hooks';
import { lstatSync, unlinkSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import type { Ty } from '../../schema/index.js';
import { lazyHttps } from '../lazy.js';
import * as jsonrpc from './jsonrpc.js';
import * as xmlrpc from './xmlrpc.js';
import { peerCred } from './peercred.js';
import { Encoded, ProtocolError, type RpcCall } from './values.js';

/** What the dispatcher answers. `bare` replies skip the Status/Value wrapper (system.listMethods). */
export type RpcOutcome = { ok: true; value: unknown; ty: Ty; bare?: boolean } | { ok: false; error: string[] };

/**
 * What the transport vouches for about the caller: `root` for a process running as root on the
 * local Unix socket (its uid read with SO_PEERCRED), as xapi's `Context.preauth`.
 */
export type Preauth = 'root';

/** The dispatcher as the wire sees it. */
export interface RpcHandler {
  /** `peer`: the client's address (failing logins are bounded per address). An outcome known at once may come without a promise. */
  call(call: RpcCall, transport: 'xmlrpc' | 'jsonrpc', preauth?: Preauth, peer?: string): RpcOutcome | Promise<RpcOutcome>;
}

/** Where and how to serve. */
export interface WireOptions {
  host: string;
  port: number;
  /** Largest request body accepted, in bytes. */
  maxBody: number;
  handler: RpcHandler;
  /** Non-RPC POST routes by path (the path itself or anything under it); XML-RPC stays on every other path. */
  routes?: Record<string, RouteHandler>;
  log?: { warn(msg: string): void; debug(msg: string): void };
  /** Called once per POST exchange whose reply was sent whole (--record; replayed by scripts/replay.ts). */
  record?: (ex: Exchange) => void;
  /** Serve HTTPS with this certificate and key (PEM), as xapi does on 443; plain HTTP without. */
  tls?: { cert: string; key: string };
  /** Also serve plain HTTP on this Unix socket path, where a root peer is pre-authenticated. */
  unixSocket?: string;
  /** A request's headers and body must arrive within this many ms (default 60000; long polls wait after it, unbounded). */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this many ms (default 65000). */
  keepAliveTimeoutMs?: number;
  /** Most open connections per listener (default 1000); more are closed at once. */
  maxConnections?: number;
  /** Origins whose browser pages may call (CORS); a request from any other Origin is refused. */
  corsOrigins?: string[];
}

/** One recorded HTTP exchange; `seq` numbers requests in arrival order (replies may finish out of it). */
export interface Exchange {
  seq: number;
  path: string;
  requestContentType: string;
  request: string;
  status: number;
  contentType: string;
  response: string;
}

/** A non-RPC POST route: gets the request and its whole body, answers with a whole body. */
export type RouteHandler = (
  req: http.IncomingMessage,
  body: Buffer,
) => Promise<{ status: number; contentType: string; body: string; headers?: Record<string, string> }>;

/** A route table, longest path first: built once, so a request pays a loop, not a sort. */
type RouteTable = readonly { path: string; under: string; handler: RouteHandler }[];
function routeTable(routes: Record<string, RouteHandler> | undefined): RouteTable {
  return Object.keys(routes ?? {})
    .sort((a, b) => b.length - a.length)
    .map((p) => ({ path: p, under: p.endsWith('/') ? p : `${p}/`, handler: routes![p] }));
}

/** The route for a path: the longest route path equal to it or a parent of it. */
function routeFor(table: RouteTable, path: string): RouteHandler | undefined {
  for (const r of table) if (path === r.path || path.startsWith(r.under)) return r.handler;
  return undefined;
}

/**
 * CORS headers per reply: only for a request whose Origin the operator allows (--cors-origin).
 * Kept by response so every reply path (413, protocol errors, streamed bulk replies) sends them.
 */
const corsFor = new WeakMap<http.ServerResponse, Record<string, string>>();
const cors = (res: http.ServerResponse): Record<string, string> => corsFor.get(res) ?? {};

/**
 * A browser adds Origin to every cross-origin request, and to same-origin POSTs; this server
 * serves no pages, so any Origin not allowed is a page elsewhere calling blind (a "simple"
 * request needs no pre-flight): refused before the body is read. Clients that are not browsers
 * send no Origin.
 */
function checkOrigin(opts: WireOptions, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (opts.corsOrigins?.includes(origin)) {
    corsFor.set(res, { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Headers': 'Content-Type, X-Requested-With', Vary: 'Origin' });
    return true;
  }
  const body = 'Cross-origin request refused (xenapi-netd --cors-origin)\n';
  res.writeHead(403, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
  return false;
}

const NO_BODY = Buffer.alloc(0);

/**
 * Reads the body up to `max` bytes and hands it to `done`; past `max` answers 413 and never
 * calls `done`. Callbacks, not a promise: a small call's body is one chunk, read and answered in
 * the same turn (the promise and its await cost a small call as much as its session check). A
 * request whose client goes away mid-body just ends (nothing to answer).
 */
function readBody(req: http.IncomingMessage, res: http.ServerResponse, max: number, done: (body: Buffer) => void): void {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) return refuseTooLarge(req, res);
  let first: Buffer | undefined;
  let more: Buffer[] | undefined;
  let size = 0;
  let refused = false;
  req.on('data', (c: Buffer) => {
    if (refused) return;
    size += c.length;
    if (size > max) {
      refused = true;
      first = more = undefined;
      return refuseTooLarge(req, res);
    }
    if (first === undefined) first = c;
    else (more ??= [first]).push(c);
  });
  req.on('end', () => {
    if (!refused) done(more ? Buffer.concat(more, size) : (first ?? NO_BODY)); // one chunk: no copy
  });
}

function refuseTooLarge(req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = 'Request body too large\n';
  res.writeHead(413, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Connection: 'close', ...cors(res) });
  res.end(body, () => req.socket.destroy());
  req.pause();
}

/**
 * A request that is not a call at all. xapi answers HTTP 500, and clients treat that as a
 * transport error; the body says why as a XenAPI Failure, XMLRPC_UNMARSHAL_FAILURE
 * [expected, received], in the protocol the client spoke (JSON-RPC: an error with id null).
 */
function sendProtocolError(res: http.ServerResponse, msg: string, transport: 'xmlrpc' | 'jsonrpc'): void {
  const desc = [
    'XMLRPC_UNMARSHAL_FAILURE',
    transport === 'xmlrpc' ? 'a methodCall with a methodName and params' : 'a JSON-RPC request object with method, params and id',
    msg,
  ];
  const body =
    transport === 'xmlrpc' ? xmlrpc.failure(desc) : JSON.stringify({ jsonrpc: '2.0', error: { code: 1, message: desc[0], data: desc.slice(1) }, id: null });
  res.writeHead(500, { 'Content-Type': transport === 'xmlrpc' ? 'text/xml' : 'application/json', 'Content-Length': Buffer.byteLength(body), ...cors(res) });
  res.end(body);
}

/** Replies up to this size are sent whole with a Content-Length, as xapi does; larger ones are streamed. */
const STREAM_AFTER = 1024 * 1024;

/**
 * Writes string parts as one reply. Small replies carry an exact Content-Length; a bulk reply
 * (get_all_records of thousands of objects) is streamed with chunked encoding as it is
 * encoded, with back-pressure, so it never sits in memory whole and other calls get turns.
 */
async function sendParts(res: http.ServerResponse, contentType: string, parts: Iterable<string | Buffer>): Promise<void> {
  const it = parts[Symbol.iterator]();
  const held: Buffer[] = [];
  let len = 0;
  let next = it.next();
  while (!next.done && len <= STREAM_AFTER) {
    const b = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    held.push(b);
    len += b.length;
    next = it.next();
  }
  if (next.done) {
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': len, ...cors(res) });
    // Slab slices go back once written, as in the streamed branch (a small bulk reply took slabs too).
    const release = () => held.forEach(xmlrpc.releaseSlice);
    if (held.length === 1) res.end(held[0], release);
    else {
      for (const b of held) res.write(b);
      res.end(release);
    }
    return;
  }
  res.writeHead(200, { 'Content-Type': contentType, ...cors(res) });
  // A bulk slice's slab is reused once written (xmlrpc.releaseSlice).
  const write = (part: Buffer) => res.write(part, () => xmlrpc.releaseSlice(part));
  for (const b of held) write(b);
  held.length = 0;
  try {
    for (; !next.done; next = it.next()) {
      if (res.destroyed) return;
      const part = next.value;
      if (typeof part === 'string') res.write(part);
      else write(part);
      // Up to IN_FLIGHT bytes may wait in the socket's buffer: waiting for 'drain' after every
      // slice made the reply stop and go (4x the raw server's time for 27 MB).
      if (res.writableLength > IN_FLIGHT) await drainOrClose(res);
      else await yieldLoop(); // let other calls in between slices
    }
    res.end();
  } finally {
    // Stopped early (client gone, encoder failed): the parts' generators let go of their snapshot.
    if (!next.done) it.return?.();
  }
}

/** Waits for 'drain', or for 'close': a client gone mid-reply never drains its socket (the reply's handler waited forever). */
function drainOrClose(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Bytes of a streamed reply that may be buffered for the socket before the encoder waits. */
const IN_FLIGHT = 2 * 1024 * 1024;

/**
 * The head of a whole reply. Without CORS (nearly every reply) the headers go as one flat
 * array: no object to build, spread and walk per reply.
 */
function writeHead(res: http.ServerResponse, contentType: string, length: number): void {
  const c = corsFor.get(res);
  if (c === undefined) res.writeHead(200, ['Content-Type', contentType, 'Content-Length', length]);
  else res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': length, ...c });
}

/** Writes a whole reply held in one string. */
function sendString(res: http.ServerResponse, contentType: string, body: string): void {
  writeHead(res, contentType, Buffer.byteLength(body));
  res.end(body);
}

/** Writes a whole reply held in one Buffer (a cached record's bytes). */
function sendBuffer(res: http.ServerResponse, contentType: string, body: Buffer): void {
  writeHead(res, contentType, body.length);
  res.end(body);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What a request handler needs besides the request: the options, their route table, the failure path. */
interface Served {
  opts: WireOptions;
  routes: RouteTable;
  /** Answers what can still be answered after an unexpected error (nothing a client sends may stop the daemon). */
  failed(req: http.IncomingMessage, res: http.ServerResponse, e: unknown): void;
}

function handle(sv: Served, req: http.IncomingMessage, res: http.ServerResponse, preauth: Preauth | undefined): void {
  const opts = sv.opts;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!checkOrigin(opts, req, res)) return;
  if (req.method === 'OPTIONS') {
    res.writeHead(200, { ...cors(res), 'Access-Control-Allow-Methods': 'PUT', 'Content-Length': 0 });
    res.end();
    return;
  }
  if (req.method !== 'POST') {
    const body = 'Forbidden\n';
    res.writeHead(403, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  readBody(req, res, opts.maxBody, (raw) => {
    try {
      const pending = answer(sv, req, res, preauth, path, raw);
      if (pending) pending.catch((e: unknown) => sv.failed(req, res, e));
    } catch (e) {
      sv.failed(req, res, e);
    }
  });
}

/** Answers a POST whose body has been read; a promise only when the answer is not ready at once. */
function answer(
  sv: Served,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  preauth: Preauth | undefined,
  path: string,
  raw: Buffer,
): Promise<void> | void {
  const route = routeFor(sv.routes, path);
  if (route) {
    return route(req, raw).then((r) => {
      res.writeHead(r.status, { ...(r.headers ?? {}), 'Content-Type': r.contentType, 'Content-Length': Buffer.byteLength(r.body), ...cors(res) });
      res.end(r.body);
    });
  }
  const isJson = path.startsWith('/jsonrpc');
  let text: string;
  let badUtf8 = false;
  try {
    text = utf8.decode(raw);
  } catch {
    // Decode leniently to find the method and id; the call then fails as xapi's UTF-8 check does.
    text = raw.toString('utf8');
    badUtf8 = true;
  }
  const handler = sv.opts.handler;
  if (isJson) {
    let call: jsonrpc.JsonCall;
    try {
      call = jsonrpc.parseJsonCall(text);
    } catch (e) {
      return sendProtocolError(res, (e as Error).message, 'jsonrpc');
    }
    const got = badUtf8 ? BAD_UTF8 : handler.call(call, 'jsonrpc', preauth, req.socket.remoteAddress ?? '');
    return got instanceof Promise ? got.then((out) => replyJson(res, call, out)) : replyJson(res, call, got);
  }
  let call: RpcCall;
  try {
    call = xmlrpc.parseCall(text);
  } catch (e) {
    return sendProtocolError(res, (e as Error).message, 'xmlrpc');
  }
  const got = badUtf8 ? BAD_UTF8 : handler.call(call, 'xmlrpc', preauth, req.socket.remoteAddress ?? '');
  return got instanceof Promise ? got.then((out) => replyXml(res, out)) : replyXml(res, got);
}

const BAD_UTF8: RpcOutcome = { ok: false, error: ['INVALID_VALUE', 'Invalid UTF-8 string in parameter', ''] };

/** Writes a JSON-RPC call's outcome; a promise only for a streamed bulk reply. */
function replyJson(res: http.ServerResponse, call: jsonrpc.JsonCall, out: RpcOutcome): Promise<void> | void {
  if (!out.ok) sendString(res, 'application/json', jsonrpc.failure(call, out.error));
  else if (out.value instanceof Encoded) sendBuffer(res, 'application/json', jsonrpc.successEncoded(call, out.value));
  else if (xmlrpc.isBulk(out.value, out.ty)) return sendParts(res, 'application/json', jsonrpc.successParts(call, out.value, out.ty));
  else sendString(res, 'application/json', jsonrpc.successString(call, out.value, out.ty));
}

/** Writes an XML-RPC call's outcome; a promise only for a streamed bulk reply. */
function replyXml(res: http.ServerResponse, out: RpcOutcome): Promise<void> | void {
  if (!out.ok) sendString(res, 'text/xml', xmlrpc.failure(out.error));
  else if (out.value instanceof Encoded && !out.bare) sendBuffer(res, 'text/xml', xmlrpc.successEncoded(out.value));
  else if (xmlrpc.isBulk(out.value, out.ty)) return sendParts(res, 'text/xml', xmlrpc.successParts(out.value, out.ty, out.bare));
  else sendString(res, 'text/xml', xmlrpc.successString(out.value, out.ty, out.bare));
}

/**
 * Taps one exchange for `record`: keeps the request body and every part written to the reply
 * (streamed bulk replies included) and reports them once the reply has finished. Only ever
 * installed when recording, so the normal path pays nothing.
 */
function tap(record: (ex: Exchange) => void, seq: number, req: http.IncomingMessage, res: http.ServerResponse): void {
  const inParts: Buffer[] = [];
  const outParts: Buffer[] = [];
  req.on('data', (c: Buffer) => inParts.push(c));
  const keep = (c: unknown, enc: unknown) => {
    if (typeof c === 'string') outParts.push(Buffer.from(c, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8'));
    else if (c instanceof Uint8Array) outParts.push(Buffer.from(c));
  };
  let contentType = '';
  const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => http.ServerResponse;
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    const h = rest.find((x) => x !== null && typeof x === 'object') as Record<string, unknown> | unknown[] | undefined;
    // Headers as an object, or as a flat [name, value, ...] array (writeHead above).
    const at = Array.isArray(h) ? h.indexOf('Content-Type') : -1;
    contentType = String((Array.isArray(h) ? (at >= 0 ? h[at + 1] : undefined) : h?.['Content-Type']) ?? '');
    return writeHead(status, ...rest);
  }) as typeof res.writeHead;
  const write = res.write.bind(res) as (...a: unknown[]) => boolean;
  const end = res.end.bind(res) as (...a: unknown[]) => http.ServerResponse;
  res.write = ((c: unknown, ...rest: unknown[]) => (keep(c, rest[0]), write(c, ...rest))) as typeof res.write;
  res.end = ((c?: unknown, ...rest: unknown[]) => (keep(c, rest[0]), end(c, ...rest))) as typeof res.end;
  res.on('finish', () => {
    if (req.method !== 'POST' || !req.complete) return; // refused before the body was read: nothing to replay
    record({
      seq,
      path: (req.url ?? '/').split('?')[0],
      requestContentType: String(req.headers['content-type'] ?? ''),
      request: Buffer.concat(inParts).toString('utf8'),
      status: res.statusCode,
      contentType,
      response: Buffer.concat(outParts).toString('utf8'),
    });
  });
}

/** Answers a request the HTTP parser could not read. */
function onClientError(e: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  // --request-timeout passed (slowloris): 408; anything else the parser refused: 400.
  const status = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  else socket.destroy();
}

function listen(server: http.Server, ...where: [number, string] | [string]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (where.length === 2) server.listen(where[0], where[1], done);
    else server.listen(where[0], done);
  });
}

/** Removes a socket file a previous run left behind (never anything else at that path). */
function removeStaleSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`--unix-socket ${path}: exists and is not a socket`);
  unlinkSync(path);
}

let tickEntry: object | undefined;

/**
 * Keeps one process.nextTick queue entry alive for the life of the process (idempotent; the
 * daemon calls it first thing). Node makes each entry with an object literal whose first keys
 * are computed (its async-id symbols), and V8 defines such keys through a one-shot cache per key
 * that remembers the hidden class the object had there. When a full collection frees those
 * classes — the daemon's idle memory release (src/heap.ts) does, when no entry happens to be
 * alive — the next entry gets new ones, the cache turns generic for good, and from then on every
 * entry (four per HTTP request) was made in V8's runtime: ~1 µs a request (perf, wrk -c16
 * get_record; docs/performance.md). One entry kept alive keeps its classes, and so the caches.
 */
export function keepTickShape(): void {
  if (tickEntry !== undefined) return;
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'TickObject') tickEntry ??= resource;
    },
  });
  hook.enable();
  process.nextTick(() => undefined);
  hook.disable();
}

/** Starts the server; resolves once it listens. */
export async function startWire(opts: WireOptions): Promise<{ server: http.Server; port: number; requests(): number; close(): Promise<void> }> {
  keepTickShape();
  let seq = 0;
  // Connections on the Unix socket whose peer is root (uid 0 at connect time, SO_PEERCRED).
  const rootPeers = new WeakSet<Socket>();
  let requests = 0;
  const sv: Served = {
    opts,
    routes: routeTable(opts.routes),
    failed(req, res, e) {
      opts.log?.warn(`wire: ${(e as Error)?.message ?? String(e)}`);
      if (!res.headersSent) sendProtocolError(res, 'internal error', (req.url ?? '').startsWith('/jsonrpc') ? 'jsonrpc' : 'xmlrpc');
      else res.destroy();
    },
  };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++;
    if (opts.record) tap(opts.record, ++seq, req, res);
    try {
      handle(sv, req, res, rootPeers.has(req.socket) ? 'root' : undefined);
    } catch (e) {
      sv.failed(req, res, e);
    }
  };
  // Slowloris: headers and body must arrive within requestTimeout (checked every second); the
  // reply phase is not bounded, so event.from long polls wait their full timeout. Idle
  // keep-alive connections close after keepAliveTimeout; past maxConnections new ones are dropped.
  const requestTimeout = opts.requestTimeoutMs ?? 60_000;
  const serverOpts = {
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 65_000,
    requestTimeout,
    headersTimeout: requestTimeout,
    connectionsCheckingInterval: Math.min(1000, requestTimeout),
  };
  // node:https (and TLS with it) is loaded only for --tls-cert: an http-only daemon keeps ~1 MB less resident.
  const server: http.Server = opts.tls
    ? lazyHttps().createServer({ ...serverOpts, cert: opts.tls.cert, key: opts.tls.key }, listener)
    : http.createServer(serverOpts, listener);
  server.maxConnections = opts.maxConnections ?? 1000;
  server.on('clientError', onClientError);
  // Every TCP connection, from accept: an HTTPS connection still in its TLS handshake is not yet
  // one the HTTP layer knows (closeAllConnections misses it), and server.close() would wait for it.
  const sockets = new Set<Socket>();
  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  });
  await listen(server, opts.port, opts.host);
  const port = (server.address() as AddressInfo).port;
  // The local socket speaks plain HTTP, as xapi's /var/lib/xcp/xapi: the kernel vouches for the peer.
  let local: http.Server | undefined;
  if (opts.unixSocket) {
    const path = opts.unixSocket;
    local = http.createServer(serverOpts, listener);
    local.maxConnections = opts.maxConnections ?? 1000;
    local.on('clientError', onClientError);
    local.on('connection', (sock: Socket) => {
      try {
        if (peerCred(sock).uid === 0) rootPeers.add(sock);
      } catch (e) {
        opts.log?.warn(`wire: cannot read the peer credentials of a local connection, treated as not root: ${(e as Error).message}`);
      }
    });
    try {
      removeStaleSocket(path);
      await listen(local, path);
    } catch (e) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw e;
    }
  }
  const closeOne = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
      if (s === server) for (const sock of sockets) sock.destroy();
    });
  return {
    server,
    port,
    requests: () => requests,
    close: async () => {
      await Promise.all([closeOne(server), ...(local ? [closeOne(local)] : [])]);
    },
  };
}

export { ProtocolError };
