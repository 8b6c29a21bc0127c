// Records as clients see them: every visible field in datamodel order, computed relation
// sides filled in from the store's index. Built from the datamodel, never by hand.
import { classDef, manySide, visibleFields, type ClassDef } from '../../schema/index.js';
import type { Row, View } from '../store/store.js';

interface Slot {
  name: string;
  computed: boolean;
}
const plans = new Map<string, Slot[]>();

function slots(cls: string): Slot[] {
  let s = plans.get(cls);
  if (!s) {
    const def = classDef(cls) as ClassDef;
    s = visibleFields(def).map((fd) => ({ name: fd.name, computed: !!manySide(cls, fd.name) }));
    plans.set(cls, s);
  }
  return s;
}

/** The full record of cls/ref from `row` (HANDLE_INVALID comes from the caller's get). */
export function recordOf(db: View, cls: string, ref: string, row: Row = db.get(cls, ref)): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of slots(cls)) out[s.name] = s.computed ? db.children(cls, ref, s.name) : row[s.name];
  return out;
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
