// JSON-RPC v1 and v2 as xapi speaks them on /jsonrpc (mirage/ocaml-rpc's jsonrpc.ml):
// one object per request, `id` required, v2 errors as {code: 1, message, data}.
import { LazyMap, Typed, type Ty } from '../../schema/index.js';
import { Encoded, ProtocolError, type RpcCall } from './values.js';
import { joinPieces, memberSlices } from './xmlrpc.js';

/** A parsed JSON-RPC request. */
export interface JsonCall extends RpcCall {
  version: 1 | 2;
  id: number | string;
}

/** Parses a JSON-RPC request; throws ProtocolError for a malformed envelope. */
export function parseJsonCall(body: string): JsonCall {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch (e) {
    throw new ProtocolError(`malformed JSON: ${(e as Error).message}`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new ProtocolError('a JSON-RPC request must be one object');
  const o = j as Record<string, unknown>;
  let version: 1 | 2;
  if (!('jsonrpc' in o)) version = 1;
  else if (o.jsonrpc === '2.0') version = 2;
  else throw new ProtocolError('unsupported jsonrpc version');
  if (typeof o.method !== 'string') throw new ProtocolError('method must be a string');
  const id = o.id;
  if (!(typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)))) {
    throw new ProtocolError('id must be an integer or a string');
  }
  let params: unknown[];
  if (version === 1) {
    if (!Array.isArray(o.params)) throw new ProtocolError('params must be an array');
    params = o.params;
  } else if (o.params === undefined || o.params === null) params = [];
  else if (Array.isArray(o.params)) params = o.params;
  else if (typeof o.params === 'object') params = [o.params];
  else throw new ProtocolError('params must be an array or an object');
  return { method: o.method, params: params.map(nullProto), version, id };
}

/** JSON objects become null-prototype maps so a `__proto__` key stays a key. */
function nullProto(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(nullProto);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(v)) o[k] = nullProto((v as Record<string, unknown>)[k]);
    return o;
  }
  return v;
}

// JSON has no 64-bit ints and JSON.stringify refuses BigInt: a BigInt goes out as a marked
// string that bigints() turns back into a bare number literal, exact to the last digit.
const BIG = '\u0000int:';
function replacer(this: unknown, _k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return BIG + v.toString();
  if (v instanceof Encoded) return v.plain();
  return v instanceof Typed ? (typeof v.v === 'bigint' ? BIG + v.v.toString() : v.v) : v;
}
const BIG_RE = /"\\u0000int:(-?\d+)"/g;
function bigints(json: string): string {
  return json.indexOf('\\u0000int:') < 0 ? json : json.replace(BIG_RE, '$1');
}

/** Serialises a result value (ints as JSON numbers, Typed unwrapped). */
export function stringifyValue(v: unknown, _ty: Ty): string {
  return v === undefined ? '""' : bigints(JSON.stringify(v, replacer));
}

/** A success reply as parts (big maps in slices; cached records, Encoded, as their bytes). */
export function* successParts(call: { version: 1 | 2; id: number | string }, v: unknown, ty: Ty): Generator<string | Buffer, void, void> {
  const id = JSON.stringify(call.id);
  const head = call.version === 2 ? '{"jsonrpc":"2.0","result":' : '{"result":';
  const tail = call.version === 2 ? `,"id":${id}}` : `,"error":null,"id":${id}}`;
  if (ty.k === 'map' && (v instanceof LazyMap || (v && typeof v === 'object' && Object.keys(v).length > 256))) {
    const entries = v instanceof LazyMap ? v.entries : Object.entries(v as Record<string, unknown>);
    yield head + '{';
    const key = (k: string, first: boolean) => (first ? '' : ',') + JSON.stringify(k) + ':';
    yield* memberSlices(
      entries,
      key,
      (x) => bigints(JSON.stringify(x, replacer)),
      '',
      (x, k, first, pieces) => {
        const h = key(k, first);
        const b = x.json();
        pieces.push(h, b);
        return Buffer.byteLength(h) + b.length;
      },
    );
    yield '}' + tail;
    return;
  }
  yield head + (ty.k === 'void' ? '""' : stringifyValue(v, ty)) + tail;
}

/** The success reply of a cached value (Encoded): its JSON bytes between the envelope's. */
export function successEncoded(call: { version: 1 | 2; id: number | string }, v: Encoded): Buffer {
  const id = JSON.stringify(call.id);
  const head = call.version === 2 ? '{"jsonrpc":"2.0","result":' : '{"result":';
  const tail = call.version === 2 ? `,"id":${id}}` : `,"error":null,"id":${id}}`;
  const body = v.json();
  return joinPieces([head, body, tail], Buffer.byteLength(head) + body.length + Buffer.byteLength(tail));
}

/** A success reply as one string (values that are not bulk). */
export function successString(call: { version: 1 | 2; id: number | string }, v: unknown, ty: Ty): string {
  const id = JSON.stringify(call.id);
  const body = ty.k === 'void' ? '""' : stringifyValue(v, ty);
  return call.version === 2 ? `{"jsonrpc":"2.0","result":${body},"id":${id}}` : `{"result":${body},"error":null,"id":${id}}`;
}

/** A failure reply. */
export function failure(call: { version: 1 | 2; id: number | string }, desc: string[]): string {
  const id = JSON.stringify(call.id);
  if (call.version === 2) {
    return `{"jsonrpc":"2.0","error":${JSON.stringify({ code: 1, message: desc[0], data: desc.slice(1) })},"id":${id}}`;
  }
  return `{"result":null,"error":${JSON.stringify(desc)},"id":${id}}`;
}
