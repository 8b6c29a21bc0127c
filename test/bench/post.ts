// The benchmarks' XML-RPC POST (run.ts): the time to the reply's last byte.
import http from 'node:http';

/**
 * POSTs `body` and resolves to the whole reply and the time to its last byte. Rejects when the
 * connection fails or the reply is cut short: a response aborted mid-body emits neither 'end'
 * nor, without a listener, 'error', and a promise waiting only for 'end' never settled (the
 * bulk benchmark hung until killed).
 */
export function post(port: number, body: string, path = '/'): Promise<{ status: number; body: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error(`reply cut short after ${chunks.reduce((n, c) => n + c.length, 0)} bytes (status ${res.statusCode})`));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Throws unless `r` is a whole XML-RPC Success reply (a Failure or an HTTP error would be timed as a very fast reply). */
export function expectSuccess(what: string, r: { status: number; body: Buffer }): void {
  const head = r.body.toString('utf8', 0, 400);
  const tail = r.body.toString('utf8', Math.max(0, r.body.length - 40));
  if (r.status !== 200 || !head.includes('<name>Status</name><value>Success</value>') || !tail.endsWith('</methodResponse>'))
    throw new Error(`${what}: not a whole Success reply (HTTP ${r.status}, ${r.body.length} bytes): ${head}`);
}
