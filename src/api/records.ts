// Records as clients see them: every visible field in datamodel order, computed relation
// sides filled in from the store's index. Built from the datamodel, never by hand.
import { classDef, manySide, visibleFields, type ClassDef } from '../../schema/index.js';
import type { Row, View } from '../store/store.js';

type Builder = (db: View, ref: string, row: Row) => Record<string, unknown>;
const builders = new Map<string, Builder>();

/**
 * A record builder per class, compiled once: one object literal with every visible field in
 * datamodel order, so V8 gives all records of a class one shape (no per-field property adds).
 */
function builder(cls: string): Builder {
  let b = builders.get(cls);
  if (!b) {
    const def = classDef(cls) as ClassDef;
    const props = visibleFields(def).map((fd) => {
      const key = JSON.stringify(fd.name);
      return manySide(cls, fd.name) ? `${key}: db.children(cls, ref, ${key})` : `${key}: row[${key}]`;
    });
    b = new Function('cls', `return function (db, ref, row) { return { ${props.join(', ')} }; };`)(cls) as Builder;
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
  return manySide(cls, name) ? db.children(cls, ref, name) : row[name];
}

/** The value of a field in the string form get_all_records_where compares against. */
export function dbString(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `(${v.map((x) => `'${String(x)}'`).join(' ')})`;
  if (v && typeof v === 'object') return `(${Object.entries(v).map(([k, x]) => `('${k}' '${String(x)}')`).join(' ')})`;
  return String(v);
}
