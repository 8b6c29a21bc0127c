// get_all_records_where expressions, as xapi's db_filter grammar has them:
//   field "name" = "literal" | "literal" = field "name" | not e | e and e | e or e | (e) | true | false
// Unquoted field names (`name_label="x"`) are accepted too. Values compare against the
// database string form (bools "true"/"false", refs as strings).
import { ApiError } from '../errors.js';

/** A parsed expression. */
export type Expr = { k: 'true' } | { k: 'false' } | { k: 'not'; e: Expr } | { k: 'and' | 'or'; a: Expr; b: Expr } | { k: 'eq'; a: Operand; b: Operand };
type Operand = { field: string } | { lit: string };

type Tok = { t: 'str'; v: string } | { t: 'word'; v: string } | { t: '(' | ')' | '=' | '<>' };

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '=') {
      out.push({ t: c });
      i++;
      continue;
    }
    if (c === '<' && s[i + 1] === '>') {
      out.push({ t: '<>' });
      i += 2;
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        v += s[i++];
      }
      if (s[i] !== '"') throw new Error('unterminated string');
      i++;
      out.push({ t: 'str', v });
      continue;
    }
    const m = /^[A-Za-z0-9_\-.:/]+/.exec(s.slice(i));
    if (!m) throw new Error(`unexpected character '${c}'`);
    out.push({ t: 'word', v: m[0] });
    i += m[0].length;
  }
  return out;
}

/** Parses an expression; INVALID_VALUE [expr, reason] when it does not parse. */
export function parseWhere(src: string): Expr {
  let toks: Tok[];
  try {
    toks = lex(src);
  } catch (e) {
    throw new ApiError('INVALID_VALUE', [src, (e as Error).message]);
  }
  let pos = 0;
  const peek = () => toks[pos];
  const isWord = (w: string) => peek()?.t === 'word' && (peek() as { v: string }).v.toLowerCase() === w;
  const fail = (m: string): never => {
    throw new ApiError('INVALID_VALUE', [src, m]);
  };
  const operand = (): Operand => {
    const t = peek();
    if (!t) return fail('unexpected end');
    if (t.t === 'word' && t.v.toLowerCase() === 'field') {
      pos++;
      const n = peek();
      if (n?.t !== 'str' && n?.t !== 'word') return fail('field needs a name');
      pos++;
      return { field: (n as { v: string }).v };
    }
    if (t.t === 'str') {
      pos++;
      return { lit: t.v };
    }
    if (t.t === 'word') {
      pos++;
      return { field: t.v };
    }
    return fail(`unexpected '${t.t}'`);
  };
  const atom = (): Expr => {
    const t = peek();
    if (!t) return fail('unexpected end');
    if (t.t === '(') {
      pos++;
      const e = or();
      if (peek()?.t !== ')') fail("missing ')'");
      pos++;
      return e;
    }
    if (isWord('not')) {
      pos++;
      return { k: 'not', e: atom() };
    }
    if (isWord('true')) {
      pos++;
      return { k: 'true' };
    }
    if (isWord('false')) {
      pos++;
      return { k: 'false' };
    }
    const a = operand();
    const op = peek();
    if (op?.t !== '=' && op?.t !== '<>') return fail("expected '='");
    pos++;
    const b = operand();
    const eq: Expr = { k: 'eq', a, b };
    return op.t === '=' ? eq : { k: 'not', e: eq };
  };
  const and = (): Expr => {
    let e = atom();
    while (isWord('and')) {
      pos++;
      e = { k: 'and', a: e, b: atom() };
    }
    return e;
  };
  const or = (): Expr => {
    let e = and();
    while (isWord('or')) {
      pos++;
      e = { k: 'or', a: e, b: and() };
    }
    return e;
  };
  if (toks.length === 0) return { k: 'true' };
  const e = or();
  if (pos !== toks.length) fail('trailing input');
  return e;
}

/** Evaluates `e` against an object whose fields are read by `get` (undefined = no such field). */
export function evalWhere(e: Expr, get: (field: string) => string | undefined): boolean {
  switch (e.k) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evalWhere(e.e, get);
    case 'and':
      return evalWhere(e.a, get) && evalWhere(e.b, get);
    case 'or':
      return evalWhere(e.a, get) || evalWhere(e.b, get);
    case 'eq': {
      const v = (o: Operand) => ('lit' in o ? o.lit : get(o.field));
      const a = v(e.a);
      const b = v(e.b);
      return a !== undefined && b !== undefined && a === b;
    }
  }
}
