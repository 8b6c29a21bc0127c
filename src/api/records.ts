// Records as clients see them: every visible field in datamodel order, computed relation
// sides filled in from the store's index. Built from the datamodel, never by hand.
import { classDef, manySide, visibleFields, type ClassDef } from '../../schema/index.js';
import type { Row, View } from '../store/store.js';

type Builder = (db: View, ref: string, row: Row) => Record<string, unknown>;
const builders = new Map<string, Builder>();
/** A derived field's value, computed when read. */
export type Deriver = (db: View, ref: string, row: Row) => unknown;
const derivers = new Map<string, Deriver>();

/** Registers how a `derived` field of the datamodel is computed (before any record of its class is built). */
export function registerDerived(cls: string, field: string, fn: Deriver): void {
  derivers.set(`${cls}.${field}`, fn);
  builders.delete(cls);
}

function deriver(cls: string, field: string): Deriver {
  const fn = derivers.get(`${cls}.${field}`);
  if (!fn) throw new Error(`datamodel: no deriver registered for ${cls}.${field}`);
  return fn;
}

/**
 * A record builder per class, compiled once: one object literal with every visible field in
 * datamodel order, so V8 gives all records of a class one shape (no per-field property adds).
 */
function builder(cls: string): Builder {
  let b = builders.get(cls);
  if (!b) {
    const def = classDef(cls) as ClassDef;
    const fns: Deriver[] = [];
    const props = visibleFields(def).map((fd) => {
      const key = JSON.stringify(fd.name);
      if (fd.derived) return `${key}: d[${fns.push(deriver(cls, fd.name)) - 1}](db, ref, row)`;
      return manySide(cls, fd.name) ? `${key}: db.children(cls, ref, ${key})` : `${key}: row[${key}]`;
    });
    b = new Function('cls', 'd', `return function (db, ref, row) { return { ${props.join(', ')} }; };`)(cls, fns) as Builder;
    builders.set(cls, b);
  }
  return b;
}

/** The full record of cls/ref from `row` (HANDLE_INVALID comes from the caller's get). */
export function recordOf(db: View, cls: string, ref: string, row: Row = db.get(cls, ref)): Record<string, unknown> {
  return builder(cls)(db, ref, row);
}

/** One visible field of cls/ref (computed ones from the relation index). */
export function fieldOf(db: View, cls: string, ref: string, name: string): unknown {
  const row = db.get(cls, ref);
  if (classDef(cls)?.fields.find((fd) => fd.name === name)?.derived) return deriver(cls, name)(db, ref, row);
  return manySide(cls, name) ? db.children(cls, ref, name) : row[name];
}

/** The value of a field in the string form get_all_records_where compares against. */
export function dbString(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `(${v.map((x) => `'${String(x)}'`).join(' ')})`;
  if (v && typeof v === 'object') return `(${Object.entries(v).map(([k, x]) => `('${k}' '${String(x)}')`).join(' ')})`;
  return String(v);
}
