// The method table, derived from the datamodel as xapi's gen_server derives its dispatcher:
// per class get_record, get_by_uuid, get_by_name_label, get_all*, get_<f>, set_<f>,
// add_to_/remove_from_ (maps), add_/remove_ (sets), create/destroy for classes with a
// generated constructor; then the custom messages whose semantics modules implement them.
import {
  LazyMap,
  T,
  classes,
  manySide,
  storedFields,
  visibleFields,
  type Allowed,
  type ClassDef,
  type KeyRoles,
  type FieldDef,
  type MessageDef,
  type Ty,
} from '../../schema/index.js';
import { ApiError } from '../errors.js';
import { clone, defaultOf, type Row } from '../store/store.js';
import { coerce } from './check.js';
import { implFlags, type AnyImpl, type CallCtx, type Impls } from './context.js';
import { cachedRecord, dbString, fieldOf, recordReader } from './records.js';
import { evalWhere, parseWhere } from './where.js';

/** One callable message. */
export interface Method {
  /** Wire name, `Class.message`. */
  wire: string;
  cls: string;
  msg: MessageDef;
  impl: AnyImpl;
  /** Runs inside a write transaction. */
  write: boolean;
  /** Generated from the datamodel (accessor, constructor...). */
  generated: boolean;
}

const self = (cls: string) => ({ name: 'self', ty: T.ref(cls) });

/** Fields a generated constructor's record carries: RW and StaticRO, not internal. */
export function constructorFields(c: ClassDef): FieldDef[] {
  return c.fields.filter((fd) => !fd.internal && fd.qual !== 'DynamicRO' && !manySide(c.name, fd.name));
}

/** Checks a constructor record: unknown keys ignored, missing fields take defaults or fail. */
export function checkConstructorRecord(c: ClassDef, rec: unknown): Record<string, unknown> {
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) throw new ApiError('FIELD_TYPE_ERROR', ['args']);
  const r = rec as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const fd of constructorFields(c)) {
    if (fd.name in r) out[fd.name] = coerce(r[fd.name], fd.ty, fd.name);
    else if (fd.default !== undefined) out[fd.name] = defaultOf(fd);
    else throw new ApiError('FIELD_TYPE_ERROR', [fd.name]);
  }
  return out;
}

function generated(c: ClassDef): Method[] {
  const cls = c.name;
  const out: Method[] = [];
  // Roles as xapi's datamodel_utils gives generated messages: implicit ones (get_record, get_all...)
  // the class's implicit roles, getters everyone, setters the field's writer roles,
  // constructor/destructor the class's message roles.
  const implicit = c.roles.implicit ?? 'read-only';
  let roles: Allowed = implicit;
  let keyRoles: KeyRoles | undefined;
  const add = (name: string, params: MessageDef['params'], result: Ty, doc: string, impl: AnyImpl, write: boolean, async = false) =>
    out.push({
      wire: `${cls}.${name}`,
      cls,
      msg: { name, params, result, doc, async, roles, ...(keyRoles ? { keyRoles } : {}) },
      impl,
      write,
      generated: true,
    });

  add('get_record', [self(cls)], T.record(cls), `All fields of the given ${cls}.`, (ctx, { self }) => cachedRecord(ctx.db, cls, self), false);
  add('get_by_uuid', [{ name: 'uuid', ty: T.string }], T.ref(cls), `The ${cls} with the given uuid.`, (ctx, { uuid }) => ctx.db.byUuid(cls, uuid), false);
  if (c.fields.some((fd) => fd.name === 'name_label')) {
    add(
      'get_by_name_label',
      [{ name: 'label', ty: T.string }],
      T.set(T.ref(cls)),
      `Every ${cls} with the given name_label.`,
      (ctx, { label }) => [...ctx.db.rows(cls)].filter(([, r]) => r.name_label === label).map(([ref]) => ref),
      false,
    );
  }
  if (c.exposeGetAll) {
    const where = (ctx: CallCtx, expr: string) => {
      const e = parseWhere(expr);
      const out: string[] = [];
      for (const [ref] of ctx.db.rows(cls)) {
        if (evalWhere(e, (f) => (c.fields.some((fd) => fd.name === f && !fd.internal) ? dbString(fieldOf(ctx.db, cls, ref, f)) : undefined))) out.push(ref);
      }
      return out;
    };
    // Rows are immutable: a snapshot of the row list is consistent; records are built while encoding.
    // The snapshot is two flat arrays, not a pair per object: it lives while the reply streams,
    // and every young-generation GC meanwhile copies what it holds.
    const lazy = (ctx: CallCtx, refs: string[], rows: Row[]) =>
      new LazyMap(
        refs.length,
        (function* () {
          const read = recordReader(ctx.db, cls);
          for (let i = 0; i < refs.length; i++) yield [refs[i], read(refs[i], rows[i])] as [string, unknown];
        })(),
      );
    const snapshot = (ctx: CallCtx, refs?: string[]) => {
      const rows: Row[] = [];
      if (refs) for (const ref of refs) rows.push(ctx.db.get(cls, ref));
      else {
        refs = [];
        for (const [ref, row] of ctx.db.rows(cls)) {
          refs.push(ref);
          rows.push(row);
        }
      }
      return lazy(ctx, refs, rows);
    };
    add('get_all', [], T.set(T.ref(cls)), `Every ${cls}.`, (ctx) => ctx.db.refs(cls), false);
    add('get_all_records', [], T.map(T.ref(cls), T.record(cls)), `Every ${cls} with its record.`, (ctx) => snapshot(ctx), false);
    add(
      'get_all_where',
      [{ name: 'expr', ty: T.string }],
      T.set(T.ref(cls)),
      `Every ${cls} matching the expression.`,
      (ctx, { expr }) => where(ctx, expr),
      false,
    );
    add(
      'get_all_records_where',
      [{ name: 'expr', ty: T.string }],
      T.map(T.ref(cls), T.record(cls)),
      `Every ${cls} matching the expression, with its record.`,
      (ctx, { expr }) => snapshot(ctx, where(ctx, expr)),
      false,
    );
  }
  const stored = new Set(storedFields(c).map((fd) => fd.name));
  for (const fd of visibleFields(c)) {
    const name = fd.name;
    roles = 'read-only';
    keyRoles = undefined;
    add(`get_${name}`, [self(cls)], fd.ty, `The ${name} field of the given ${cls}.`, (ctx, { self }) => fieldOf(ctx.db, cls, self, name), false);
    if (fd.qual !== 'RW' || !stored.has(name)) continue;
    const acc = (kind: string) => accessorImpl(c, `${kind}_${name}`)!;
    roles = fd.writer ?? c.roles.writer ?? c.roles.messages;
    add(`set_${name}`, [self(cls), { name: 'value', ty: fd.ty }], T.void, `Sets the ${name} field of the given ${cls}.`, acc('set'), true);
    if (fd.ty.k === 'map') {
      keyRoles = fd.keyRoles;
      add(
        `add_to_${name}`,
        [self(cls), { name: 'key', ty: fd.ty.key }, { name: 'value', ty: fd.ty.val }],
        T.void,
        `Adds a key to the ${name} map of the given ${cls} (MAP_DUPLICATE_KEY if present).`,
        acc('add_to'),
        true,
      );
      add(
        `remove_from_${name}`,
        [self(cls), { name: 'key', ty: fd.ty.key }],
        T.void,
        `Removes a key from the ${name} map of the given ${cls} (no-op if absent).`,
        acc('remove_from'),
        true,
      );
    } else if (fd.ty.k === 'set') {
      add(
        `add_${name}`,
        [self(cls), { name: 'value', ty: fd.ty.of }],
        T.void,
        `Adds a value to the ${name} set of the given ${cls} (no-op if present).`,
        acc('add'),
        true,
      );
      add(
        `remove_${name}`,
        [self(cls), { name: 'value', ty: fd.ty.of }],
        T.void,
        `Removes a value from the ${name} set of the given ${cls} (no-op if absent).`,
        acc('remove'),
        true,
      );
    }
  }
  if (c.genConstructor) {
    roles = c.roles.messages;
    keyRoles = undefined;
    add(
      'create',
      [{ name: 'args', ty: T.record(cls) }],
      T.ref(cls),
      `Creates a new ${cls} from a record.`,
      (ctx, { args }) => ctx.tx.create(cls, args),
      true,
      true,
    );
    add(
      'destroy',
      [self(cls)],
      T.void,
      `Destroys the given ${cls}.`,
      (ctx, { self }) => {
        ctx.tx.destroy(cls, self);
      },
      true,
      true,
    );
  }
  return out;
}

/** The generic implementation of an explicitly declared set_/add_to_/remove_from_/add_/remove_ message. */
function accessorImpl(c: ClassDef, name: string): AnyImpl | undefined {
  const m = /^(set|add_to|remove_from|add|remove)_(.+)$/.exec(name);
  if (!m) return undefined;
  const fd = storedFields(c).find((x) => x.name === m[2]);
  if (!fd || fd.internal) return undefined;
  const kind = m[1];
  if (kind === 'set')
    return (ctx, { self: ref, value }) => {
      ctx.tx.set(c.name, ref, { [fd.name]: value });
    };
  if (fd.ty.k === 'map' && kind === 'add_to') {
    return (ctx, { self: ref, key, value }) => {
      const cur = ctx.tx.field<Record<string, unknown>>(c.name, ref, fd.name);
      if (Object.prototype.hasOwnProperty.call(cur, key)) throw new ApiError('MAP_DUPLICATE_KEY', [c.name, fd.name, ref, key]);
      ctx.tx.set(c.name, ref, { [fd.name]: Object.assign(clone(cur), { [key]: value }) });
    };
  }
  if (fd.ty.k === 'map' && kind === 'remove_from') {
    return (ctx, { self: ref, key }) => {
      const n = clone(ctx.tx.field<Record<string, unknown>>(c.name, ref, fd.name));
      delete n[key];
      ctx.tx.set(c.name, ref, { [fd.name]: n });
    };
  }
  if (fd.ty.k === 'set' && kind === 'add') {
    return (ctx, { self: ref, value: v }) => {
      const s = ctx.tx.field<unknown[]>(c.name, ref, fd.name);
      if (!s.includes(v)) ctx.tx.set(c.name, ref, { [fd.name]: [...s, v] });
    };
  }
  if (fd.ty.k === 'set' && kind === 'remove') {
    return (ctx, { self: ref, value: v }) => {
      ctx.tx.set(c.name, ref, { [fd.name]: ctx.tx.field<unknown[]>(c.name, ref, fd.name).filter((x) => x !== v) });
    };
  }
  return undefined;
}

/**
 * Every message of the datamodel with its roles filled in, implemented or not (xapi derives its
 * permissions from all of them): generated ones, then custom ones replacing generated namesakes.
 */
export function declaredMessages(): { wire: string; cls: string; msg: MessageDef }[] {
  const out = new Map<string, { wire: string; cls: string; msg: MessageDef }>();
  for (const c of classes) {
    if (c.stored !== false) for (const m of generated(c)) out.set(m.wire, { wire: m.wire, cls: m.cls, msg: m.msg });
    for (const msg of c.messages) {
      const wire = `${c.name}.${msg.name}`;
      out.set(wire, { wire, cls: c.name, msg: { roles: out.get(wire)?.msg.roles ?? c.roles.messages, ...msg } });
    }
  }
  return [...out.values()];
}

/**
 * A call's checked positional values (wire order, defaults filled) as the named record its
 * implementation takes: the one place positions become names.
 */
export function namedArgs(msg: MessageDef, values: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  const params = msg.params;
  for (let i = 0; i < params.length; i++) out[params[i].name] = values[i];
  return out;
}

/** Builds the method table: generated messages, then custom ones that have an implementation. */
export function buildMethods(impls: Impls): Map<string, Method> {
  const table = new Map<string, Method>();
  for (const c of classes) {
    if (c.stored !== false) for (const m of generated(c)) table.set(m.wire, m);
    for (const msg of c.messages) {
      const wire = `${c.name}.${msg.name}`;
      // xapi declares some plain accessors explicitly (VM.set_other_config on a StaticRO
      // field, task.add_to_other_config...): they get the generic implementation.
      const impl = (impls as Record<string, AnyImpl | undefined>)[wire] ?? accessorImpl(c, msg.name);
      if (!impl) {
        // Declared but not implemented: not callable, not listed (never a stub).
        continue;
      }
      table.set(wire, {
        wire,
        cls: c.name,
        msg: { async: true, roles: c.roles.messages, ...msg },
        impl,
        write: !msg.readonly && !implFlags(impl).ownLock,
        generated: false,
      });
    }
  }
  // Overrides of generated messages (network.create, VIF.destroy...) keep the generated signature.
  for (const [wire, impl] of Object.entries(impls as Record<string, AnyImpl>)) {
    const m = table.get(wire);
    if (m && m.generated) table.set(wire, { ...m, impl, generated: false, write: m.write && !implFlags(impl).ownLock });
    else if (!m) throw new Error(`implementation for ${wire}, which the datamodel does not declare`);
  }
  return table;
}
