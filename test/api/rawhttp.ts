// Raw HTTP for protocol tests: exact bytes out, status, headers and body back, no client
// library in between. Also tiny XML-RPC / JSON-RPC request builders.
import http from 'node:http';

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends one request on a fresh connection. */
export function request(port: number, method: string, path: string, body: string | Buffer = '', headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: { 'Content-Type': 'text/xml', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const post = (port: number, path: string, body: string | Buffer, headers: Record<string, string> = {}) => request(port, 'POST', path, body, headers);

/** A compact XML-RPC methodCall with untyped string params (as Xen Orchestra sends). */
export function xmlCall(method: string, ...params: string[]): string {
  const ps = params.map((p) => `<param>${p.startsWith('<value>') ? p : `<value>${p}</value>`}</param>`).join('');
  return `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${ps}</params></methodCall>`;
}

/** A JSON-RPC v2 request. */
export function jsonCall(method: string, params: unknown[], id: number | string = 0): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params, id });
}

const HEAD = '<?xml version="1.0"?><methodResponse><params><param>';
const TAIL = '</param></params></methodResponse>';
/** The exact XML-RPC Failure reply for an ErrorDescription. */
export function xmlFailure(desc: string[]): string {
  return `${HEAD}<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>${desc.map((d) => (d === '' ? '<value></value>' : `<value>${d}</value>`)).join('')}</data></array></value></member></struct></value>${TAIL}`;
}
/** The exact XML-RPC Success reply for an encoded value. */
export function xmlSuccess(value: string): string {
  return `${HEAD}<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${value}</member></struct></value>${TAIL}`;
}
