// Calls between daemons (src/pool/rpc.ts) are written and read by the daemon's own codec; the
// `xmlrpc` package, which did both before, is the reference: a request it reads as the same call,
// and every reply the fast path accepts read to the same values as its parser gives (random values
// in the shapes servers write, then mutated byte by byte). A reply the fast path leaves goes to the
// package's parser. (A member named __proto__ is the one difference: an own member here; the package
// made it the object's prototype.)
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { methodCallXml, xapiCall, Unreachable } from '../../src/pool/rpc.js';
import { fastParseResponse, parseCall } from '../../src/wire/xmlrpc.js';

type Deserializer = {
  deserializeMethodResponse(s: Readable, cb: (e: Error | null, v?: unknown) => void): void;
  deserializeMethodCall(s: Readable, cb: (e: Error | null, m?: string, p?: unknown[]) => void): void;
};
const Des = createRequire(import.meta.url)('xmlrpc/lib/deserializer') as new () => Deserializer;
const stream = (s: string) => Readable.from([Buffer.from(s)], { objectMode: false });
const packageResponse = (body: string) =>
  new Promise<{ value?: unknown; error?: string }>((resolve) => {
    new Des().deserializeMethodResponse(stream(body), (e, v) => resolve(e ? { error: e.message } : { value: v }));
  });
const packageCall = (body: string) =>
  new Promise<{ method?: string; params?: unknown[] }>((resolve, reject) => {
    new Des().deserializeMethodCall(stream(body), (e, m, p) => (e ? reject(e) : resolve({ method: m, params: p })));
  });

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const ALPHABET = ['a', 'Z', '0', ' ', '\n', '\t', '&amp;', '&lt;', '&gt;', '&#xD;', '"', "'", 'é', '€', '😀', '/', ']', '-', '1'];
const str = (r: () => number) => Array.from({ length: Math.floor(r() * 6) }, () => ALPHABET[Math.floor(r() * ALPHABET.length)]).join('');

/** A random <value> in the shapes a server writes (typed and untyped strings, numbers, booleans, nil, arrays, structs). */
function value(r: () => number, depth = 0): string {
  const k = Math.floor(r() * (depth > 2 ? 7 : 9));
  switch (k) {
    case 0:
      return `<value>${str(r)}</value>`;
    case 1:
      return `<value><string>${str(r)}</string></value>`;
    case 2:
      return `<value><int>${Math.floor(r() * 2000) - 1000}</int></value>`;
    case 3:
      return `<value><i8>${Math.floor(r() * 1e9)}</i8></value>`;
    case 4:
      return `<value><double>${(r() * 100 - 50).toFixed(3)}</double></value>`;
    case 5:
      return `<value><boolean>${r() < 0.5 ? 1 : 0}</boolean></value>`;
    case 6:
      return r() < 0.5 ? '<value/>' : '<value><nil/></value>';
    case 7:
      return `<value><array><data>${Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1)).join('')}</data></array></value>`;
    default:
      return `<value><struct>${Array.from({ length: Math.floor(r() * 4) }, (_, i) => `<member><name>k${i}${str(r)}</name>${value(r, depth + 1)}</member>`).join('')}</struct></value>`;
  }
}
const response = (v: string) => `<?xml version="1.0"?><methodResponse><params><param>${v}</param></params></methodResponse>`;

describe('pool: calls between daemons, written and read by the daemon codec', () => {
  it('POOL-RPC-01 a request is read as the same call by the xmlrpc package and by the server', async () => {
    const params = ['OpaqueRef:x', 'a & b <c> "d" \r\n\té€😀', 42, -7, 1.5, true, false, null, [1, 'x', [true]], { a: '1', b: { c: [2] }, '<k&>': 'v' }, ''];
    const xml = methodCallXml('host.apply_network_state', params);
    expect(await packageCall(xml)).to.deep.equal({ method: 'host.apply_network_state', params });
    const mine = parseCall(xml);
    expect(mine.method).to.equal('host.apply_network_state');
    expect(mine.params.slice(0, 2)).to.deep.equal(params.slice(0, 2));
    expect(JSON.stringify(mine.params[9])).to.equal(JSON.stringify(params[9]));
  });

  it('POOL-RPC-02 every reply the fast path reads, it reads as the xmlrpc package does (random and mutated replies)', async () => {
    const r = rng(12);
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      let body = response(value(r));
      if (i % 2) {
        // A byte changed, dropped or doubled: the fast path reads it the package's way or leaves it.
        const at = Math.floor(r() * body.length);
        const op = Math.floor(r() * 3);
        body =
          op === 0
            ? body.slice(0, at) + body.slice(at + 1)
            : op === 1
              ? body.slice(0, at) + body[at] + body.slice(at)
              : body.slice(0, at) + 'x' + body.slice(at + 1);
      }
      const fast = fastParseResponse(body);
      if (!fast) continue;
      accepted++;
      const ref = await packageResponse(body);
      expect(ref.error, body).to.equal(undefined);
      expect('value' in fast && fast.value, body).to.deep.equal(ref.value);
    }
    expect(accepted).to.be.above(200);
  });

  it('POOL-RPC-03 a member named __proto__ is an own member, not the prototype', () => {
    const fast = fastParseResponse(
      response(
        '<value><struct><member><name>__proto__</name><value><struct><member><name>polluted</name><value>1</value></member></struct></value></member></struct></value>',
      ),
    );
    const v = (fast as { value: Record<string, unknown> }).value;
    expect(Object.getPrototypeOf(v)).to.equal(Object.prototype);
    expect(Object.keys(v)).to.deep.equal(['__proto__']);
    expect((v as { polluted?: unknown }).polluted).to.equal(undefined);
  });

  it('POOL-RPC-04 a reply the fast path leaves (dateTime, CDATA, a fault) goes to the package parser', () => {
    expect(fastParseResponse(response('<value><dateTime.iso8601>20261203T10:00:00Z</dateTime.iso8601></value>'))).to.equal(undefined);
    expect(fastParseResponse(response('<value><string><![CDATA[x]]></string></value>'))).to.equal(undefined);
    const fault = fastParseResponse(
      '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>4</int></value></member></struct></value></fault></methodResponse>',
    );
    expect(fault).to.deep.equal({ fault: { faultCode: 4 } });
  });

  it('POOL-RPC-05 a value XML cannot carry fails the call (a rejection), nothing is sent', async () => {
    const p = xapiCall('http://127.0.0.1:9', 'session.logout', ['a\u0001b'], 1000);
    await p.then(
      () => expect.fail('sent'),
      (e: Error) => {
        expect(e).to.not.be.instanceOf(Unreachable);
        expect(e.message).to.match(/cannot carry/);
      },
    );
  });
});
