// XenAPI over XML-RPC between daemons (master ⇄ slave), with the `xmlrpc` npm package as the
// client (its documented role here: docs/architecture.md). A reply's {Status, Value} is
// unwrapped; a Failure becomes a RemoteFailure carrying the exact ErrorDescription; a socket
// that cannot be reached, or a call that exceeds its time limit, is an Unreachable.
import type XmlRpc from 'xmlrpc';
import http from 'node:http';
import { createRequire } from 'node:module';
import type https from 'node:https';
import { lazyHttps, lazyTls } from '../lazy.js';

// The xmlrpc package (and its xmlbuilder/sax), and TLS, are loaded by the first call to another
// daemon that needs them: a standalone daemon never makes one and keeps the ~3 MB they would hold
// resident (make bench, area memory).
const requireCjs = createRequire(import.meta.url);
let xmlrpcLib: typeof XmlRpc | undefined;
const xmlrpc = (): typeof XmlRpc => (xmlrpcLib ??= requireCjs('xmlrpc') as typeof XmlRpc);

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
    super(`cannot contact ${url}: ${cause}`);
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

/** One XenAPI call to the daemon at `url`; `timeoutMs` bounds the whole exchange. */
export function xapiCall<T = unknown>(url: string, method: string, params: unknown[], timeoutMs = 30_000): Promise<T> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const opts = { host: u.hostname, port: Number(u.port || (secure ? 443 : 80)), path: u.pathname || '/', agent: secure ? httpsAgent() : agent };
  // The package honours `agent` (passed through to http.request) though its typings omit it.
  const lib = xmlrpc();
  const client = secure
    ? lib.createSecureClient(opts as Parameters<typeof XmlRpc.createClient>[0])
    : lib.createClient(opts as Parameters<typeof XmlRpc.createClient>[0]);
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Unreachable(url, `no answer to ${method} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.methodCall(method, params, (e: object | null, reply: unknown) => {
      const err = e as (Error & { code?: string; errno?: number }) | null;
      const v = reply as { Status?: string; Value?: unknown; ErrorDescription?: unknown[] } | undefined;
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        // Socket-level errors (ECONNREFUSED, ECONNRESET...) mean the daemon is not there.
        if (err.code || err.errno) return reject(new Unreachable(url, String(err.code ?? err.message)));
        return reject(new Unreachable(url, String(err.message ?? err)));
      }
      if (v?.Status === 'Success') return resolve(v.Value as T);
      if (v?.Status === 'Failure') return reject(new RemoteFailure((v.ErrorDescription ?? []).map(String)));
      reject(new Unreachable(url, `reply without Status to ${method}`));
    });
  });
}
