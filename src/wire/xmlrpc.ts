// XML-RPC as xapi speaks it: liberal parsing (typed or untyped values, i4/int/i8, nil,
// pretty-printed), compact replies with untyped strings and ints, never <i8>, the empty
// string as <value></value>. The reply encoder is driven by the datamodel's types.
import type { SaxesParser } from 'saxes';
import { createRequire } from 'node:module';
import { LazyMap, Typed, visibleFields, classDef, type Ty, type FieldDef } from '../../schema/index.js';
import { Encoded, ProtocolError, WireDateTime, WireDouble, XML_ILLEGAL, type RpcCall, type SlicePiece } from './values.js';
import { loadAddon } from '../native.js';

interface Frame {
  tag: string;
  text: string;
  value?: unknown;
  typed?: boolean;
  items?: unknown[];
  obj?: Record<string, unknown>;
  name?: string;
  memberValue?: unknown;
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan|infinity)$/i;
const SCALAR_TAGS = new Set(['string', 'int', 'i4', 'i8', 'boolean', 'double', 'dateTime.iso8601', 'base64']);

/** A 64-bit int from its decimal text: a number while exact, a BigInt beyond 2^53. */
export function wireInt(s: string): number | bigint {
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n;
  const b = BigInt(s);
  if (b > 9223372036854775807n || b < -9223372036854775808n) throw new ProtocolError(`int out of 64-bit range: ${s}`);
  return b;
}

/** The value of a scalar element `<tag>text</tag>`; ProtocolError when the text does not fit the type. */
function scalar(tag: string, text: string): unknown {
  switch (tag) {
    case 'string':
      return text;
    case 'int':
    case 'i4':
    case 'i8': {
      const s = text.trim();
      if (!INT_RE.test(s)) throw new ProtocolError(`bad <${tag}> ${s}`);
      return wireInt(s);
    }
    case 'boolean':
      return text.trim() === '1';
    case 'double': {
      const s = text.trim();
      if (!FLOAT_RE.test(s)) throw new ProtocolError(`bad <double> ${s}`);
      const l = s.toLowerCase().replace(/^\+/, '');
      return new WireDouble(
        l === 'inf' || l === 'infinity' ? Infinity : l === '-inf' || l === '-infinity' ? -Infinity : l === 'nan' || l === '-nan' ? NaN : Number(s),
      );
    }
    case 'dateTime.iso8601':
      return new WireDateTime(text.trim());
    case 'base64':
      return Buffer.from(text, 'base64').toString('utf8');
  }
  throw new ProtocolError(`unexpected <${tag}>`);
}

/**
 * Parses a methodCall; throws ProtocolError for anything that is not one. The common shapes
 * (what Python, Xen Orchestra and our own clients send) go through a purpose-built scanner;
 * anything it does not recognise (comments, CDATA, attributes, odd entities, errors) goes
 * through saxes, which decides. Both give the same values (test/wire/xmlrpc-fast.test.ts).
 */
export function parseCall(body: string): RpcCall {
  return fastParseCall(body) ?? saxParseCall(body);
}

// saxes (with xmlchars' Unicode tables, ~4 MB resident) is loaded by the first call the fast path
// leaves to it: the clients this daemon meets rarely send one (make bench, area memory).
let saxesLib: { SaxesParser: typeof SaxesParser } | undefined;
const saxes = () => (saxesLib ??= createRequire(import.meta.url)('saxes') as { SaxesParser: typeof SaxesParser });

/** The saxes-based parser: complete XML 1.0, and the reference for the fast path. */
export function saxParseCall(body: string): RpcCall {
  const parser = new (saxes().SaxesParser)({ xmlns: false, position: false });
  const stack: Frame[] = [];
  let method: string | undefined;
  let params: unknown[] | undefined;
  let sawRoot = false;
  const fail = (m: string): never => {
    throw new ProtocolError(m);
  };
  const top = () => stack[stack.length - 1];
  const giveToValue = (v: unknown) => {
    const fr = top();
    if (!fr || fr.tag !== 'value') fail('typed element outside <value>');
    if (fr.typed) fail('two types in one <value>');
    fr.value = v;
    fr.typed = true;
  };

  parser.on('error', (e) => fail(`malformed XML: ${e.message}`));
  parser.on('doctype', () => fail('DOCTYPE not allowed'));
  parser.on('opentag', (node) => {
    const tag = node.name;
    const parent = top();
    if (!parent) {
      if (sawRoot || tag !== 'methodCall') fail(`expected <methodCall>, got <${tag}>`);
      sawRoot = true;
    } else {
      const ok =
        (parent.tag === 'methodCall' && (tag === 'methodName' || tag === 'params')) ||
        (parent.tag === 'params' && tag === 'param') ||
        (parent.tag === 'param' && tag === 'value') ||
        (parent.tag === 'value' && (SCALAR_TAGS.has(tag) || tag === 'array' || tag === 'struct' || tag === 'nil')) ||
        (parent.tag === 'array' && tag === 'data') ||
        (parent.tag === 'data' && tag === 'value') ||
        (parent.tag === 'struct' && tag === 'member') ||
        (parent.tag === 'member' && (tag === 'name' || tag === 'value'));
      if (!ok) fail(`unexpected <${tag}> in <${parent.tag}>`);
      if (parent.tag === 'value' && parent.typed) fail('two types in one <value>');
    }
    const fr: Frame = { tag, text: '' };
    if (tag === 'params') params = [];
    if (tag === 'data') fr.items = [];
    if (tag === 'struct') fr.obj = Object.create(null);
    stack.push(fr);
  });
  parser.on('text', (t) => {
    const fr = top();
    if (fr) fr.text += t;
  });
  parser.on('cdata', (t) => {
    const fr = top();
    if (fr) fr.text += t;
  });
  parser.on('closetag', () => {
    const fr = stack.pop()!;
    const parent = top();
    switch (fr.tag) {
      case 'methodName':
        method = fr.text.trim();
        break;
      case 'value': {
        const v = fr.typed ? fr.value : fr.text; // an untyped value is a string, as it stands
        if (parent?.tag === 'param') params!.push(v);
        else if (parent?.tag === 'data') parent.items!.push(v);
        else if (parent?.tag === 'member') {
          parent.memberValue = v;
          parent.typed = true;
        }
        break;
      }
      case 'param':
        break;
      case 'string':
      case 'int':
      case 'i4':
      case 'i8':
      case 'boolean':
      case 'double':
      case 'dateTime.iso8601':
      case 'base64':
        giveToValue(scalar(fr.tag, fr.text));
        break;
      case 'nil':
        giveToValue(null);
        break;
      case 'data':
        parent!.items = fr.items;
        break;
      case 'array':
        giveToValue(fr.items ?? []);
        break;
      case 'struct':
        giveToValue(fr.obj);
        break;
      case 'name':
        parent!.name = fr.text;
        break;
      case 'member':
        if (fr.name === undefined || !fr.typed) fail('<member> needs <name> and <value>');
        parent!.obj![fr.name!] = fr.memberValue;
        break;
    }
  });
  try {
    parser.write(body).close();
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(`malformed XML: ${(e as Error).message}`);
  }
  if (!sawRoot) fail('empty request');
  if (method === undefined || method === '') fail('no <methodName>');
  if (params === undefined) fail('no <params>');
  return { method: method!, params: params! };
}

// ---------------------------------------------------------------- fast path

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
// Control characters, \r (XML normalises line ends), '>' and ']]>' are left to saxes.
const TEXT_BAD = /[\u0000-\u0008\u000B\u000C\r\u000E-\u001F\uFFFE\uFFFF<>]|\]\]>/;
const XML_DECL = /^<\?xml version=(["'])1\.[0-9]\1(\s+encoding=(["'])[A-Za-z][A-Za-z0-9._-]*\3)?(\s+standalone=(["'])(yes|no)\5)?\s*\?>/;
const ENTITY = /&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);/g;
const NOT_XML_NAME_SPACE = /[^ \t\r\n]/;

/** Bails out of the fast path: saxes takes the request. */
class Bail extends Error {}
const bail = (): never => {
  throw new Bail();
};

/** Decodes character data, or bails on anything saxes should judge (illegal characters, unknown entities). */
function text(s: string): string {
  if (TEXT_BAD.test(s)) bail();
  if (s.indexOf('&') < 0) return s;
  if (s.replace(ENTITY, '').indexOf('&') >= 0) bail(); // a stray '&' or an entity XML does not define
  const out = s.replace(ENTITY, (_m, e: string) => {
    if (e[0] !== '#') return NAMED[e];
    const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    if (!(cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)))
      bail();
    return String.fromCodePoint(cp);
  });
  return out;
}

/** A scanner over one request body. */
class Scan {
  i = 0;
  constructor(readonly s: string) {}
  ws(): void {
    const s = this.s;
    let i = this.i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      i++;
    }
    this.i = i;
  }
  /** Consumes `lit` if it is next. */
  eat(lit: string): boolean {
    // Compared code unit by code unit: startsWith with a position was the scanner's largest cost
    // (a tenth of an in-process get_record, cpu-prof), the literals being a few characters.
    const s = this.s;
    const at = this.i;
    const n = lit.length;
    if (at + n > s.length) return false;
    for (let k = 0; k < n; k++) if (s.charCodeAt(at + k) !== lit.charCodeAt(k)) return false;
    this.i = at + n;
    return true;
  }
  need(lit: string): void {
    if (!this.eat(lit)) bail();
  }
  /** Raw character data up to the next '<'. */
  until(): string {
    const j = this.s.indexOf('<', this.i);
    if (j < 0) bail();
    const t = this.s.slice(this.i, j);
    this.i = j;
    return t;
  }
  /** The name of the tag at the cursor (`<name>` or `<name/>`), without consuming it. */
  tag(): string {
    const s = this.s;
    if (s.charCodeAt(this.i) !== 60 /* < */) bail();
    let j = this.i + 1;
    while (j < s.length) {
      const c = s.charCodeAt(j);
      if (c === 62 /* > */ || c === 47 /* / */) break;
      j++;
    }
    return s.slice(this.i + 1, j);
  }
}

/** How a scalar element's text becomes a value: the server's wire types (scalar), or a client's (responseScalar). */
type ScalarOf = (tag: string, text: string) => unknown;
/** A struct being filled: the server's have no prototype; a client's are plain objects, as the xmlrpc package gave them. */
type StructOf = () => Record<string, unknown>;

/** A struct as a request's values hold it: no prototype (a member named __proto__ is data). */
const nullProtoStruct: StructOf = () => Object.create(null);

function fastValue(sc: Scan, scalarOf: ScalarOf = scalar, structOf: StructOf = nullProtoStruct): unknown {
  // At "<value": untyped text, <value/>, or one typed element between optional white space.
  if (sc.eat('<value/>')) return '';
  sc.need('<value>');
  const raw = sc.until();
  if (sc.eat('</value>')) return text(raw);
  if (NOT_XML_NAME_SPACE.test(raw)) bail(); // text beside a typed element: saxes decides
  const t = sc.tag();
  let v: unknown;
  switch (t) {
    case 'string':
    case 'int':
    case 'i4':
    case 'i8':
    case 'boolean':
    case 'double':
    case 'dateTime.iso8601':
    case 'base64': {
      if (sc.eat(`<${t}/>`)) v = scalarOf(t, '');
      else {
        sc.need(`<${t}>`);
        const body = text(sc.until());
        sc.need(`</${t}>`);
        v = scalarOf(t, body);
      }
      break;
    }
    case 'nil':
      if (!sc.eat('<nil/>')) {
        sc.need('<nil>');
        sc.ws();
        sc.need('</nil>');
      }
      v = null;
      break;
    case 'array': {
      const items: unknown[] = [];
      if (sc.eat('<array/>')) bail(); // saxes treats a childless array specially: let it
      sc.need('<array>');
      sc.ws();
      if (!sc.eat('<data/>')) {
        sc.need('<data>');
        for (;;) {
          sc.ws();
          if (sc.eat('</data>')) break;
          items.push(fastValue(sc, scalarOf, structOf));
        }
      }
      sc.ws();
      sc.need('</array>');
      v = items;
      break;
    }
    case 'struct': {
      const obj = structOf();
      if (!sc.eat('<struct/>')) {
        sc.need('<struct>');
        for (;;) {
          sc.ws();
          if (sc.eat('</struct>')) break;
          sc.need('<member>');
          sc.ws();
          sc.need('<name>');
          const name = text(sc.until());
          sc.need('</name>');
          sc.ws();
          const mv = fastValue(sc, scalarOf, structOf);
          sc.ws();
          sc.need('</member>');
          // `__proto__` is an own member too (assigned, a plain object would take it as its prototype).
          if (name === '__proto__') Object.defineProperty(obj, name, { value: mv, writable: true, enumerable: true, configurable: true });
          else obj[name] = mv;
        }
      }
      v = obj;
      break;
    }
    default:
      return bail();
  }
  sc.ws();
  sc.need('</value>');
  return v;
}

/** Skips a byte order mark, the XML declaration and white space: the usual declaration as a literal, any other through the full pattern. */
function skipProlog(sc: Scan, body: string): void {
  sc.eat('\uFEFF');
  if (!sc.eat('<?xml version="1.0"?>') && body.startsWith('<?xml', sc.i)) {
    const m = XML_DECL.exec(body.slice(sc.i, sc.i + 200));
    if (!m) bail();
    sc.i += m![0].length;
  }
  sc.ws();
}

/** The fast path: a methodCall in the shapes clients send, or undefined to let saxes decide. */
export function fastParseCall(body: string): RpcCall | undefined {
  try {
    const sc = new Scan(body);
    skipProlog(sc, body);
    sc.need('<methodCall>');
    sc.ws();
    sc.need('<methodName>');
    const method = text(sc.until()).trim();
    sc.need('</methodName>');
    sc.ws();
    const params: unknown[] = [];
    if (!sc.eat('<params/>')) {
      sc.need('<params>');
      for (;;) {
        sc.ws();
        if (sc.eat('</params>')) break;
        sc.need('<param>');
        sc.ws();
        params.push(fastValue(sc));
        sc.ws();
        sc.need('</param>');
      }
    }
    sc.ws();
    sc.need('</methodCall>');
    sc.ws();
    if (sc.i !== body.length || method === '') bail();
    return { method, params };
  } catch (e) {
    if (e instanceof Bail || e instanceof ProtocolError) return undefined; // saxes decides and reports
    throw e;
  }
}

/**
 * A client's scalar values, as the xmlrpc package made them: int and i4 numbers, i8 a string of
 * digits, double a number, boolean 0/1. Anything else (dateTime, base64, text that is not a number)
 * bails: the package's own parser then decides, with its errors.
 */
function responseScalar(tag: string, body: string): unknown {
  switch (tag) {
    case 'string':
      return body;
    case 'int':
    case 'i4': {
      const n = parseInt(body, 10);
      return Number.isNaN(n) ? bail() : n;
    }
    case 'i8':
      return /^-?\d+$/.test(body) ? body : bail();
    case 'double': {
      const n = parseFloat(body);
      return Number.isNaN(n) ? bail() : n;
    }
    case 'boolean':
      return body === '1' ? true : body === '0' ? false : bail();
  }
  return bail();
}

/**
 * The fast path of a client: a methodResponse in the shape this daemon's own codec writes, as
 * `{ value }` or `{ fault }`, or undefined for anything else (the caller's general parser decides).
 */
export function fastParseResponse(body: string): { value: unknown } | { fault: unknown } | undefined {
  try {
    const sc = new Scan(body);
    skipProlog(sc, body);
    sc.need('<methodResponse>');
    sc.ws();
    let out: { value: unknown } | { fault: unknown };
    if (sc.eat('<fault>')) {
      sc.ws();
      out = { fault: fastValue(sc, responseScalar, () => ({})) };
      sc.ws();
      sc.need('</fault>');
    } else {
      sc.need('<params>');
      sc.ws();
      sc.need('<param>');
      sc.ws();
      out = { value: fastValue(sc, responseScalar, () => ({})) };
      sc.ws();
      sc.need('</param>');
      sc.ws();
      sc.need('</params>');
    }
    sc.ws();
    sc.need('</methodResponse>');
    sc.ws();
    if (sc.i !== body.length) bail();
    return out;
  } catch (e) {
    if (e instanceof Bail || e instanceof ProtocolError) return undefined;
    throw e;
  }
}

// Characters XML 1.0 cannot carry (values.ts XML_ILLEGAL): a client refuses to send them (as the xmlrpc package did); `&`, `<`, `>` and `\r` are escaped.
const REQ_ESC = /[&<>\r]/g;
const REQ_ESC_MAP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };

/** Character data of a request to another daemon (src/pool/rpc.ts); throws for a character XML cannot carry. */
export function requestText(s: string): string {
  if (XML_ILLEGAL.test(s)) throw new Error(`a character XML cannot carry in ${JSON.stringify(s.slice(0, 40))}`);
  return s.replace(REQ_ESC, (c) => REQ_ESC_MAP[c]);
}

// ---------------------------------------------------------------- encoding

const ESC_RE = /[&<>"\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
const ESC_ALL = /[&<>"\u0000-\u0008\u000B\u000C\u000E-\u001F]/g;
const ESC_MAP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** XML-escapes `< > & "` and drops characters XML cannot carry, as xapi does. */
export function esc(s: string): string {
  if (!ESC_RE.test(s)) return s;
  return s.replace(ESC_ALL, (c) => ESC_MAP[c] ?? '');
}

/** Formats a float as C's %.16g (exact ties round half to even, as printf does; JS rounds them up). */
export function g16(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  let [m, e] = a.toExponential(15).split('e');
  const exact = a.toExponential(99).split('e');
  const ed = exact[0].replace('.', '');
  if (ed[16] === '5' && /^0*$/.test(ed.slice(17)) && Number(ed[15]) % 2 === 0) [m, e] = [`${ed[0]}.${ed.slice(1, 16)}`, exact[1]];
  const digits = m.replace('.', '');
  const exp = Number(e);
  if (exp < -4 || exp >= 16) {
    const mm = m.includes('.') ? m.replace(/\.?0+$/, '') : m;
    return `${sign}${mm}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const fixed = exp >= 0 ? `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}` : `0.${'0'.repeat(-exp - 1)}${digits}`;
  return sign + fixed.replace(/0+$/, '').replace(/\.$/, '');
}

// Encoders are compiled once per type: a record's is one concatenation of its fields' encoders
// (a template, in effect), which is what makes get_record and get_all_records cheap.
type Enc = (v: unknown) => string;
const encoders = new Map<string, Enc>();

// A value of each type is `open + inner + close` (wrapOf: `<value><boolean>` … `</boolean></value>`);
// innerFor encodes what is between. The record cache keeps only the inner parts of a record's
// fields, the class's layout the rest (compact records, below).

/** What an encoded value of `ty` opens and closes with. */
function wrapOf(ty: Ty): readonly [string, string] {
  switch (ty.k) {
    case 'int32':
      return ['<value><i4>', '</i4></value>'];
    case 'float':
      return ['<value><double>', '</double></value>'];
    case 'bool':
      return ['<value><boolean>', '</boolean></value>'];
    case 'datetime':
      return ['<value><dateTime.iso8601>', '</dateTime.iso8601></value>'];
    case 'set':
      return ['<value><array><data>', '</data></array></value>'];
    case 'map':
    case 'record':
      return ['<value><struct>', '</struct></value>'];
    default:
      return ['<value>', '</value>'];
  }
}

const innerString: Enc = (v) => (v === '' || v === undefined || v === null ? '' : esc(String(v)));
const encString: Enc = (v) => `<value>${innerString(v)}</value>`;
const encBool: Enc = (v) => (v ? '<value><boolean>1</boolean></value>' : '<value><boolean>0</boolean></value>');

/** The compiled encoder of what is between a value's wrapOf. */
function innerFor(ty: Ty): Enc {
  const key = `inner:${tyKey(ty)}`;
  let e = encoders.get(key);
  if (!e) {
    e = compileInner(ty);
    encoders.set(key, e);
  }
  return e;
}

function compileInner(ty: Ty): Enc {
  switch (ty.k) {
    case 'string':
    case 'enum':
    case 'ref':
      return innerString;
    case 'int':
      return (v) => (typeof v === 'number' ? String(Math.trunc(v)) : String(v ?? 0));
    case 'int32':
      return (v) => String(Number(v) | 0);
    case 'float':
      return (v) => g16(Number(v));
    case 'bool':
      return (v) => (v ? '1' : '0');
    case 'datetime':
      return (v) => esc(String(v));
    case 'void':
      return () => '';
    case 'set': {
      const el = encoderFor(ty.of);
      return (v) => {
        const a = v as unknown[];
        let s = '';
        for (let i = 0; i < a.length; i++) s += el(a[i]);
        return s;
      };
    }
    case 'map': {
      const val = encoderFor(ty.val);
      return (v) => {
        let s = '';
        if (v instanceof LazyMap) {
          for (const [k, x] of v.entries) s += `<member><name>${esc(k)}</name>${val(x)}</member>`;
        } else {
          const m = v as Record<string, unknown>;
          for (const k in m) s += `<member><name>${esc(k)}</name>${val(m[k])}</member>`;
        }
        return s;
      };
    }
    case 'any':
    case 'record': {
      // Their encoders write the whole value (encodeAny's wrap depends on the value).
      const full = encoderFor(ty);
      const [o, c] = wrapOf(ty);
      return (v) => {
        const s = full(v);
        if (!s.startsWith(o) || !s.endsWith(c)) throw new Error(`xmlrpc: ${s.slice(0, 40)} is not wrapped as a ${ty.k}`);
        return s.slice(o.length, s.length - c.length);
      };
    }
  }
}

function tyKey(t: Ty): string {
  switch (t.k) {
    case 'enum':
      return `enum:${t.name}`;
    case 'ref':
      return 'ref';
    case 'record':
      return `record:${t.cls}`;
    case 'set':
      return `set(${tyKey(t.of)})`;
    case 'map':
      return `map(${tyKey(t.key)},${tyKey(t.val)})`;
    default:
      return t.k;
  }
}

/** The compiled encoder of a type. */
export function encoderFor(ty: Ty): Enc {
  const key = tyKey(ty);
  let e = encoders.get(key);
  if (!e) {
    e = compile(ty);
    encoders.set(key, e);
  }
  return e;
}

function compile(ty: Ty): Enc {
  switch (ty.k) {
    case 'string':
    case 'enum':
    case 'ref':
      return encString;
    case 'any':
      return encodeAny;
    case 'set':
      // The empty set is the common case in records: one constant string.
      return ((inner) => (v: unknown) =>
        (v as unknown[]).length === 0 ? '<value><array><data></data></array></value>' : `<value><array><data>${inner(v)}</data></array></value>`)(innerFor(ty));
    case 'bool':
      return encBool;
    case 'int':
    case 'int32':
    case 'float':
    case 'datetime':
    case 'void':
    case 'map': {
      const [o, c] = wrapOf(ty);
      const inner = innerFor(ty);
      return (v) => o + inner(v) + c;
    }
    case 'record': {
      const def = classDef(ty.cls);
      if (!def) throw new Error(`xmlrpc: unknown record class ${ty.cls}`);
      const fields: FieldDef[] = visibleFields(def);
      const encs = fields.map((fd) => encoderFor(fd.ty));
      // One template per class: field names are datamodel identifiers, escaped once here.
      const body = fields
        .map((fd, i) => `${JSON.stringify(`<member><name>${esc(fd.name)}</name>`)} + e[${i}](r[${JSON.stringify(fd.name)}]) + '</member>'`)
        .join(' + ');
      // (a class without visible fields, event, has an empty body)
      const tmpl = new Function('e', `return function (r) { return '<value><struct>' + ${body || "''"} + '</struct></value>'; };`)(encs) as Enc;
      // A cached record (Encoded) inside a larger value (a task result, an event) keeps its bytes.
      return (v) => (v instanceof Encoded ? v.xml().toString('utf8') : tmpl(v));
    }
  }
}

/** Encodes `v` of type `ty` as one compact <value>. */
export function encode(v: unknown, ty: Ty): string {
  return encoderFor(ty)(v);
}

function encodeAny(v: unknown): string {
  if (v instanceof Typed) return encode(v.v, v.ty);
  if (v === null || v === undefined) return '<value></value>';
  switch (typeof v) {
    case 'string':
      return encString(v);
    case 'number':
      return Number.isInteger(v) ? `<value>${v}</value>` : `<value><double>${g16(v)}</double></value>`;
    case 'bigint':
      return `<value>${v}</value>`;
    case 'boolean':
      return encBool(v);
  }
  if (Array.isArray(v)) {
    let s = '<value><array><data>';
    for (const x of v) s += encodeAny(x);
    return s + '</data></array></value>';
  }
  const m = v as Record<string, unknown>;
  let s = '<value><struct>';
  for (const k of Object.keys(m)) s += `<member><name>${esc(k)}</name>${encodeAny(m[k])}</member>`;
  return s + '</struct></value>';
}

const HEAD = '<?xml version="1.0"?><methodResponse><params><param>';
const TAIL = '</param></params></methodResponse>';
const OK_OPEN = '<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>';
const OK_CLOSE = '</member></struct></value>';
/** Bytes before and after the value in a (not bare) Success reply: Encoded.xml() is xmlReply() without them. */
export const SUCCESS_PREFIX_BYTES = Buffer.byteLength(HEAD + OK_OPEN);
export const SUCCESS_SUFFIX_BYTES = Buffer.byteLength(OK_CLOSE + TAIL);

/**
 * A Success reply, as parts; big maps and sets are encoded in slices between which the caller may
 * yield. Slices of cached records (Encoded) are Buffers assembled from their bytes.
 */
export function* successParts(v: unknown, ty: Ty, bare = false): Generator<string | Buffer, void, void> {
  yield HEAD + (bare ? '' : OK_OPEN);
  yield* bodyParts(v, ty);
  yield (bare ? '' : OK_CLOSE) + TAIL;
}

/** True for values encoded in slices (lazy or large maps and sets). */
export function isBulk(v: unknown, ty: Ty): boolean {
  if (v instanceof LazyMap) return true;
  if (ty.k === 'map' && v && typeof v === 'object') {
    let n = 0;
    for (const _ in v as object) if (++n > SLICE) return true;
    return false;
  }
  return ty.k === 'set' && Array.isArray(v) && v.length > SLICE;
}

/** The Success reply of a cached value: its bytes as they are (`bare` replies are never cached). */
export function successEncoded(v: Encoded): Buffer {
  return v.xmlReply();
}

/** A Success reply as one string: the common case, written with one copy. */
export function successString(v: unknown, ty: Ty, bare = false): string {
  return HEAD + (bare ? '' : OK_OPEN) + encode(v, ty) + (bare ? '' : OK_CLOSE) + TAIL;
}

const SLICE = 256;
/**
 * A slice of cached records is cut at this many bytes: each slice costs a socket write and a turn
 * of the event loop (other calls go in between), so 1 MiB (was 256 KiB) took a 10,000-PIF reply
 * from 43-49 to 31-35 ms with the same peak RSS; a slice is assembled and written in ~0.5 ms.
 */
const SLICE_BYTES = 1024 * 1024;

/** The opening of a struct member: `<member><name>k</name>`. */
export function memberHead(k: string): string {
  return `<member><name>${esc(k)}</name>`;
}

// Slices of bulk replies are cut from a few reused slabs (up to 4 of 2 MiB kept: ~1 MiB of each is ever touched, the same ~4 MB as 8 of 512 KiB were) rather than allocated each: a 27 MB
// reply would otherwise make 27 MB of short-lived external memory per reply (and RSS with it).
// A slab goes back once the wire has written its slice (releaseSlice).
const SLAB_BYTES = 2 * SLICE_BYTES;
const freeSlabs: ArrayBuffer[] = [];
const slabs = new WeakSet<ArrayBufferLike>();

function slabSlice(bytes: number): Buffer {
  if (bytes > SLAB_BYTES) return Buffer.allocUnsafe(bytes);
  let ab = freeSlabs.pop();
  if (ab === undefined) {
    ab = new ArrayBuffer(SLAB_BYTES);
    slabs.add(ab);
  }
  return Buffer.from(ab, 0, bytes);
}

/** Gives back a slice memberSlices made, once it has been written: its bytes will be overwritten. */
export function releaseSlice(b: Buffer): void {
  if (slabs.has(b.buffer) && freeSlabs.length < 4 && !freeSlabs.includes(b.buffer as ArrayBuffer)) freeSlabs.push(b.buffer as ArrayBuffer);
}

/** A piece of a slice: text, bytes, or a piece that writes itself. */
export type Piece = string | Buffer | SlicePiece;

/**
 * Concatenates pieces into one Buffer of `bytes` bytes (their UTF-8 length); `slab`: cut from
 * a reused slab (the caller gives it back with releaseSlice).
 */
export function joinPieces(pieces: Piece[], bytes: number, slab = false): Buffer {
  const out = slab ? slabSlice(bytes) : Buffer.allocUnsafe(bytes);
  let o = 0;
  for (const p of pieces) {
    if (typeof p === 'string') o += out.write(p, o, 'utf8');
    else if (p instanceof Uint8Array) o += p.copy(out, o);
    else o = p.writePiece(out, o);
  }
  if (o !== bytes) throw new Error(`joinPieces: ${o} bytes written, ${bytes} expected`);
  return out;
}

/**
 * The members of a map in slices: values that are Encoded as `encoded` puts them (their bytes,
 * copied into the slice once; it pushes the member's pieces and returns their length), others
 * as `head(key) + enc(value) + tail` strings. Shared by both codecs (`first`: JSON's comma).
 */
export function* memberSlices(
  entries: Iterable<[string, unknown]>,
  head: (k: string, first: boolean) => string,
  enc: (x: unknown) => string,
  tail: string,
  encoded: (x: Encoded, k: string, first: boolean, pieces: Piece[]) => number,
): Generator<string | Buffer, void, void> {
  let pieces: Piece[] = [];
  let bytes = 0;
  let n = 0;
  let first = true;
  for (const [k, x] of entries) {
    if (x instanceof Encoded) bytes += encoded(x, k, first, pieces);
    else {
      const s = head(k, first) + enc(x) + tail;
      pieces.push(s);
      bytes += Buffer.byteLength(s);
    }
    first = false;
    if (++n === SLICE || bytes >= SLICE_BYTES) {
      yield joinPieces(pieces, bytes, true);
      pieces = [];
      bytes = 0;
      n = 0;
    }
  }
  if (bytes) yield joinPieces(pieces, bytes, true);
}

/** Pushes an Encoded value's XML-RPC member (memberSlices' `encoded` for this codec). */
function encodedMember(x: Encoded, k: string, _first: boolean, pieces: Piece[]): number {
  const m = x.xmlMember(k);
  pieces.push(m);
  return m instanceof Uint8Array ? m.length : m.pieceBytes;
}

// ---------------------------------------------------------------- compact records
//
// A record as a member of a bulk reply, `<member><name>REF</name><value><struct>…</struct></value>
// </member>`, is constant text per class (member names, tags, each field's wrapOf) between
// variable parts: the ref and each field's inner encoding. The record cache keeps only the
// variable parts (compactMember: their lengths as LEB128 varints, then their UTF-8 bytes; ~1/3
// of the whole for a PIF); a bulk reply writes them between the class's constant pieces
// (writeCompact: native/assemble.c, one call per record instead of a copy per piece).

/** What assembles compact records: native/assemble.c's contract (layout, then assemble per record). */
export interface Assembler {
  /** Keeps a class's constant pieces (piece i is tmpl[ends[i-1] .. ends[i]]); returns their id. */
  layout(tmpl: Buffer, ends: Uint32Array): number;
  /** Writes piece 0, part 0, piece 1, … into out at `at`; the offset after. Throws, writing nothing, on a record that does not match or fit. */
  assemble(out: Buffer, at: number, id: number, rec: ArrayBuffer): number;
}

/**
 * The assembler in JavaScript, for a daemon without the addon (not built: no compiler at
 * install): the same contract and refusals as native/assemble.c, copying byte by byte (~7x the
 * addon's time: 40 against 6 ms per 10,000 PIFs) where the addon makes one call per record.
 */
export function jsAssembler(): Assembler {
  const layouts: { tmpl: Buffer; ends: Uint32Array }[] = [];
  // One LEB128 varint (at most 32 bits) at h.o, not past end; -1 on a malformed one.
  const varint = (b: Uint8Array, h: { o: number }): number => {
    let v = 0;
    for (let shift = 0; shift < 35 && h.o < b.length; shift += 7) {
      const x = b[h.o++];
      v += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) return v > 0xffffffff ? v % 2 ** 32 : v;
    }
    return -1;
  };
  return {
    layout(tmpl, ends) {
      if (ends.length < 1 || ends.some((e, i) => e > tmpl.length || (i > 0 && e < ends[i - 1]))) throw new Error('layout: ends out of order or past tmpl');
      layouts.push({ tmpl: Buffer.from(tmpl), ends: ends.slice() });
      return layouts.length - 1;
    },
    assemble(out, at, id, rec) {
      const l = layouts[id];
      if (!l) throw new Error('assemble: unknown layout');
      const b = new Uint8Array(rec);
      const n = l.ends.length - 1;
      const h = { o: 0 };
      const lens: number[] = [];
      let parts = 0;
      for (let i = 0; i < n; i++) {
        const x = varint(b, h);
        if (x < 0) throw new Error('assemble: malformed record header');
        lens.push(x);
        parts += x;
      }
      if (parts !== b.length - h.o) throw new Error('assemble: record parts do not match its header');
      if (at > out.length || parts + l.ends[n] > out.length - at) throw new Error('assemble: the record does not fit');
      // Byte loops: most pieces and parts are a few bytes, where a copy call costs more than the copy.
      const t = l.tmpl;
      let o = at;
      let d = h.o;
      let prev = 0;
      for (let i = 0; i < n; i++) {
        for (let k = prev, e = l.ends[i]; k < e; k++) out[o++] = t[k];
        prev = l.ends[i];
        for (let e = d + lens[i]; d < e; d++) out[o++] = b[d];
      }
      for (let k = prev, e = l.ends[n]; k < e; k++) out[o++] = t[k];
      return o;
    },
  };
}

// The assembler in use: the addon, else the JavaScript one (and why); layouts are per assembler.
let assembler: { asm: Assembler; missing?: string } | undefined;

function loadAssembler(): Assembler {
  if (assembler === undefined) {
    const l = loadAddon<Assembler>('assemble');
    assembler = 'addon' in l ? { asm: l.addon } : { asm: jsAssembler(), missing: l.missing };
  }
  return assembler.asm;
}

/** Why bulk replies are assembled in JavaScript (the addon is missing), or undefined: for the start-up log. */
export function assemblerMissing(): string | undefined {
  loadAssembler();
  return assembler!.missing;
}

/**
 * Assembles bulk replies with `a` from now on (tests: the JavaScript assembler in a process that
 * has the addon), or with the default again when undefined. Compact records already made stay
 * valid: they do not depend on the assembler.
 */
export function useAssembler(a?: Assembler): void {
  assembler = a ? { asm: a } : undefined;
  layouts.clear();
}

/** A class's bulk member: the addon's id for its constant pieces, their length, and its variable parts. */
interface MemberLayout {
  id: number;
  constBytes: number;
  parts: (ref: string, r: Record<string, unknown>) => string[];
}
const layouts = new Map<string, MemberLayout>();

function memberLayout(cls: string): MemberLayout {
  let l = layouts.get(cls);
  if (l === undefined) {
    const def = classDef(cls);
    if (!def) throw new Error(`xmlrpc: unknown record class ${cls}`);
    const fields: FieldDef[] = visibleFields(def);
    const pieces = ['<member><name>'];
    let cur = '</name><value><struct>';
    for (const fd of fields) {
      const [o, c] = wrapOf(fd.ty);
      pieces.push(`${cur}<member><name>${esc(fd.name)}</name>${o}`);
      cur = `${c}</member>`;
    }
    pieces.push(`${cur}</struct></value></member>`);
    const tmpl = Buffer.from(pieces.join(''), 'utf8');
    const ends = new Uint32Array(pieces.length);
    let e = 0;
    pieces.forEach((p, i) => (ends[i] = e += Buffer.byteLength(p)));
    const inner = fields.map((fd) => innerFor(fd.ty));
    const parts = new Function(
      'e',
      'esc',
      `return function (ref, r) { return [esc(ref), ${fields.map((fd, i) => `e[${i}](r[${JSON.stringify(fd.name)}])`).join(', ')}]; };`,
    )(inner, esc) as MemberLayout['parts'];
    l = { id: loadAssembler().layout(tmpl, ends), constBytes: e, parts };
    layouts.set(cls, l);
  }
  return l;
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The variable parts of record `r` (of class cls, under `ref`) as a bulk reply's member, in an
 * ArrayBuffer of their own (no Buffer over it: a kept Buffer is one more object per record, and
 * one cut from Node's shared pool would keep the whole pool slab), and the member's length once
 * assembled (writeCompact).
 */
export function compactMember(cls: string, ref: string, r: Record<string, unknown>): { rec: ArrayBuffer; bytes: number } {
  const l = memberLayout(cls);
  const parts = l.parts(ref, r);
  const all = parts.join('');
  const ascii = !NON_ASCII.test(all);
  let head = 0;
  const lens = parts.map((p) => {
    const n = ascii ? p.length : Buffer.byteLength(p, 'utf8');
    head += n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
    return n;
  });
  const data = ascii ? all.length : Buffer.byteLength(all, 'utf8');
  // Written straight into the record's own ArrayBuffer (sizes are known exactly): the Buffer is a
  // view for writing only, the cache keeps the bare ArrayBuffer.
  const rec = new ArrayBuffer(head + data);
  const out = Buffer.from(rec);
  let o = 0;
  for (let n of lens) {
    while (n >= 0x80) {
      out[o++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[o++] = n;
  }
  o += out.write(all, o, ascii ? 'latin1' : 'utf8');
  if (o !== head + data) throw new Error(`compactMember: ${o} bytes written, ${head + data} expected`);
  return { rec, bytes: l.constBytes + data };
}

/** Writes the member compactMember made for cls into `out` at `at`; returns the offset after it. */
export function writeCompact(cls: string, rec: ArrayBuffer, out: Buffer, at: number): number {
  return loadAssembler().assemble(out, at, memberLayout(cls).id, rec);
}

function* bodyParts(v: unknown, ty: Ty): Generator<string | Buffer, void, void> {
  if (ty.k === 'map' && (v instanceof LazyMap || (v && typeof v === 'object' && Object.keys(v).length > SLICE))) {
    const entries = v instanceof LazyMap ? v.entries : Object.entries(v as Record<string, unknown>);
    const val = encoderFor(ty.val);
    yield '<value><struct>';
    yield* memberSlices(entries, memberHead, val, '</member>', encodedMember);
    yield '</struct></value>';
    return;
  }
  if (ty.k === 'set' && Array.isArray(v) && v.length > SLICE) {
    yield '<value><array><data>';
    for (let i = 0; i < v.length; i += SLICE) {
      let s = '';
      for (const x of v.slice(i, i + SLICE)) s += encode(x, ty.of);
      yield s;
    }
    yield '</data></array></value>';
    return;
  }
  yield encode(v, ty);
}

/** A Failure reply. */
export function failure(desc: string[]): string {
  let s = '<value><array><data>';
  for (const d of desc) s += encString(d);
  s += '</data></array></value>';
  return `${HEAD}<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>${s}</member></struct></value>${TAIL}`;
}

/** A value as the string a task's `result` holds (xapi: Xmlrpc.to_string, no declaration). */
export function valueString(v: unknown, ty: Ty): string {
  return encode(v, ty);
}
