// Parameter checking and conversion, driven by the datamodel's types: what the wire
// decoded (XML-RPC typed/untyped, JSON) becomes the value an implementation expects, or
// FIELD_TYPE_ERROR [param] (see docs/compat.md for why not xapi's INTERNAL_ERROR).
import { enumDef, type Ty } from '../../schema/index.js';
import { ApiError } from '../errors.js';
import { WireDateTime, WireDouble, XML_ILLEGAL } from '../wire/values.js';
import { wireInt } from '../wire/xmlrpc.js';

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$/;

/** FIELD_TYPE_ERROR [name] (a function of its own: no closure per coerce call). */
function bad(name: string): never {
  throw new ApiError('FIELD_TYPE_ERROR', [name]);
}

/** Converts `v` to type `ty`; `name` names the parameter (or field) in the error. */
export function coerce(v: unknown, ty: Ty, name: string): unknown {
  switch (ty.k) {
    case 'string':
    case 'ref': {
      if (typeof v !== 'string') return bad(name);
      if (XML_ILLEGAL.test(v)) throw new ApiError('INVALID_VALUE', [name, 'string holds a character XML cannot carry']);
      return v;
    }
    case 'datetime':
      if (v instanceof WireDateTime) return v.value;
      if (typeof v === 'string') return v;
      return bad(name);
    case 'int':
      // 64-bit: a number while exact, a BigInt beyond 2^53 (XML-RPC ints arrive as text).
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'bigint') return v;
      if (typeof v === 'string' && INT_RE.test(v.trim())) {
        try {
          return wireInt(v.trim());
        } catch {
          return bad(name);
        }
      }
      return bad(name);
    case 'int32':
      return coerce(v, { k: 'int' }, name);
    case 'float':
      if (v instanceof WireDouble) return v.value;
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && NUM_RE.test(v.trim())) return Number(v.trim());
      return bad(name);
    case 'bool':
      if (typeof v === 'boolean') return v;
      return bad(name);
    case 'enum': {
      if (typeof v !== 'string') return bad(name);
      const e = enumDef(ty.name);
      const hit = e.caseSensitive ? e.values.find((x) => x === v) : e.values.find((x) => x.toLowerCase() === v.toLowerCase());
      if (hit === undefined) return bad(name);
      return hit;
    }
    case 'set': {
      if (!Array.isArray(v)) return bad(name);
      return v.map((x) => coerce(x, ty.of, name));
    }
    case 'map': {
      if (!v || typeof v !== 'object' || Array.isArray(v) || v instanceof WireDouble || v instanceof WireDateTime) return bad(name);
      const out: Record<string, unknown> = Object.create(null);
      for (const k of Object.keys(v)) {
        // Keys travel as strings whatever their declared type (ref/int keys are stringified).
        if (XML_ILLEGAL.test(k)) throw new ApiError('INVALID_VALUE', [name, 'key holds a character XML cannot carry']);
        out[k] = coerce((v as Record<string, unknown>)[k], ty.val, name);
      }
      return out;
    }
    case 'any':
      return v;
    case 'record':
    case 'void':
      return bad(name);
  }
}
