// Records as clients see them: every visible field in datamodel order, computed relation
// sides filled in from the store's index. Built from the datamodel, never by hand.
import { T, classDef, manySide, visibleFields, type ClassDef, type Ty } from '../../schema/index.js';
import { Store, type Row, type View } from '../store/store.js';
import { Encoded, type SlicePiece } from '../wire/values.js';
import { SUCCESS_PREFIX_BYTES, SUCCESS_SUFFIX_BYTES, compactMember, joinPieces, memberHead, successString, writeCompact } from '../wire/xmlrpc.js';
import { stringifyValue } from '../wire/jsonrpc.js';

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
  if (v && typeof v === 'object')
    return `(${Object.entries(v)
      .map(([k, x]) => `('${k}' '${String(x)}')`)
      .join(' ')})`;
  return String(v);
}

// ---------------------------------------------------------------- the record cache
//
// A record's wire forms are encoded once per version of its object and kept beside its row:
// rows are immutable and replaced on every change, so the row itself is the version of the
// stored fields; when a computed relation side changes (the store tells: onRelationChange), the
// entry of the object's current row is dropped. Records with
// derived fields (session.rbac_permissions, computed from other objects) are never cached.
// A record is the same for every caller (no field depends on the session or its role), so the
// bytes are shared by all sessions.

const cacheable = new Map<string, boolean>();
const recordTy = new Map<string, Ty>();

/**
 * The UTF-8 bytes of `s` in a Buffer of their own: Buffer.from would cut a record of under 4 KiB
 * from an 8 KiB shared slab, and a kept record would keep the whole slab alive.
 */
function ownBytes(s: string): Buffer {
  const b = Buffer.allocUnsafeSlow(Buffer.byteLength(s, 'utf8'));
  b.write(s, 0, 'utf8');
  return b;
}

/**
 * One version of one record (its row, and its relation sides at version `rel`) with its wire
 * forms, each made when first asked for and kept: the whole XML-RPC reply (get_record), the
 * JSON, and the compact member of bulk XML-RPC replies (xmlrpc.compactMember: the variable parts
 * only, ~1/3 of the bytes). The cache entry is also the value the wire writes, so a bulk reply
 * allocates nothing per record.
 */
class CachedRecord extends Encoded implements SlicePiece {
  private xmlBytes?: Buffer;
  private jsonBytes?: Buffer;
  private compact?: ArrayBuffer;
  private compactBytes = 0;
  constructor(
    private readonly db: Store,
    private readonly cls: string,
    readonly ref: string,
    private readonly row: Row,
  ) {
    super();
  }
  xmlReply(): Buffer {
    return (this.xmlBytes ??= ownBytes(successString(this.plain(), recordTy.get(this.cls)!)));
  }
  xml(): Buffer {
    const r = this.xmlReply();
    return r.subarray(SUCCESS_PREFIX_BYTES, r.length - SUCCESS_SUFFIX_BYTES);
  }
  xmlMember(key: string): Buffer | SlicePiece {
    if (key === this.ref) return this;
    const v = this.xml();
    const head = memberHead(key);
    return joinPieces([head, v, '</member>'], Buffer.byteLength(head) + v.length + '</member>'.length);
  }
  get pieceBytes(): number {
    if (this.compact === undefined) {
      const { rec, bytes } = compactMember(this.cls, this.ref, this.plain());
      this.compact = rec;
      this.compactBytes = bytes;
    }
    return this.compactBytes;
  }
  writePiece(out: Buffer, at: number): number {
    if (this.compact === undefined) void this.pieceBytes;
    return writeCompact(this.cls, this.compact!, out, at);
  }
  json(): Buffer {
    return (this.jsonBytes ??= ownBytes(stringifyValue(this.plain(), recordTy.get(this.cls)!)));
  }
  plain(): Record<string, unknown> {
    return builder(this.cls)(this.db, this.ref, this.row);
  }
}
const entries = new WeakMap<Row, CachedRecord>();
/** Stores whose relation changes drop entries (hooked on first use). */
const hooked = new WeakSet<Store>();
function hook(db: Store): void {
  hooked.add(db);
  db.onRelationChange((cls, ref) => {
    const row = db.find(cls, ref);
    if (row) entries.delete(row);
  });
}

/** Whether cls's records may come from the cache (no derived fields), learnt once per class. */
function cacheableClass(cls: string): boolean {
  let ok = cacheable.get(cls);
  if (ok === undefined) {
    ok = !visibleFields(classDef(cls) as ClassDef).some((fd) => fd.derived);
    cacheable.set(cls, ok);
    recordTy.set(cls, T.record(cls));
  }
  return ok;
}

function entryOf(db: Store, cls: string, ref: string, row: Row): CachedRecord {
  let e = entries.get(row);
  if (e === undefined || e.ref !== ref) entries.set(row, (e = new CachedRecord(db, cls, ref, row)));
  return e;
}

/**
 * The record of cls/ref as get_record answers it: from the committed store, a CachedRecord
 * (the wire writes its cached bytes); inside a transaction, or for a class with derived
 * fields, the plain record.
 */
export function cachedRecord(db: View, cls: string, ref: string, row: Row = db.get(cls, ref)): unknown {
  if (!cacheableClass(cls) || !(db instanceof Store)) return recordOf(db, cls, ref, row);
  if (!hooked.has(db)) hook(db);
  return entryOf(db, cls, ref, row);
}

/** cachedRecord for many records of one class (a bulk reply): the class-level checks made once. */
export function recordReader(db: View, cls: string): (ref: string, row: Row) => unknown {
  if (!cacheableClass(cls) || !(db instanceof Store)) return (ref, row) => recordOf(db, cls, ref, row);
  if (!hooked.has(db)) hook(db);
  return (ref, row) => entryOf(db, cls, ref, row);
}
