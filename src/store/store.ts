// The transactional object store: SQLite (better-sqlite3, WAL) for durability, with the
// whole database mirrored in memory as xapi keeps its own, so reads never touch SQLite.
// Writes run one at a time inside a Txn overlay and reach SQLite and the mirror together
// at commit; a Txn that throws leaves both untouched.
import Database from 'better-sqlite3';
import { v4 as uuidv4 } from 'uuid';
import {
  classDef,
  manySide,
  oneSides,
  relations,
  storedClasses,
  storedFields,
  SCHEMA_VERSION,
  type ClassDef,
  type ClassName,
  type FieldDef,
  type RelationDef,
  type RowOf,
  type Ty,
} from '../../schema/index.js';
import { ApiError } from '../errors.js';
import { errorFor, isValid, otherConfigProblem } from '../../schema/values.js';
import type { ErrorCode } from '../../schema/errors.js';

/** The null reference. */
export const NULL_REF = 'OpaqueRef:NULL';
/** A stored row: the class's stored fields by wire name. Rows are never mutated in place. */
export type Row = Readonly<Record<string, unknown>>;
/**
 * A class-name argument: a literal must name a modelled class (a misspelt one does not compile);
 * a name computed at run time (generic code over every class) is any string.
 */
export type ClassArg<C extends string> = C & (string extends C ? string : ClassName);
/** The row type of class C (schema/model.ts RowOf); an untyped Row when C is only known at run time. */
export type RowFor<C extends string> = C extends ClassName ? RowOf<C> : Row;
/** Fields a create or set may give: any subset of the class's stored fields, with their types. */
export type Patch<C extends string> = { -readonly [K in keyof RowFor<C>]?: RowFor<C>[K] };

/** A fresh object reference. */
export function newRef(): string {
  return `OpaqueRef:${uuidv4()}`;
}
/** A fresh uuid. */
export function newUuid(): string {
  return uuidv4();
}

/** A filter of View.children on a field that never changes once an object exists (PIF.host). */
export interface ChildScope {
  field: string;
  value: string;
}

/** Reads shared by the committed store and a transaction's overlay. */
export interface View {
  /** The row of cls/ref, or undefined. */
  find<C extends string>(cls: ClassArg<C>, ref: string): RowFor<C> | undefined;
  /** The row of cls/ref, or HANDLE_INVALID [cls, ref]. */
  get<C extends string>(cls: ClassArg<C>, ref: string): RowFor<C>;
  /** All refs of a class. */
  refs(cls: string): string[];
  /** All [ref, row] pairs of a class. */
  rows<C extends string>(cls: ClassArg<C>): Iterable<[string, RowFor<C>]>;
  /**
   * The computed (many) side of a relation: refs of `many.cls`... pointing at ref; with `where`,
   * only those whose field `where.field` (one that never changes, such as PIF.host) is `where.value`.
   */
  children(cls: string, ref: string, field: string, where?: ChildScope): string[];
  /** The ref with this uuid, or UUID_INVALID [cls, uuid]. */
  byUuid(cls: string, uuid: string): string;
  /** Count of objects of a class. */
  count(cls: string): number;
}

interface ClassState {
  def: ClassDef;
  fields: FieldDef[];
  /** The stored fields by name (a create or set checks its keys here). */
  byName: Map<string, FieldDef>;
  rows: Map<string, Row>;
  uuids: Map<string, string>;
  /** [created, modified] generation of each live row. */
  gens: Map<string, [number, number]>;
  /** INSERT, whole-row UPDATE and DELETE, each prepared on first use: most classes are never written by most daemons. */
  insert: () => Database.Statement;
  update: () => Database.Statement;
  remove: () => Database.Statement;
  /** UPDATEs of only some columns, by the changed fields' indexes ('0,4'): a VIF move writes one column, not thirty. */
  partial: Map<string, Database.Statement>;
  /** A new row from its values in field order (see rowMaker). */
  make: (vals: readonly unknown[]) => Record<string, unknown>;
  /** The INSERT's values of a row: ref, created, modified, then each column (see sqlCodec). */
  insertValues: (row: Row, ref: string, gen: number) => unknown[];
  /** Pushes the columns of `row` that differ from `prev` onto `vals`; returns their indexes ('0,4'). */
  changedColumns: (prev: Row, row: Row, vals: unknown[]) => string;
  /** The relations whose one side is a field of this class: its index, and a reader of the field written for it. */
  links: { r: RelationDef; idx: Map<string, Set<string>>; target: (row: Row) => unknown }[];
}

/**
 * A row constructor per class: one object literal with every stored field, so all rows of a class
 * share one hidden class. Rows built by adding fields one by one (`row[name] = v`) fall into V8's
 * dictionary mode past a dozen fields: 10,000 PIF rows took 12.7 MB more heap that way.
 */
function rowMaker(fields: readonly FieldDef[]): (vals: readonly unknown[]) => Record<string, unknown> {
  if (fields.some((fd) => fd.name === '__proto__')) throw new Error('store: a field named __proto__'); // a literal would set the prototype
  const props = fields.map((fd, i) => `${JSON.stringify(fd.name)}: v[${i}]`).join(', ');
  return new Function('v', `return { ${props} };`) as (vals: readonly unknown[]) => Record<string, unknown>;
}

/**
 * The SQL side of a row, per class, as code written for its fields (as rowMaker): each field read
 * by its name, not through a loop over field names, which made every read a megamorphic keyed load
 * (the whole-row compare of 500 VIF rows per Bond.create). Values are encoded as toSql does.
 */
function sqlCodec(fields: readonly FieldDef[]): Pick<ClassState, 'insertValues' | 'changedColumns'> {
  const enc = (fd: FieldDef, v: string): string => {
    switch (fd.ty.k) {
      case 'bool':
        return `(${v} ? 1 : 0)`;
      case 'set':
        return `(${v} === EMPTY_SET ? '[]' : JSON.stringify(${v}))`;
      case 'map':
        return `(${v} === EMPTY_MAP ? '{}' : JSON.stringify(${v}))`;
      default:
        return v;
    }
  };
  const get = (o: string, fd: FieldDef) => `${o}[${JSON.stringify(fd.name)}]`;
  const insert = `(row, ref, gen) => [ref, gen, gen${fields.map((fd) => `, ${enc(fd, get('row', fd))}`).join('')}]`;
  const changed =
    `(prev, row, vals) => { let key = '', v;` +
    fields.map((fd, i) => `v = ${get('row', fd)}; if (v !== ${get('prev', fd)}) { key += ${JSON.stringify(`,${i}`)}; vals.push(${enc(fd, 'v')}); }`).join(' ') +
    ` return key.slice(1); }`;
  return new Function('EMPTY_SET', 'EMPTY_MAP', `return { insertValues: ${insert}, changedColumns: ${changed} };`)(EMPTY_SET, EMPTY_MAP);
}

/** A class's generated row code and field readers. */
interface Generated extends Pick<ClassState, 'make' | 'insertValues' | 'changedColumns'> {
  /** `row => row[name]`, written for the field. */
  fieldReader(name: string): (row: Row) => unknown;
}
const generatedCode = new Map<string, Generated>();
/**
 * The generated code of a class, shared by every Store in the process (a daemon has one; tests and
 * benchmarks open many, and fresh copies would each start cold in the interpreter).
 */
function generated(cls: string, fields: readonly FieldDef[]): Generated {
  const key = `${cls}:${fields.map((fd) => `${fd.name}/${fd.ty.k}`).join(',')}`;
  let g = generatedCode.get(key);
  if (!g) {
    const readers = new Map<string, (row: Row) => unknown>();
    const gen: Generated = {
      make: rowMaker(fields),
      ...sqlCodec(fields),
      fieldReader(name) {
        let f = readers.get(name);
        if (!f) readers.set(name, (f = new Function('row', `return row[${JSON.stringify(name)}];`) as (row: Row) => unknown));
        return f;
      },
    };
    generatedCode.set(key, (g = gen));
  }
  return g;
}

/** Distinct column sets a class keeps UPDATE statements for; past it, rows are written whole. */
const MAX_PARTIAL = 256;

/** One entry of the change log event.from reads. */
export interface Change {
  gen: number;
  cls: string;
  ref: string;
}
/** A deleted object as event.from needs it. */
export interface Tombstone {
  gen: number;
  created: number;
  uuid: string;
}

/** Encodes a value of type `ty` for an SQLite column. */
function toSql(ty: Ty, v: unknown): unknown {
  switch (ty.k) {
    case 'bool':
      return v ? 1 : 0;
    case 'set':
      return v === EMPTY_SET ? '[]' : JSON.stringify(v);
    case 'map':
      return v === EMPTY_MAP ? '{}' : JSON.stringify(v);
    default:
      return v;
  }
}
/** Shared, frozen empty map and set: most maps and sets of most rows are empty, and rows are never mutated. */
export const EMPTY_MAP: Readonly<Record<string, never>> = Object.freeze(Object.create(null));
export const EMPTY_SET: readonly never[] = Object.freeze([]);
/** Short strings repeat across rows (enums, OpaqueRef:NULL, epoch datetimes): keep one copy. */
const interned = new Map<string, string>();
function intern(s: string): string {
  if (s.length > 24) return s;
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size < 100_000) interned.set(s, s);
  return s;
}

/**
 * The value a row keeps for `v` of field fd: an empty map or set becomes the shared one (callers
 * write `Object.create(null)` and `[]`; each was a 180-byte dictionary object or an array per row:
 * 3.7 MB of 10,000 networks' and PIF_metrics' other_config after a first start).
 */
function kept(fd: FieldDef, v: unknown): unknown {
  if (fd.ty.k === 'set') return Array.isArray(v) && v.length === 0 ? EMPTY_SET : v;
  if (fd.ty.k !== 'map' || v === EMPTY_MAP || !v || typeof v !== 'object') return v;
  return internMap(v as Record<string, unknown>);
}

/**
 * Small string maps repeat across rows too (every NIC's PIF.properties is `gro: on`); each was a
 * dictionary-mode object of ~200 bytes (null-prototype objects always are). One frozen copy of
 * each (at most MAX_MAPS kept; key order is part of the identity, as it is of the encoding).
 */
const internedMaps = new Map<string, Readonly<Record<string, string>>>();
const MAX_MAPS = 4096;
function internMap(m: Record<string, unknown>): Readonly<Record<string, unknown>> {
  let n = 0;
  for (const k in m) {
    if (!Object.hasOwn(m, k)) continue;
    if (typeof m[k] !== 'string' || ++n > 8) return m;
  }
  if (n === 0) return EMPTY_MAP;
  const key = JSON.stringify(m);
  if (key.length > 200) return m;
  let hit = internedMaps.get(key);
  if (hit === undefined) {
    if (internedMaps.size >= MAX_MAPS) return m;
    hit = Object.freeze(Object.assign(Object.create(null), m) as Record<string, string>);
    internedMaps.set(key, hit);
  }
  return hit;
}

/** Decodes an SQLite column into a value of type `ty`. */
function fromSql(ty: Ty, v: unknown): unknown {
  switch (ty.k) {
    case 'bool':
      return v === 1 || v === 1n;
    case 'set':
      return v === '[]' ? EMPTY_SET : JSON.parse(String(v));
    case 'map':
      return v === '{}' ? EMPTY_MAP : internMap(Object.assign(Object.create(null), JSON.parse(String(v))));
    case 'int':
      return typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v; // BigInt beyond 2^53
    case 'float':
      return typeof v === 'bigint' ? Number(v) : v;
    case 'string':
    case 'enum':
    case 'ref':
    case 'datetime':
      return typeof v === 'string' ? intern(v) : v;
    default:
      return v;
  }
}
function sqlType(ty: Ty): string {
  switch (ty.k) {
    case 'bool':
    case 'int':
      return 'INTEGER';
    case 'float':
      return 'REAL';
    default:
      return 'TEXT';
  }
}
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

type Hook = (tx: Txn) => void | Promise<void>;

/**
 * Work a transaction needs done on another host before it commits (a pool master sending a
 * slave its new desired state). It runs outside the store's write lock, holding only the lock
 * of its key; if anything committed meanwhile, the transaction runs again and sends only what
 * changed (docs/pool.md "Locking").
 */
export interface RemoteCall {
  /** The lock it holds while it runs and until the transaction ends (a host ref). */
  key: string;
  /** What it sends: a re-run asking for the same payload does not call again. */
  payload: string;
  /** Makes the call; a throw fails the transaction. */
  run(): Promise<void>;
  /** Puts the other side back when the transaction fails after the call was made (or may have been). */
  undo?(): Promise<void>;
}

/** A transaction may run this many times while others commit during its remote calls. */
const MAX_REMOTE_ROUNDS = 20;

/**
 * The refs and uuids one write hands out, kept across its runs: a run after others committed
 * (below) creates its objects under the same names as the run before, so what it sends to other
 * hosts, and the lock keys it needs (a new host's ref), do not change merely because it ran again.
 */
class IdPool {
  private refs: string[] = [];
  private uuids: string[] = [];
  private ri = 0;
  private ui = 0;
  /** Starts a run: the same names again, in the same order. */
  rewind(): void {
    this.ri = this.ui = 0;
  }
  ref(): string {
    if (this.ri === this.refs.length) this.refs.push(newRef());
    return this.refs[this.ri++];
  }
  uuid(): string {
    if (this.ui === this.uuids.length) this.uuids.push(newUuid());
    return this.uuids[this.ui++];
  }
}

/** What a transaction read of the committed store (Store.write judges a concurrent commit against it). */
interface ReadSet {
  /** cls → refs read. */
  objs: Map<string, Set<string>>;
  /** Classes read whole (rows, refs, count, where). */
  classes: Set<string>;
  /** cls → uuids looked up. */
  uuids: Map<string, Set<string>>;
  /** relation → targets whose children were read: all of them (null), or only those in these scopes. */
  rels: Map<RelationDef, Map<string, ChildScope[] | null>>;
}

/** A child that joined or left a relation target's children at `gen`, with its rows before and after. */
interface RelChange {
  gen: number;
  before?: Row;
  after?: Row;
}

/**
 * What the commits made while writes wait on other hosts changed (Store.touchedSince), indexed by
 * what a transaction can have read: the last generation that changed each object, class and uuid,
 * and the children changes of each relation target. A waiting write looks up what it read (a
 * slave sync: a few thousand entries) instead of going through every commit made meanwhile (64
 * syncs at once: each went through up to 63 commits of ~8,000 changes). An entry older than the
 * oldest waiting write can no longer answer true (each asks about later generations): such
 * entries go when no write waits, or in a sweep once there are many.
 */
class RecentChanges {
  private objs = new Map<string, Map<string, number>>();
  private classes = new Map<string, number>();
  private uuids = new Map<string, Map<string, number>>();
  private rels = new Map<RelationDef, Map<string, RelChange[]>>();
  private entries = 0;
  private swept = 0;

  private static at<K>(m: Map<string, Map<K, number>>, cls: string, key: K, gen: number): number {
    let s = m.get(cls);
    if (!s) m.set(cls, (s = new Map()));
    const had = s.has(key);
    s.set(key, gen);
    return had ? 0 : 1;
  }

  /** Object cls/ref changed at `gen` from `before` to `after` (null: deleted). */
  add(gen: number, cls: string, ref: string, before: Row | undefined, after: Row | null): void {
    this.classes.set(cls, gen);
    this.entries += RecentChanges.at(this.objs, cls, ref, gen);
    const u0 = before?.uuid;
    const u1 = after?.uuid;
    if (typeof u0 === 'string') this.entries += RecentChanges.at(this.uuids, cls, u0, gen);
    if (typeof u1 === 'string' && u1 !== u0) this.entries += RecentChanges.at(this.uuids, cls, u1, gen);
    let c: RelChange | undefined;
    for (const r of oneSides(cls)) {
      const from = before?.[r.one.field];
      const to = after?.[r.one.field];
      if (from === to) continue;
      // NULL_REF is no relation target (the index leaves it out, so its children are always none):
      // a sync's ~1,000 new rows pointing nowhere made a change entry each for it.
      const f = typeof from === 'string' && from !== NULL_REF ? from : undefined;
      const t = typeof to === 'string' && to !== NULL_REF ? to : undefined;
      if (f === undefined && t === undefined) continue;
      let byTarget = this.rels.get(r);
      if (!byTarget) this.rels.set(r, (byTarget = new Map()));
      c ??= { gen, before, after: after ?? undefined };
      if (f !== undefined) this.relChange(byTarget, f, c);
      if (t !== undefined) this.relChange(byTarget, t, c);
    }
  }
  private relChange(byTarget: Map<string, RelChange[]>, target: string, c: RelChange): void {
    const l = byTarget.get(target);
    if (l) l.push(c);
    else byTarget.set(target, [c]);
    this.entries++;
  }

  /** True if a change after generation `gen` meets `reads`. */
  touchedSince(gen: number, reads: ReadSet): boolean {
    for (const cls of reads.classes) if ((this.classes.get(cls) ?? -1) > gen) return true;
    for (const [cls, refs] of reads.objs) {
      const m = this.objs.get(cls);
      if (m) for (const ref of refs) if ((m.get(ref) ?? -1) > gen) return true;
    }
    for (const [cls, us] of reads.uuids) {
      const m = this.uuids.get(cls);
      if (m) for (const u of us) if ((m.get(u) ?? -1) > gen) return true;
    }
    for (const [r, targets] of reads.rels) {
      const byTarget = this.rels.get(r);
      if (!byTarget) continue;
      for (const [target, scopes] of targets) {
        for (const x of byTarget.get(target) ?? []) {
          if (x.gen <= gen) continue;
          if (!scopes) return true;
          if (scopes.some((sc) => x.before?.[sc.field] === sc.value || x.after?.[sc.field] === sc.value)) return true;
        }
      }
    }
    return false;
  }

  /** No write waits any more (`oldest` Infinity), or one still waits from `oldest`: what no waiting write can ask about goes. */
  prune(oldest: number): void {
    if (oldest === Infinity) {
      if (this.entries) for (const m of [this.objs, this.classes, this.uuids, this.rels]) m.clear();
      this.entries = this.swept = 0;
      return;
    }
    // A sweep once the entries have doubled since the last one: linear in them, so amortised.
    if (this.entries < Math.max(100_000, 2 * this.swept)) return;
    let n = 0;
    for (const idx of [this.objs, this.uuids]) {
      for (const m of idx.values()) for (const [k, g] of m) if (g <= oldest) m.delete(k);
      for (const m of idx.values()) n += m.size;
    }
    for (const [c, g] of this.classes) if (g <= oldest) this.classes.delete(c);
    for (const byTarget of this.rels.values()) {
      for (const [t, l] of byTarget) {
        const keep = l.filter((x) => x.gen > oldest);
        if (keep.length) byTarget.set(t, keep);
        else byTarget.delete(t);
        n += keep.length;
      }
    }
    this.entries = this.swept = n;
  }
}

/** Named locks, taken in sorted order in one sweep (no two holders can wait for each other). */
class KeyLocks {
  private tails = new Map<string, Promise<void>>();
  /** Waits for every key; the result releases them all. */
  async acquire(keys: string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const k of [...new Set(keys)].sort()) {
      const prev = this.tails.get(k) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => (release = r));
      const tail = prev.then(() => mine);
      this.tails.set(k, tail);
      await prev;
      releases.push(() => {
        release();
        if (this.tails.get(k) === tail) this.tails.delete(k);
      });
    }
    return () => releases.forEach((r) => r());
  }
}

/** The remote calls of one write: which keys it holds, what it sent under them, how to undo it. */
class RemotePhase {
  readonly sent = new Map<string, string>();
  private undos = new Map<string, () => Promise<void>>();
  private held = new Set<string>();
  private unlock?: () => void;

  constructor(private locks: KeyLocks) {}

  /** True if `tx` needs a call or a key it does not have yet. */
  pending(tx: Txn): boolean {
    for (const c of tx.remote.values()) if (!this.held.has(c.key) || this.sent.get(c.key) !== c.payload) return true;
    return false;
  }

  /** Takes the keys `tx` needs and makes its calls (in parallel); the first failure is thrown. */
  async run(tx: Txn): Promise<void> {
    const calls = [...tx.remote.values()];
    if (calls.some((c) => !this.held.has(c.key))) {
      // All keys again in one sorted sweep; what was sent under a key let go may have been overwritten since, so it goes again.
      this.unlock?.();
      this.unlock = undefined;
      const keys = [...new Set([...this.held, ...calls.map((c) => c.key)])];
      this.sent.clear();
      this.unlock = await this.locks.acquire(keys);
      this.held = new Set(keys);
    }
    const todo = calls.filter((c) => this.sent.get(c.key) !== c.payload);
    const results = await Promise.allSettled(
      todo.map(async (c) => {
        if (c.undo) this.undos.set(c.key, c.undo);
        this.sent.delete(c.key);
        await c.run();
        this.sent.set(c.key, c.payload);
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** The transaction failed: every key called puts its other side back. */
  async undo(): Promise<void> {
    await Promise.all([...this.undos.values()].map((u) => u().catch(() => undefined)));
  }

  release(): void {
    this.unlock?.();
    this.unlock = undefined;
  }
}

/** The object store. */
export class Store implements View {
  readonly db: Database.Database;
  private classes = new Map<string, ClassState>();
  /** Committed relation index: relation key → target ref → source refs. */
  private rel = new Map<RelationDef, Map<string, Set<string>>>();
  generation = 0;
  /** Changes in generation order (compacted from time to time). */
  log: Change[] = [];
  tombstones = new Map<string, Tombstone>();
  /**
   * Tombstones (`cls/ref`) of objects that are alive: a ref deleted and created again before the
   * last start (its _deleted row stays). Only such a rewritten row has a tombstone to drop; normally empty.
   */
  private liveTombs = new Set<string>();
  /** Tokens older than this lost their deletes to pruning: EVENTS_LOST. */
  minValidGen = 0;
  private lockTail: Promise<void> = Promise.resolve();
  private precommit: Hook[] = [];
  private prepare: Hook[] = [];
  private keyLocks = new KeyLocks();
  /** Writes run again because a commit made while they called other hosts changed what they read (tests, benchmarks). */
  remoteReruns = 0;
  /** Writes that called other hosts and committed without running again: what others committed meanwhile did not touch what they read. */
  remoteClean = 0;
  /** Start generations of the writes now calling other hosts (ascending), and the commits made since the oldest of them. */
  private waiting: number[] = [];
  private recent = new RecentChanges();
  /**
   * Told (class, ref) whenever one of that object's computed relation sides is touched (a
   * network's PIFs when a PIF's `network` changes, or their order when a PIF is rewritten): the
   * network's own row is not rewritten then, so caches of its record (src/api/records.ts) drop it.
   */
  private relListeners: ((cls: string, ref: string) => void)[] = [];
  private listeners: ((gen: number, changes: Change[]) => void)[] = [];
  private meta: { get: Database.Statement; set: Database.Statement };
  private tombIns: Database.Statement;
  private tombDel: Database.Statement;

  /** Opens (creating or migrating) the database at `file` (':memory:' for tests). */
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: every commit's WAL is synced before the call returns. With NORMAL a commit the caller
    // was told about (and the journal entry written before the host is touched) could be lost
    // to a power failure or kernel crash; a daemon crash lost nothing either way. Cost measured
    // on the development VM's disk: ~2 ms per commit (docs/performance.md).
    this.db.pragma('synchronous = FULL');
    // SQLite's own default page cache (2 MiB; better-sqlite3 builds with 16 MiB): rows are read
    // once at start-up, from then on the mirror answers and SQLite only writes.
    this.db.pragma('cache_size = -2000');
    this.db.exec('CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS _deleted (cls TEXT NOT NULL, ref TEXT NOT NULL, uuid TEXT NOT NULL, created INTEGER NOT NULL, deleted INTEGER NOT NULL, PRIMARY KEY (cls, ref))',
    );
    this.meta = {
      get: this.db.prepare('SELECT value FROM _meta WHERE key = ?'),
      set: this.db.prepare('INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)'),
    };
    this.tombIns = this.db.prepare('INSERT OR REPLACE INTO _deleted (cls, ref, uuid, created, deleted) VALUES (?, ?, ?, ?, ?)');
    this.tombDel = this.db.prepare('DELETE FROM _deleted WHERE deleted <= ?');
    const ver = this.metaGet('schema_version');
    if (ver !== undefined && Number(ver) > SCHEMA_VERSION) {
      throw new Error(`database schema version ${ver} is newer than this daemon's ${SCHEMA_VERSION}`);
    }
    for (const r of relations) this.rel.set(r, new Map());
    for (const def of storedClasses()) this.openClass(def);
    this.metaSet('schema_version', String(SCHEMA_VERSION));
    this.generation = Number(this.metaGet('generation') ?? 0);
    this.minValidGen = Number(this.metaGet('min_valid_generation') ?? 0);
    for (const t of this.db.prepare('SELECT cls, ref, uuid, created, deleted FROM _deleted').all() as {
      cls: string;
      ref: string;
      uuid: string;
      created: number;
      deleted: number;
    }[]) {
      this.tombstones.set(`${t.cls}/${t.ref}`, { gen: Number(t.deleted), created: Number(t.created), uuid: t.uuid });
      if (this.classes.get(t.cls)?.rows.has(t.ref)) this.liveTombs.add(`${t.cls}/${t.ref}`);
    }
    this.rebuildLog();
  }

  private metaGet(key: string): string | undefined {
    return (this.meta.get.get(key) as { value: string } | undefined)?.value;
  }
  private metaSet(key: string, value: string): void {
    this.meta.set.run(key, value);
  }

  /** Creates the class's table, adds columns for fields new to this version, loads its rows. */
  private openClass(def: ClassDef): void {
    const fields = storedFields(def);
    const cols = fields.map((fd) => `${q(fd.name)} ${sqlType(fd.ty)}`);
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${q(def.name)} (_ref TEXT PRIMARY KEY, _created INTEGER NOT NULL, _modified INTEGER NOT NULL${cols.length ? ', ' + cols.join(', ') : ''})`,
    );
    const have = new Set((this.db.prepare(`PRAGMA table_info(${q(def.name)})`).all() as { name: string }[]).map((c) => c.name));
    for (const fd of fields) {
      if (have.has(fd.name)) continue;
      // Migration by addition: rows written by an older version get the field's default.
      this.db.exec(`ALTER TABLE ${q(def.name)} ADD COLUMN ${q(fd.name)} ${sqlType(fd.ty)}`);
      const dv = toSql(fd.ty, defaultOf(fd));
      this.db.prepare(`UPDATE ${q(def.name)} SET ${q(fd.name)} = ?`).run(dv);
    }
    const names = ['_ref', '_created', '_modified', ...fields.map((fd) => fd.name)];
    const code = generated(def.name, fields);
    const db = this.db;
    const lazy = (sql: string) => {
      let stmt: Database.Statement | undefined;
      return () => (stmt ??= db.prepare(sql));
    };
    const st: ClassState = {
      def,
      fields,
      byName: new Map(fields.map((fd) => [fd.name, fd])),
      rows: new Map(),
      uuids: new Map(),
      gens: new Map(),
      insert: lazy(`INSERT INTO ${q(def.name)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`),
      // An UPDATE in place is cheaper than REPLACE's delete + insert for the common modify.
      update: lazy(`UPDATE ${q(def.name)} SET _modified = ?${fields.map((fd) => `, ${q(fd.name)} = ?`).join('')} WHERE _ref = ?`),
      remove: lazy(`DELETE FROM ${q(def.name)} WHERE _ref = ?`),
      partial: new Map(),
      make: code.make,
      insertValues: code.insertValues,
      changedColumns: code.changedColumns,
      links: oneSides(def.name).map((r) => ({ r, idx: this.rel.get(r)!, target: code.fieldReader(r.one.field) })),
    };
    this.classes.set(def.name, st);
    // Raw rows (arrays) make less garbage than objects while loading a large database.
    // safeIntegers: 64-bit ints come back exact (fromSql keeps a BigInt only beyond 2^53).
    const load = this.db
      .prepare(`SELECT ${names.map(q).join(', ')} FROM ${q(def.name)}`)
      .raw(true)
      .safeIntegers(true);
    for (const raw of load.iterate() as Iterable<unknown[]>) {
      const vals = new Array<unknown>(fields.length);
      for (let i = 0; i < fields.length; i++) vals[i] = fromSql(fields[i].ty, raw[i + 3]);
      const row = st.make(vals);
      const ref = String(raw[0]);
      st.rows.set(ref, row);
      if (typeof row.uuid === 'string') st.uuids.set(row.uuid, ref);
      st.gens.set(ref, [Number(raw[1]), Number(raw[2])]);
    }
  }

  /** Rebuilds the relation index and the change log from the rows (start-up, compaction). */
  private rebuildLog(): void {
    for (const idx of this.rel.values()) idx.clear();
    const log: Change[] = [];
    for (const [cls, st] of this.classes) {
      for (const [ref, row] of st.rows) {
        this.indexRow(st, ref, undefined, row);
        log.push({ gen: st.gens.get(ref)![1], cls, ref });
      }
    }
    for (const [key, t] of this.tombstones) {
      const i = key.indexOf('/');
      log.push({ gen: t.gen, cls: key.slice(0, i), ref: key.slice(i + 1) });
    }
    log.sort((a, b) => a.gen - b.gen);
    this.log = log;
  }

  /**
   * Moves `ref` in the relation indexes from the targets of `before` to those of `after` (either
   * may be absent: a create, a delete), telling the relation listeners once per target touched.
   */
  private indexRow(st: ClassState, ref: string, before: Row | undefined, after: Row | undefined): void {
    for (const { r, idx, target: field } of st.links) {
      const t0 = before && field(before);
      const t1 = after && field(after);
      const from = typeof t0 === 'string' && t0 !== NULL_REF ? t0 : undefined;
      const to = typeof t1 === 'string' && t1 !== NULL_REF ? t1 : undefined;
      if (from !== undefined) {
        const s = idx.get(from);
        if (s) {
          s.delete(ref);
          if (s.size === 0 && from !== to) idx.delete(from);
        }
        // Any change to a set (its order too: a rewritten row's ref moves last) changes the target's record.
        if (from !== to) for (const l of this.relListeners) l(r.many.cls, from);
      }
      if (to !== undefined) {
        let s = idx.get(to);
        if (!s) idx.set(to, (s = new Set()));
        s.add(ref);
        for (const l of this.relListeners) l(r.many.cls, to);
      }
    }
  }

  /** The per-class state; throws for a class that is not stored. */
  cls(name: string): ClassState {
    const st = this.classes.get(name);
    if (!st) throw new Error(`store: ${name} is not a stored class`);
    return st;
  }

  find<C extends string>(cls: ClassArg<C>, ref: string): RowFor<C> | undefined {
    return this.cls(cls).rows.get(ref) as RowFor<C> | undefined;
  }
  get<C extends string>(cls: ClassArg<C>, ref: string): RowFor<C> {
    const r = this.find(cls, ref);
    if (!r) throw new ApiError('HANDLE_INVALID', [cls, ref]);
    return r;
  }
  refs(cls: string): string[] {
    return [...this.cls(cls).rows.keys()];
  }
  rows<C extends string>(cls: ClassArg<C>): Iterable<[string, RowFor<C>]> {
    return this.cls(cls).rows.entries() as Iterable<[string, RowFor<C>]>;
  }
  count(cls: string): number {
    return this.cls(cls).rows.size;
  }
  children(cls: string, ref: string, field: string, where?: ChildScope): string[] {
    const r = manySide(cls, field);
    if (!r) throw new Error(`store: ${cls}.${field} is not a computed relation`);
    const s = this.rel.get(r)!.get(ref);
    if (!s) return [];
    if (!where) return [...s];
    const rows = this.cls(r.one.cls).rows;
    const out: string[] = [];
    for (const c of s) if (rows.get(c)?.[where.field] === where.value) out.push(c);
    return out;
  }
  /** Committed children as a set, for the overlay's adjustments. */
  childSet(r: RelationDef, ref: string): ReadonlySet<string> | undefined {
    return this.rel.get(r)!.get(ref);
  }
  byUuid(cls: string, uuid: string): string {
    const ref = this.cls(cls).uuids.get(uuid);
    if (!ref) throw new ApiError('UUID_INVALID', [cls, uuid]);
    return ref;
  }
  /** Registers a listener told of every object whose computed relation sides are touched (see relListeners). */
  onRelationChange(l: (cls: string, ref: string) => void): void {
    this.relListeners.push(l);
  }

  /** [created, modified] generations of a live object. */
  gens(cls: string, ref: string): [number, number] | undefined {
    return this.cls(cls).gens.get(ref);
  }

  /** Registers a hook run at the end of every write transaction, before commit (the reconciler). */
  onPrecommit(h: Hook): void {
    this.precommit.push(h);
  }
  /**
   * Registers a hook run at the end of every write transaction before the precommit hooks: it
   * may refuse the transaction or ask for remote calls (`tx.remote`), made outside the write lock.
   */
  onPrepare(h: Hook): void {
    this.prepare.push(h);
  }
  /** Registers a listener told of every commit (events). */
  onCommit(l: (gen: number, changes: Change[]) => void): void {
    this.listeners.push(l);
  }

  /** Waits for the write lock; the result releases it. */
  private async lock(): Promise<() => void> {
    const prev = this.lockTail;
    let release!: () => void;
    this.lockTail = new Promise<void>((r) => (release = r));
    await prev;
    return release;
  }

  /**
   * Runs `fn` as one transaction, serialised with every other write. A transaction that needs
   * calls to other hosts (`tx.remote`, asked by a prepare hook) lets the write lock go while they
   * run, holding only their keys; if anything committed meanwhile, `fn` runs again on the new
   * state (it must depend only on the store and its arguments) and only what it asks differently
   * is sent again. The precommit hooks (the local reconciler) and the commit then run under the lock.
   */
  async write<T>(fn: (tx: Txn) => T | Promise<T>): Promise<T> {
    let unlock: (() => void) | undefined = await this.lock();
    const remote = new RemotePhase(this.keyLocks);
    const ids = new IdPool();
    let tx: Txn | undefined;
    try {
      for (let round = 0; ; round++) {
        ids.rewind();
        tx = new Txn(this, remote.sent, ids);
        const result = await fn(tx);
        if (tx.dirty()) for (const h of this.prepare) await h(tx);
        if (remote.pending(tx)) {
          if (round >= MAX_REMOTE_ROUNDS) throw new ApiError('INTERNAL_ERROR', ['the transaction kept meeting concurrent changes while it called other hosts']);
          const gen = this.generation;
          this.startWaiting(gen);
          let stale: boolean;
          try {
            unlock();
            unlock = undefined;
            await remote.run(tx);
            unlock = await this.lock();
            // Only a commit that touched what this run read makes it run again (a slave's start-up sync is
            // not disturbed by another slave's): the overlay then still holds what fn would write now.
            stale = this.generation !== gen && this.touchedSince(gen, tx.reads);
          } finally {
            this.stopWaiting(gen);
          }
          if (stale) {
            this.remoteReruns++;
            continue; // others committed: run again on their state
          }
          if (this.generation !== gen) this.remoteClean++;
        }
        if (tx.dirty()) for (const h of this.precommit) await h(tx);
        this.commit(tx);
        for (const f of tx.after) {
          try {
            f();
          } catch {
            /* after-commit hooks must not undo a commit */
          }
        }
        return result;
      }
    } catch (e) {
      for (const f of tx?.undo.reverse() ?? []) {
        try {
          await f();
        } catch {
          /* best effort: the backend reports its own failures */
        }
      }
      // Other hosts are put back without the write lock, under their own keys.
      unlock?.();
      unlock = undefined;
      await remote.undo();
      throw e;
    } finally {
      unlock?.();
      remote.release();
    }
  }

  private startWaiting(gen: number): void {
    let i = this.waiting.length;
    while (i > 0 && this.waiting[i - 1] > gen) i--;
    this.waiting.splice(i, 0, gen);
  }
  private stopWaiting(gen: number): void {
    this.waiting.splice(this.waiting.indexOf(gen), 1);
    // Changes no waiting write can ask about any more go.
    this.recent.prune(this.waiting.length ? this.waiting[0] : Infinity);
  }

  /** True if a commit after generation `gen` changed an object, class, uuid or relation target in `reads`. */
  private touchedSince(gen: number, reads: ReadSet): boolean {
    return this.recent.touchedSince(gen, reads);
  }

  /**
   * Commits `fn`'s new objects at once, without waiting for the write lock and without the
   * precommit hooks. Only for objects no other transaction can hold and no host state depends
   * on: an Async call's new task, so that the task ref comes back while a long write runs (xapi
   * returns it at once too). Changing or deleting an existing object here is refused.
   */
  createNow<T>(fn: (tx: Txn) => T): T {
    const tx = new Txn(this);
    const result = fn(tx);
    for (const [cls, m] of tx.overlay) {
      for (const [ref, row] of m) {
        if (row === null || this.cls(cls).gens.has(ref)) throw new Error(`store: createNow may only create (${cls} ${ref})`);
      }
    }
    this.commit(tx);
    return result;
  }

  /**
   * Changes fields of one object at once, without the write lock or the precommit hooks: only
   * for a flag its owner reads when its turn comes (task.cancel marking a queued task). A
   * transaction already holding the object keeps its own copy and wins at its commit.
   */
  setNow<C extends string>(cls: ClassArg<C>, ref: string, patch: Patch<C>): void {
    const tx = new Txn(this);
    tx.set(cls, ref, patch);
    this.commit(tx);
  }

  /** Writes the overlay to SQLite and to the mirror in one step. */
  private commit(tx: Txn): void {
    if (!tx.dirty()) return;
    const gen = this.generation + 1;
    const changes: Change[] = [];
    const apply = this.db.transaction(() => {
      for (const [cls, m] of tx.overlay) {
        const st = this.cls(cls);
        for (const [ref, row] of m) {
          const old = st.gens.get(ref);
          if (row === null) {
            if (!old) continue; // created and deleted inside the transaction
            st.remove().run(ref);
            const uuid = String(st.rows.get(ref)?.uuid ?? '');
            this.tombIns.run(cls, ref, uuid, old[0], gen);
          } else if (old) {
            this.update(st, ref, st.rows.get(ref)!, row, gen);
          } else {
            // One array of the bound values: a spread call of ~40 arguments cost more than the insert's own binding.
            st.insert().run(st.insertValues(row, ref, gen));
          }
          changes.push({ gen, cls, ref });
        }
      }
      this.metaSet('generation', String(gen));
      for (const f of tx.inCommit) f();
    });
    apply();
    // The mirror follows only once SQLite has committed.
    this.generation = gen;
    // While writes wait on other hosts, what this commit touches is kept for them to judge (touchedSince).
    const rec = this.waiting.length > 0;
    for (const [cls, m] of tx.overlay) {
      const st = this.cls(cls);
      for (const [ref, row] of m) {
        const oldRow = st.rows.get(ref);
        const old = st.gens.get(ref);
        if (rec && (old || row)) this.recent.add(gen, cls, ref, oldRow, row);
        // A rewritten row keeps its uuid almost always: its entry stays (the map is only looked up, never listed).
        const sameUuid = oldRow !== undefined && row !== null && oldRow.uuid === row.uuid && st.uuids.get(oldRow.uuid as string) === ref;
        this.indexRow(st, ref, oldRow, row ?? undefined);
        if (oldRow && typeof oldRow.uuid === 'string' && !sameUuid) st.uuids.delete(oldRow.uuid);
        if (row === null) {
          if (!old) continue;
          st.rows.delete(ref);
          st.gens.delete(ref);
          this.tombstones.set(`${cls}/${ref}`, { gen, created: old[0], uuid: String(oldRow?.uuid ?? '') });
        } else {
          st.rows.set(ref, row);
          st.gens.set(ref, [old ? old[0] : gen, gen]);
          if (typeof row.uuid === 'string' && !sameUuid) st.uuids.set(row.uuid, ref);
          // A created object drops a tombstone of its ref; a rewritten one has none, unless it is in liveTombs
          // (no key string per rewritten row: 500 per Bond.create).
          if (!old) this.tombstones.delete(`${cls}/${ref}`);
          else if (this.liveTombs.size && this.liveTombs.delete(`${cls}/${ref}`)) this.tombstones.delete(`${cls}/${ref}`);
        }
      }
    }
    this.log.push(...changes);
    this.compact();
    for (const l of this.listeners) l(gen, changes);
  }

  /**
   * Writes a modified row: only the columns whose value changed since the committed row (rows are
   * never mutated, so a field not set by the transaction is the same object), with a prepared
   * UPDATE per column set.
   */
  private update(st: ClassState, ref: string, prev: Row, row: Row, gen: number): void {
    const fields = st.fields;
    const vals: unknown[] = [gen];
    const key = st.changedColumns(prev, row, vals);
    let stmt = st.partial.get(key);
    if (!stmt) {
      if (st.partial.size >= MAX_PARTIAL) {
        st.update().run(gen, ...fields.map((fd) => toSql(fd.ty, row[fd.name])), ref);
        return;
      }
      const cols = key
        ? key
            .split(',')
            .map((i) => `, ${q(fields[Number(i)].name)} = ?`)
            .join('')
        : '';
      stmt = this.db.prepare(`UPDATE ${q(st.def.name)} SET _modified = ?${cols} WHERE _ref = ?`);
      st.partial.set(key, stmt);
    }
    vals.push(ref);
    stmt.run(vals);
  }

  /** Keeps the change log and the tombstones bounded. */
  private compact(): void {
    let live = 0;
    for (const st of this.classes.values()) live += st.rows.size;
    if (this.tombstones.size > 20000) {
      const gens = [...this.tombstones.values()].map((t) => t.gen).sort((a, b) => a - b);
      const cut = gens[gens.length - 10000];
      for (const [k, t] of this.tombstones) if (t.gen < cut) this.tombstones.delete(k);
      this.tombDel.run(cut - 1);
      this.minValidGen = cut - 1;
      this.metaSet('min_valid_generation', String(this.minValidGen));
      this.rebuildLog();
    } else if (this.log.length > 4 * (live + this.tombstones.size) + 1000) {
      this.rebuildLog();
    }
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}

/** The default of a field: its datamodel default, or the zero of its type. */
export function defaultOf(fd: FieldDef): unknown {
  if (fd.default !== undefined) {
    const d = fd.default;
    if (Array.isArray(d) && d.length === 0) return EMPTY_SET;
    if (d && typeof d === 'object' && !Array.isArray(d) && Object.keys(d).length === 0) return EMPTY_MAP;
    return clone(d);
  }
  switch (fd.ty.k) {
    case 'string':
    case 'enum':
      return '';
    case 'int':
    case 'float':
      return 0;
    case 'bool':
      return false;
    case 'datetime':
      return '19700101T00:00:00Z';
    case 'ref':
      return NULL_REF;
    case 'set':
      return EMPTY_SET;
    case 'map':
      return EMPTY_MAP;
    default:
      return '';
  }
}

/** A deep copy of a plain value (maps keep a null prototype so `__proto__` is just a key). */
export function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as unknown as T;
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(v)) o[k] = clone((v as Record<string, unknown>)[k]);
    return o as T;
  }
  return v;
}

/**
 * Per-transaction state of the layers above the store, typed: each layer declares the fields it
 * owns by merging into this interface where it is defined (the reconciler: culprit, dryRun; the
 * pool forwarder: localWrite, forceSync). A savepoint restores it with the rows.
 */
export interface TxContext {
  /** The wire name of the call running the transaction ('' outside a call: start-up, monitors). */
  method: string;
}

/** Txn.savepoint's result: calling it puts the transaction back; `release()` once it will not be. */
export type Savepoint = (() => void) & { release(): void };

/** A write transaction: an overlay of changed rows over the committed store. */
export class Txn implements View {
  /** cls → ref → new row, or null for deleted. */
  readonly overlay = new Map<string, Map<string, Row | null>>();
  /** Run after a successful commit. */
  readonly after: (() => void)[] = [];
  /** Run inside the commit's SQLite transaction (their writes commit or roll back with it: the reconciler's journal). */
  readonly inCommit: (() => void)[] = [];
  /** Run, in reverse, when the transaction fails (undo host-side work). */
  readonly undo: (() => void | Promise<void>)[] = [];
  /** What the layers above know of this transaction, typed (TxContext). */
  readonly ctx: TxContext = { method: '' };
  /** Calls to other hosts this transaction needs before it commits, by key (Store.write). */
  readonly remote = new Map<string, RemoteCall>();

  /** What this transaction read of the committed store (Store.write). */
  readonly reads: ReadSet = { objs: new Map(), classes: new Set(), uuids: new Map(), rels: new Map() };

  /** `sent`: what earlier runs of the same write already sent, by key; `ids`: the names earlier runs handed out. */
  constructor(
    readonly store: Store,
    readonly sent: ReadonlyMap<string, string> = new Map(),
    private ids = new IdPool(),
  ) {}

  /** A fresh object reference (the same one again when the write runs again). */
  newRef(): string {
    return this.ids.ref();
  }
  /** A fresh uuid (the same one again when the write runs again). */
  newUuid(): string {
    return this.ids.uuid();
  }
  private readObj(cls: string, ref: string): void {
    let s = this.reads.objs.get(cls);
    if (!s) this.reads.objs.set(cls, (s = new Set()));
    s.add(ref);
  }

  /** True once anything was written. */
  dirty(): boolean {
    for (const m of this.overlay.values()) if (m.size) return true;
    return false;
  }

  private ov(cls: string): Map<string, Row | null> {
    let m = this.overlay.get(cls);
    if (!m) {
      this.store.cls(cls); // throws for unknown classes
      this.overlay.set(cls, (m = new Map()));
    }
    return m;
  }

  /** relation key → target ref → source ref → whether the source points at the target now. */
  private relDelta = new Map<RelationDef, Map<string, Map<string, boolean>>>();

  /** Once a savepoint was taken: how to undo each change to the overlay and the relation delta since, newest last. */
  private journal?: (() => void)[];

  /** Sets one overlay entry (journalled for savepoints). */
  private setOverlay(cls: string, ref: string, row: Row | null): void {
    const m = this.ov(cls);
    if (this.journal) {
      const had = m.has(ref);
      const prev = m.get(ref);
      this.journal.push(() => (had ? m.set(ref, prev!) : m.delete(ref)));
    }
    m.set(ref, row);
  }

  /** Writes a row (null: deleted) into the overlay, keeping the relation delta in step. */
  private put(cls: string, ref: string, row: Row | null): void {
    const old = this.find(cls, ref);
    for (const r of oneSides(cls)) {
      const from = old?.[r.one.field];
      const to = row?.[r.one.field];
      if (from === to) continue;
      let d = this.relDelta.get(r);
      if (!d) this.relDelta.set(r, (d = new Map()));
      for (const [target, present] of [
        [from, false],
        [to, true],
      ] as const) {
        if (typeof target !== 'string' || target === NULL_REF) continue;
        let t = d.get(target);
        if (!t) d.set(target, (t = new Map()));
        if (this.journal) {
          const tt = t;
          const had = tt.has(ref);
          const prev = tt.get(ref);
          this.journal.push(() => (had ? tt.set(ref, prev!) : tt.delete(ref)));
        }
        t.set(ref, present);
      }
    }
    this.setOverlay(cls, ref, row);
  }

  /**
   * A savepoint of the transaction (overlay, relation delta, context, hooks): calling the result puts
   * it back (a failed sub-step of a pool sync). Changes since are journalled, so taking one costs
   * nothing however large the transaction already is (a slave's sync takes one per bond).
   * `release()` says it will not be used (put back or not): once none is left, changes are no
   * longer journalled (a sync's 500 VLAN copies came after its 50 bond savepoints, and each
   * change kept an undo closure to the end).
   */
  savepoint(): Savepoint {
    const journal = (this.journal ??= []);
    const mark = journal.length;
    const ctx = { ...this.ctx };
    const lens = [this.after.length, this.inCommit.length, this.undo.length] as const;
    this.savepoints++;
    let ended = false;
    const release = () => {
      if (ended) return;
      ended = true;
      if (--this.savepoints === 0) this.journal = undefined;
    };
    const restore = () => {
      if (ended) throw new Error('store: a savepoint put back after its release');
      while (journal.length > mark) journal.pop()!();
      for (const k of Object.keys(this.ctx)) delete (this.ctx as unknown as Record<string, unknown>)[k];
      Object.assign(this.ctx, ctx);
      this.after.length = lens[0];
      this.inCommit.length = lens[1];
      this.undo.length = lens[2];
    };
    return Object.assign(restore, { release });
  }
  /** Savepoints taken and not released. */
  private savepoints = 0;

  find<C extends string>(cls: ClassArg<C>, ref: string): RowFor<C> | undefined {
    // One lookup for a row in the overlay (null there: deleted by this transaction).
    const o = this.overlay.get(cls)?.get(ref);
    if (o !== undefined) return (o ?? undefined) as RowFor<C> | undefined;
    this.readObj(cls, ref);
    return this.store.find(cls, ref);
  }
  get<C extends string>(cls: ClassArg<C>, ref: string): RowFor<C> {
    const r = this.find(cls, ref);
    if (!r) throw new ApiError('HANDLE_INVALID', [cls, ref]);
    return r;
  }
  /** One field of an object (HANDLE_INVALID if the object does not exist). */
  field<T = unknown>(cls: string, ref: string, name: string): T {
    return (this.get(cls, ref) as Row)[name] as T;
  }
  refs(cls: string): string[] {
    return [...this.rows(cls)].map(([r]) => r);
  }
  *rows<C extends string>(cls: ClassArg<C>): Iterable<[string, RowFor<C>]> {
    this.reads.classes.add(cls);
    const m = this.overlay.get(cls);
    for (const [ref, row] of this.store.rows(cls)) {
      if (m && m.has(ref)) continue;
      yield [ref, row];
    }
    if (m) for (const [ref, row] of m) if (row) yield [ref, row as RowFor<C>];
  }
  count(cls: string): number {
    let n = 0;
    for (const _ of this.rows(cls)) n++;
    return n;
  }
  /** Refs of `cls` whose row satisfies `pred`. */
  where<C extends string>(cls: ClassArg<C>, pred: (row: RowFor<C>, ref: string) => boolean): string[] {
    const out: string[] = [];
    for (const [ref, row] of this.rows(cls)) if (pred(row, ref)) out.push(ref);
    return out;
  }
  children(cls: string, ref: string, field: string, where?: ChildScope): string[] {
    const r = manySide(cls, field);
    if (!r) throw new Error(`store: ${cls}.${field} is not a computed relation`);
    // A scoped read is judged only against children in its scope: another host's new PIF on a
    // pool-wide network does not make this host's transaction run again.
    let read = this.reads.rels.get(r);
    if (!read) this.reads.rels.set(r, (read = new Map()));
    if (!where) read.set(ref, null);
    else {
      const scopes = read.get(ref);
      if (scopes === undefined) read.set(ref, [where]);
      else if (scopes && !scopes.some((sc) => sc.field === where.field && sc.value === where.value)) scopes.push(where);
    }
    const base = this.store.childSet(r, ref);
    const delta = this.relDelta.get(r)?.get(ref);
    let all: Iterable<string>;
    if (!delta) all = base ?? [];
    else {
      const out = new Set(base ?? []);
      for (const [src, present] of delta) {
        if (present) out.add(src);
        else out.delete(src);
      }
      all = out;
    }
    if (!where) return [...all];
    // The filter reads the children's rows without recording them: only the scope matters (its field never changes).
    const ov = this.overlay.get(r.one.cls);
    const out: string[] = [];
    for (const c of all) {
      const row = ov?.has(c) ? ov.get(c) : this.store.find(r.one.cls, c);
      if (row?.[where.field] === where.value) out.push(c);
    }
    return out;
  }

  byUuid(cls: string, uuid: string): string {
    let read = this.reads.uuids.get(cls);
    if (!read) this.reads.uuids.set(cls, (read = new Set()));
    read.add(uuid);
    const m = this.overlay.get(cls);
    if (m) {
      for (const [ref, row] of m) if (row && row.uuid === uuid) return ref;
    }
    const ref = this.store.cls(cls).uuids.get(uuid);
    if (!ref || (m && m.has(ref) && (m.get(ref) === null || m.get(ref)!.uuid !== uuid))) {
      throw new ApiError('UUID_INVALID', [cls, uuid]);
    }
    return ref;
  }

  /** Creates an object: fields not given take their defaults; returns its ref. */
  create<C extends string>(cls: ClassArg<C>, fields: Patch<C>, ref = this.newRef()): string {
    const st = this.store.cls(cls);
    for (const k of Object.keys(fields)) {
      if (!st.byName.has(k)) throw new Error(`store: ${cls}.${k} is not a stored field`);
    }
    checkValues(cls, st, fields);
    const row = st.make(st.fields.map((fd) => (fd.name in fields ? kept(fd, (fields as Row)[fd.name]) : fd.name === 'uuid' ? this.newUuid() : defaultOf(fd))));
    this.put(cls, ref, row);
    return ref;
  }
  /** Changes fields of an existing object (HANDLE_INVALID if it does not exist). */
  set<C extends string>(cls: ClassArg<C>, ref: string, patch: Patch<C>): void {
    const old = this.get(cls, ref);
    const st = this.store.cls(cls);
    for (const k of Object.keys(patch)) {
      if (!st.byName.has(k)) throw new Error(`store: ${cls}.${k} is not a stored field`);
    }
    checkValues(cls, st, patch);
    let p = patch as Record<string, unknown>;
    for (const k in patch) {
      const v = kept(st.byName.get(k)!, p[k]);
      if (v === p[k]) continue;
      if (p === patch) p = { ...patch };
      p[k] = v;
    }
    this.put(cls, ref, { ...old, ...p });
  }
  /** Marks an object changed without changing it (event.inject). */
  touch(cls: string, ref: string): void {
    this.setOverlay(cls, ref, { ...this.get(cls, ref) });
  }
  /** Deletes an object (HANDLE_INVALID if it does not exist). */
  destroy(cls: string, ref: string): void {
    this.get(cls, ref);
    this.put(cls, ref, null);
  }
  /** True if cls/ref exists in this transaction's view. */
  exists(cls: string, ref: string): boolean {
    return this.find(cls, ref) !== undefined;
  }
}

/**
 * The last guard of the value types (schema/values.ts): whatever path a write takes (a generated
 * setter or constructor, a custom message, a pool sync), a field with a value type and the
 * other_config keys that reach the host hold only valid values, or the write fails with the
 * XenAPI error xapi gives for that kind of value and nothing is stored.
 */
function checkValues(cls: string, st: ClassState, patch: Record<string, unknown>): void {
  // The given fields only (a create names ~20 of a PIF's ~50; create and set checked each is known);
  // with a problem, the first in field order is the one reported.
  for (const k of Object.keys(patch)) {
    if (!valueProblem(cls, st.byName.get(k)!, patch[k])) continue;
    for (const fd of st.fields) {
      const bad = fd.name in patch ? valueProblem(cls, fd, patch[fd.name]) : undefined;
      if (bad) throw new ApiError(bad[0], bad[1]);
    }
  }
}

/** The XenAPI error for a value of one field, or undefined when it is valid. */
function valueProblem(cls: string, fd: FieldDef, v: unknown): [ErrorCode, string[]] | undefined {
  if (fd.vt) {
    for (const x of fd.ty.k === 'set' && Array.isArray(v) ? v : [v]) {
      if (!isValid(fd.vt, x)) return errorFor(fd.vt, fd.name, x);
    }
  } else if (fd.name === 'other_config' && v && typeof v === 'object') {
    return otherConfigProblem(cls, v as Record<string, unknown>);
  }
  return undefined;
}

/** The class definition of a stored class; throws otherwise. */
export function storedClass(name: string): ClassDef {
  const c = classDef(name);
  if (!c || c.stored === false) throw new Error(`store: ${name} is not a stored class`);
  return c;
}
