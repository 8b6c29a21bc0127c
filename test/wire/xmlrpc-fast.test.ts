// The XML-RPC fast path against saxes: for every request the fast path accepts, saxes (the
// reference parser) must give the same method and values. Requests come in the shapes real
// clients send (Python's pretty, typed encoding; Xen Orchestra's compact, untyped one) with
// random values, then mutated byte by byte.
import { expect } from 'chai';
import { fastParseCall, parseCall, saxParseCall } from '../../src/wire/xmlrpc.js';
import { WireDateTime, WireDouble } from '../../src/wire/values.js';

/** A seeded PRNG (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'Z', '0', ' ', '\n', '\t', '<', '>', '&', '"', "'", 'é', '€', '😀', '/', ';', '#', ']'];

function randomString(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 8);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

type V = string | number | boolean | null | WireDouble | WireDateTime | V[] | { [k: string]: V };

function randomValue(r: () => number, depth = 0): V {
  const k = Math.floor(r() * (depth > 2 ? 6 : 8));
  switch (k) {
    case 0:
      return randomString(r);
    case 1:
      return Math.floor(r() * 2 ** 40) - 2 ** 39;
    case 2:
      return r() < 0.5;
    case 3:
      return new WireDouble(Math.round(r() * 1e6) / 1e3);
    case 4:
      return null;
    case 5:
      return new WireDateTime('20250319T04:16:24Z');
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: { [k: string]: V } = Object.create(null);
      for (let i = Math.floor(r() * 4); i > 0; i--) o[randomString(r) || 'k'] = randomValue(r, depth + 1);
      return o;
    }
  }
}

/** Escapes character data the way each client does (both escape & and <; Python also >, XO only the > of ]]>). */
const escText = (s: string, gt: boolean) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(gt ? />/g : /]]>/g, gt ? '&gt;' : ']]&gt;');

/** Python's xmlrpc.client: pretty, every value typed, "" as <string></string>. */
function python(v: V): string {
  if (typeof v === 'string') return `<value><string>${escText(v, true)}</string></value>`;
  if (typeof v === 'number') return `<value><int>${v}</int></value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (v === null) return '<value><nil/></value>';
  if (v instanceof WireDouble) return `<value><double>${v.value}</double></value>`;
  if (v instanceof WireDateTime) return `<value><dateTime.iso8601>${v.value}</dateTime.iso8601></value>`;
  if (Array.isArray(v)) return `<value><array><data>\n${v.map(python).join('\n')}\n</data></array></value>`;
  return `<value><struct>\n${Object.keys(v)
    .map((k) => `<member>\n<name>${escText(k, true)}</name>\n${python(v[k])}\n</member>`)
    .join('\n')}\n</struct></value>`;
}

/** Xen Orchestra's @vates/xml-rpc: compact, strings untyped, ints as strings, <nil />. */
function xo(v: V): string {
  if (typeof v === 'string') return `<value>${escText(v, false)}</value>`;
  if (typeof v === 'number') return `<value>${v}</value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (v === null) return '<value><nil /></value>';
  if (v instanceof WireDouble) return `<value><double>${v.value}</double></value>`;
  if (v instanceof WireDateTime) return `<value><dateTime.iso8601>${v.value}</dateTime.iso8601></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(xo).join('')}</data></array></value>`;
  return `<value><struct>${Object.keys(v)
    .map((k) => `<member><name>${escText(k, false)}</name>${xo(v[k])}</member>`)
    .join('')}</struct></value>`;
}

const pyCall = (m: string, ps: V[]) =>
  `<?xml version='1.0'?>\n<methodCall>\n<methodName>${m}</methodName>\n<params>\n${ps.map((p) => `<param>\n${python(p)}\n</param>\n`).join('')}</params>\n</methodCall>\n`;
const xoCall = (m: string, ps: V[]) =>
  `<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>${m}</methodName>${ps.length ? `<params>${ps.map((p) => `<param>${xo(p)}</param>`).join('')}</params>` : '<params />'}</methodCall>`;

/** Compares results field by field (class and prototype included). */
function same(a: unknown, b: unknown): void {
  expect(a).to.deep.equal(b);
}

describe('wire/xmlrpc fast path', () => {
  it('FAST-01 accepts what Python and Xen Orchestra send and agrees with saxes on 2,000 random calls', () => {
    const r = rng(1);
    let fast = 0;
    for (let i = 0; i < 1000; i++) {
      const params = Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r));
      for (const body of [pyCall('Bond.create', params), xoCall('Bond.create', params)]) {
        const f = fastParseCall(body);
        const s = saxParseCall(body);
        if (f) {
          fast++;
          same(f, s);
        }
        same(parseCall(body), s);
      }
    }
    // The fast path must really be the path taken for ordinary requests (XO's <nil /> with a space goes to saxes).
    expect(fast).to.be.greaterThan(1200);
  });

  it('FAST-02 byte mutations: whenever the fast path accepts a body, saxes accepts it with the same values', () => {
    const r = rng(2);
    const pieces = [
      '<',
      '>',
      '/',
      '&',
      ';',
      '#x41',
      '&amp;',
      '&#0;',
      '&#x1F600;',
      ' ',
      '\r\n',
      ']]>',
      '<!-- c -->',
      '<![CDATA[x]]>',
      '"',
      'a',
      '<value>',
      '</value>',
      '<string>',
      '<?xml version="1.0"?>',
    ];
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const params = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomValue(r));
      let body = r() < 0.5 ? pyCall('pool.get_all', params) : xoCall('pool.get_all', params);
      for (let m = Math.floor(r() * 3) + 1; m > 0; m--) {
        const at = Math.floor(r() * body.length);
        const op = r();
        if (op < 0.4) body = body.slice(0, at) + body.slice(at + 1 + Math.floor(r() * 3));
        else body = body.slice(0, at) + pieces[Math.floor(r() * pieces.length)] + body.slice(at);
      }
      const f = fastParseCall(body);
      if (!f) continue;
      accepted++;
      let s: unknown;
      try {
        s = saxParseCall(body);
      } catch (e) {
        throw new Error(`fast path accepted what saxes rejects (${(e as Error).message}): ${JSON.stringify(body)}`);
      }
      same(f, s);
    }
    expect(accepted).to.be.greaterThan(30);
  });

  it('FAST-03 leaves to saxes what it does not handle: comments, CDATA, CR line ends, unknown entities, attributes', () => {
    for (const body of [
      '<methodCall><methodName>a</methodName><params><!-- x --></params></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value><![CDATA[<x>]]></value></param></params></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value>a\r\nb</value></param></params></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value>&nbsp;</value></param></params></methodCall>',
      '<methodCall a="1"><methodName>a</methodName><params/></methodCall>',
    ]) {
      expect(fastParseCall(body), body).to.equal(undefined);
    }
    expect(parseCall('<methodCall><methodName>a</methodName><params><param><value>a\r\nb</value></param></params></methodCall>').params).to.deep.equal([
      'a\nb',
    ]);
  });
});
