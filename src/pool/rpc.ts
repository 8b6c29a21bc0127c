// XenAPI over XML-RPC between daemons (master ⇄ slave). The request is written and the reply read
// by this daemon's own codec (src/wire/xmlrpc.ts: the shapes its server writes), with the same values
// the `xmlrpc` npm package gave (structs as plain objects, int/double as numbers, i8 as a string); a
// reply in any other shape goes to the package's parser. A reply's {Status, Value} is unwrapped; a
// Failure becomes a RemoteFailure carrying the exact ErrorDescription; a socket that cannot be
// reached, or a call that exceeds its time limit, is an Unreachable.
import http from 'node:http';
import { createRequire } from 'node:module';
import type https from 'node:https';
import { Readable } from 'node:stream';
import { lazyHttps, lazyTls } from '../lazy.js';
import { fastParseResponse, requestText as xmlText } from '../wire/xmlrpc.js';

// The xmlrpc package's parser (with sax), and TLS, are loaded by the first reply / call that needs
// them: a standalone daemon never makes one and keeps what they would hold resident (make bench, area memory).
const requireCjs = createRequire(import.meta.url);
type Deserializer = { deserializeMethodResponse(s: Readable, cb: (e: (Error & { code?: unknown }) | null, v?: unknown) => void): void };
let deserializerLib: (new () => Deserializer) | undefined;
const packageDeserializer = (): Deserializer => new (deserializerLib ??= requireCjs('xmlrpc/lib/deserializer') as new () => Deserializer)();

/** The remote daemon answered with a XenAPI Failure. */
export class RemoteFailure extends Error {
  constructor(readonly details: string[]) {
    super(details.join(' '));
    this.name = 'RemoteFailure';
  }
}
/** The remote daemon could not be reached (refused, reset, timed out). */
export class Unreachable extends Error {
  constructor(
    readonly url: string,
    cause: string,
  ) {
    // The cause may carry the peer's own text (a fault string, a parser's quote of its reply): it
    // reaches the master's log, so quoted and cut.
    super(`cannot contact ${url}: ${JSON.stringify(cause.slice(0, 200))}`);
    this.name = 'Unreachable';
  }
}

/** An http://host:port URL for an address given as URL, host:port or host (port 80). */
export function normalizeUrl(address: string): string {
  const a = address.trim();
  if (/^https?:\/\//.test(a)) return a.replace(/\/+$/, '');
  return `http://${a}`;
}

// One keep-alive agent per process and scheme: start-up bursts (16 slaves) reuse sockets.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let tlsAgent: https.Agent | undefined;
let poolCa: string | undefined;
const httpsAgent = (): https.Agent =>
  (tlsAgent ??= new (lazyHttps().Agent)({
    keepAlive: true,
    maxSockets: 64,
    ...(poolCa ? { ca: [...lazyTls().rootCertificates, poolCa] } : {}),
  }));

/**
 * Daemons that serve HTTPS (--tls-cert) are reached over https:// and their certificate is
 * verified: against the system's CAs, plus `pem` (--pool-ca: the pool's own CA or the members'
 * self-signed certificates).
 */
export function trustPoolCa(pem: string | undefined): void {
  tlsAgent?.destroy();
  tlsAgent = undefined;
  poolCa = pem;
}

/** A call parameter as XML-RPC, typed as the xmlrpc package typed it (strings <string>, whole numbers <int>, other numbers <double>). */
function paramXml(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return `<value><string>${xmlText(v)}</string></value>`;
    case 'boolean':
      return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
    case 'number':
      return v % 1 === 0 ? `<value><int>${v}</int></value>` : `<value><double>${v}</double></value>`;
    case 'undefined':
      return '<value/>';
    case 'object': {
      if (v === null) return '<value><nil/></value>';
      if (Array.isArray(v)) return `<value><array><data>${v.map(paramXml).join('')}</data></array></value>`;
      const o = v as Record<string, unknown>;
      return `<value><struct>${Object.keys(o)
        .map((k) => `<member><name>${xmlText(k)}</name>${paramXml(o[k])}</member>`)
        .join('')}</struct></value>`;
    }
  }
  throw new Error(`a ${typeof v} cannot be sent over XML-RPC`);
}

/** The methodCall of `method` with `params`. */
export function methodCallXml(method: string, params: unknown[]): string {
  return `<?xml version="1.0"?><methodCall><methodName>${xmlText(method)}</methodName><params>${params.map((p) => `<param>${paramXml(p)}</param>`).join('')}</params></methodCall>`;
}

/** A methodResponse's value (or fault): this daemon's shapes by the fast path, anything else by the xmlrpc package's parser. */
function parseResponse(body: string): Promise<{ value: unknown } | { fault: unknown }> {
  const fast = fastParseResponse(body);
  if (fast) return Promise.resolve(fast);
  return new Promise((resolve, reject) => {
    packageDeserializer().deserializeMethodResponse(Readable.from([Buffer.from(body)], { objectMode: false }), (e, v) => {
      if (!e) resolve({ value: v });
      else if ('faultCode' in e || 'faultString' in e) resolve({ fault: { faultCode: e.code, faultString: (e as { faultString?: unknown }).faultString } });
      else reject(e);
    });
  });
}

/** The most a reply from another daemon may hold (a 10,000-PIF get_all_records is ~28 MB). */
const MAX_REPLY_BYTES = 256 * 1024 * 1024;

/** One XenAPI call to the daemon at `url`; `timeoutMs` bounds the whole exchange. */
export function xapiCall<T = unknown>(url: string, method: string, params: unknown[], timeoutMs = 30_000): Promise<T> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise<T>((resolve, reject) => {
    const xml = methodCallXml(method, params);
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      finish(() => reject(new Unreachable(url, `no answer to ${method} within ${timeoutMs} ms`)));
      req.destroy(); // the caller has given up: its socket leaves the agent and its chunks stop
    }, timeoutMs);
    const req = (secure ? lazyHttps() : http).request(
      {
        host: u.hostname,
        port: Number(u.port || (secure ? 443 : 80)),
        path: u.pathname || '/',
        method: 'POST',
        agent: secure ? httpsAgent() : agent,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(xml) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes <= MAX_REPLY_BYTES) return void chunks.push(c);
          finish(() => reject(new Unreachable(url, `reply to ${method} over ${MAX_REPLY_BYTES} bytes`)));
          req.destroy();
        });
        res.on('error', (e: Error & { code?: string }) => finish(() => reject(new Unreachable(url, String(e.code ?? e.message)))));
        res.on('end', () => {
          if (res.statusCode === 404) return finish(() => reject(new Unreachable(url, 'Not Found')));
          parseResponse(Buffer.concat(chunks).toString('utf8')).then(
            (r) =>
              finish(() => {
                if ('fault' in r) {
                  const f = (r.fault ?? {}) as { faultCode?: unknown; faultString?: unknown };
                  return reject(new Unreachable(url, `XML-RPC fault ${String(f.faultCode)}: ${String(f.faultString ?? '')}`));
                }
                const v = r.value as { Status?: string; Value?: unknown; ErrorDescription?: unknown[] } | undefined;
                if (v?.Status === 'Success') return resolve(v.Value as T);
                if (v?.Status === 'Failure') return reject(new RemoteFailure((v.ErrorDescription ?? []).map(String)));
                reject(new Unreachable(url, `reply without Status to ${method}`));
              }),
            (e: Error) => finish(() => reject(new Unreachable(url, String(e.message ?? e)))),
          );
        });
      },
    );
    // Socket-level errors (ECONNREFUSED, ECONNRESET...) mean the daemon is not there.
    req.on('error', (e: Error & { code?: string; errno?: number }) => finish(() => reject(new Unreachable(url, String(e.code ?? e.message)))));
    req.end(xml);
  });
}
