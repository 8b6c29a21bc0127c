// The vocabulary of the datamodel: types, qualifiers, fields, messages, classes.
// Everything else (SQL tables, record marshalling, generated accessors, parameter
// checking, system.listMethods, docs/api.md) is derived from values of these types,
// as xapi derives its server from ocaml/idl.

import type { ErrorCode } from './errors.js';
import type { ValueType } from './values.js';

/** A XenAPI type, as the IDL spells it. */
export type Ty =
  | { k: 'string' }
  | { k: 'int' }
  | { k: 'float' }
  | { k: 'bool' }
  | { k: 'datetime' }
  | { k: 'enum'; name: string }
  | { k: 'ref'; cls: string }
  | { k: 'set'; of: Ty }
  | { k: 'map'; key: Ty; val: Ty }
  | { k: 'record'; cls: string }
  /** Untyped structured value (event records, whose shape varies with the class); see Typed. */
  | { k: 'any' }
  /** A 32-bit int, sent as <i4> (xapi uses it only for event.from's valid_ref_counts). */
  | { k: 'int32' }
  | { k: 'void' };

/** A value that carries its own type, for use inside `any` (event snapshots are records of varying class). */
export class Typed {
  constructor(
    readonly ty: Ty,
    readonly v: unknown,
  ) {}
}

/**
 * A map whose entries are produced while it is encoded (bulk get_all_records replies), so a
 * 10,000-record reply never exists as one object graph. `entries` may be iterated once.
 */
export class LazyMap {
  constructor(
    readonly size: number,
    readonly entries: Iterable<[string, unknown]>,
  ) {}
  /** JSON.stringify fallback for callers that are not streaming. */
  toJSON(): Record<string, unknown> {
    const o: Record<string, unknown> = Object.create(null);
    for (const [k, v] of this.entries) o[k] = v;
    return o;
  }
}

/** Constructors for types, so class files read like the IDL. Each keeps its literal shape
 * (`T.ref('PIF')` is `{ k: 'ref'; cls: 'PIF' }`) so schema/model.ts can derive TypeScript types. */
export const T = {
  string: { k: 'string' } as { readonly k: 'string' },
  int: { k: 'int' } as { readonly k: 'int' },
  float: { k: 'float' } as { readonly k: 'float' },
  bool: { k: 'bool' } as { readonly k: 'bool' },
  datetime: { k: 'datetime' } as { readonly k: 'datetime' },
  void: { k: 'void' } as { readonly k: 'void' },
  any: { k: 'any' } as { readonly k: 'any' },
  int32: { k: 'int32' } as { readonly k: 'int32' },
  enum: <const N extends string>(name: N): { readonly k: 'enum'; readonly name: N } => ({ k: 'enum', name }),
  ref: <const C extends string>(cls: C): { readonly k: 'ref'; readonly cls: C } => ({ k: 'ref', cls }),
  set: <const O extends Ty>(of: O): { readonly k: 'set'; readonly of: O } => ({ k: 'set', of }),
  map: <const K extends Ty, const V extends Ty>(key: K, val: V): { readonly k: 'map'; readonly key: K; readonly val: V } => ({ k: 'map', key, val }),
  record: <const C extends string>(cls: C): { readonly k: 'record'; readonly cls: C } => ({ k: 'record', cls }),
  /** Map(string, string), the type of every other_config. */
  smap: { k: 'map', key: { k: 'string' }, val: { k: 'string' } } as {
    readonly k: 'map';
    readonly key: { readonly k: 'string' };
    readonly val: { readonly k: 'string' };
  },
};

/** xapi's static roles, most privileged first (datamodel_roles.ml `ordered`). */
export const ROLES = ['pool-admin', 'pool-operator', 'vm-power-admin', 'vm-admin', 'vm-operator', 'read-only'] as const;
/** One of xapi's static roles. */
export type RoleName = (typeof ROLES)[number];
/**
 * Who may call a message, as xapi's `_R_*` shortcuts: a role and every more privileged one
 * (`'pool-operator'` = _R_POOL_OP = pool-admin and pool-operator); `'local-root'` is
 * _R_LOCAL_ROOT_ONLY (no role: only the local superuser and pool-internal sessions).
 */
export type Allowed = RoleName | 'local-root';
/** Map keys guarded by their own permission (xapi's map_keys_roles): key (a trailing `*` is a prefix) → who may add/remove it. */
export type KeyRoles = readonly (readonly [key: string, allowed: Allowed])[];

/** The roles of a class's messages and fields (xapi's create_obj role arguments). */
export interface ClassRoles {
  /** messages_default_allowed_roles: constructor, destructor, custom messages without their own. */
  messages: Allowed;
  /** contents_default_writer_roles: setters of fields without their own (default: `messages`). */
  writer?: Allowed;
  /** implicit_messages_allowed_roles: get_record, get_all*, get_by_* (default: read-only). */
  implicit?: Allowed;
}

/**
 * RW: settable by clients (generated set_/add_/remove_); StaticRO: fixed at creation
 * (part of a generated constructor's record); DynamicRO: maintained by the server.
 */
export type Qualifier = 'RW' | 'StaticRO' | 'DynamicRO';

export interface FieldDef {
  /** Wire name (xapi joins namespaced paths with `_`: name/label → name_label). */
  name: string;
  ty: Ty;
  qual: Qualifier;
  /** Datamodel default; a field without one is required in a generated constructor. */
  default?: unknown;
  /** internal_only in xapi: stored, never shown in records or accessors. */
  internal?: boolean;
  /** What the value may hold when it can reach a host command (schema/values.ts); checked on every write. */
  vt?: ValueType;
  /** writer_roles: who may call the generated setters (default: the class's `roles.writer`). */
  writer?: Allowed;
  /** map_keys_roles: keys of a map field whose add_to_/remove_from_ need their own permission. */
  keyRoles?: KeyRoles;
  /** Never stored: computed when read by a function the server registers (records.ts registerDerived). */
  derived?: boolean;
  doc: string;
}

export interface ParamDef {
  name: string;
  ty: Ty;
  /** A parameter with a default may be omitted by the caller (shorter arity). */
  default?: unknown;
  doc?: string;
}

export interface MessageDef {
  name: string;
  params: readonly ParamDef[];
  result: Ty;
  doc: string;
  /** false for messages called without a session (session.login_with_password). */
  session?: boolean;
  /** Whether an Async.<Class>.<name> form exists (xapi: custom messages, constructors, destructors). */
  async?: boolean;
  /** Error codes the message may raise (documentation and docs/api.md). */
  errors?: readonly ErrorCode[];
  /** Hidden from system.listMethods (xapi's hidden/internal messages). */
  hidden?: boolean;
  /** Read-only messages never take the write lock. */
  readonly?: boolean;
  /** allowed_roles: who may call it (default: the class's `roles.messages`). */
  roles?: Allowed;
  /** map_keys_roles: values of the `key` parameter that need their own permission. */
  keyRoles?: KeyRoles;
  /** xapi's pool_internal: only a pool session (session.slave_login) may call it; any other gets INTERNAL_ERROR. */
  poolInternal?: boolean;
}

export interface ClassDef {
  name: string;
  doc: string;
  fields: readonly FieldDef[];
  /** Custom messages (and overrides of generated ones, matched by name and signature). */
  messages: readonly MessageDef[];
  /** xapi's gen_constructor_destructor: create(record) and destroy(self) are generated. */
  genConstructor?: boolean;
  /** xapi's expose_get_all_messages_for: get_all, get_all_records(_where), get_all_where. */
  exposeGetAll?: boolean;
  /** Objects of this class live in the database (false for pseudo-classes such as event). */
  stored?: boolean;
  /** Objects are kept across restarts (false: in memory only, e.g. tasks could be). Default true. */
  persist?: boolean;
  /** Who may call its messages and set its fields (RBAC). */
  roles: ClassRoles;
  /** xapi's gen_events: false for classes no event is ever generated for (session). Default true. */
  events?: boolean;
}

/**
 * A one-to-many relation: `one` is the stored Ref field, `many` the computed Set(Ref)
 * on the other class (PIF.bond_slave_of → Bond.slaves).
 */
export interface RelationDef {
  one: { cls: string; field: string };
  many: { cls: string; field: string };
}

export type { ErrorDef } from './errors.js';

export interface EnumDef {
  name: string;
  values: readonly string[];
  /** Input matching: xapi lower-cases enum inputs except for a few (bond_mode). */
  caseSensitive?: boolean;
}

/** A field's options by name, as xapi's `field ~qualifier ~default_value ...` labelled arguments. */
export interface FieldOpts {
  /** Default RW, as in xapi. */
  qual?: Qualifier;
  /** Datamodel default; without one the field is required in a generated constructor. */
  default?: unknown;
  internal?: boolean;
  vt?: ValueType;
  writer?: Allowed;
  keyRoles?: KeyRoles;
  derived?: boolean;
}

/** A field as declared, keeping its name, type and options literal for schema/model.ts. */
export type Field<N extends string = string, Y extends Ty = Ty, O extends FieldOpts = FieldOpts> = FieldDef & {
  readonly name: N;
  readonly ty: Y;
  readonly qual: O extends { qual: infer Q extends Qualifier } ? Q : 'RW';
  readonly internal?: O extends { internal: true } ? true : false;
  readonly derived?: O extends { derived: true } ? true : false;
};

/** Field helper: `field('MTU', T.int, 'MTU in octets', { qual: 'StaticRO', default: 1500 })`. */
export function field<const N extends string, const Y extends Ty, const O extends FieldOpts = Record<never, never>>(
  name: N,
  ty: Y,
  doc: string,
  opts?: O,
): Field<N, Y, O> {
  const { qual = 'RW', default: def, ...rest } = (opts ?? {}) as FieldOpts;
  const fd: FieldDef = { name, ty, qual, doc, ...rest };
  if (def !== undefined) fd.default = def;
  return fd as Field<N, Y, O>;
}

/** The uuid every stored class starts with. */
export const uuidField = field('uuid', T.string, 'Unique identifier/object reference', { qual: 'DynamicRO' });

/** name_label and name_description (xapi's namespace "name"), both defaulting to ''. */
export function nameFields<const O extends FieldOpts = Record<never, never>>(opts?: O, docs: { label?: string; description?: string } = {}) {
  return [
    field('name_label', T.string, docs.label ?? 'A human-readable name', { default: '', ...opts } as O & { default: '' }),
    field('name_description', T.string, docs.description ?? 'A notes field containing human-readable description', { default: '', ...opts } as O & {
      default: '';
    }),
  ] as const;
}

/** other_config, a string map defaulting to {} (`required: true`: no default, as network/VIF in xapi). */
export function otherConfigField<const O extends FieldOpts = Record<never, never>>(opts?: O & { required?: boolean }) {
  const { required, ...rest } = opts ?? {};
  return field('other_config', T.smap, 'Additional configuration', (required ? rest : { default: {}, ...rest }) as O);
}

/** allowed_operations and current_operations over the operations enum `ops`. */
export function operationsFields<const N extends string>(ops: N) {
  return [
    field('allowed_operations', T.set(T.enum(ops)), 'List of the operations allowed in this state', { qual: 'DynamicRO', default: [] }),
    field(
      'current_operations',
      T.map(T.string, T.enum(ops)),
      'Links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task',
      { qual: 'DynamicRO', default: {} },
    ),
  ] as const;
}

/** tags, the user's set of labels (vm-operator may write them). */
export const tagsField = field('tags', T.set(T.string), 'User-specified tags for categorization purposes', { default: [], writer: 'vm-operator' });

/** Declares a class; the identity at run time, it keeps the literal types schema/model.ts derives from. */
export function defineClass<const S extends ClassDef>(c: S): S {
  return c;
}

/** Parameter helper: `p('mode', T.enum('bond_mode'), 'balance-slb')`. */
export function p<const N extends string, const Y extends Ty>(name: N, ty: Y, def?: unknown, doc?: string): ParamDef & { readonly name: N; readonly ty: Y } {
  const pd: ParamDef = { name, ty };
  if (def !== undefined) pd.default = def;
  if (doc) pd.doc = doc;
  return pd as ParamDef & { readonly name: N; readonly ty: Y };
}

/** Renders a type as the IDL prints it (`(string -> string) map`, `PIF ref set`). */
export function tyName(t: Ty): string {
  switch (t.k) {
    case 'enum':
      return `enum ${t.name}`;
    case 'ref':
      return `${t.cls} ref`;
    case 'set':
      return `${tyName(t.of)} set`;
    case 'map':
      return `(${tyName(t.key)} -> ${tyName(t.val)}) map`;
    case 'record':
      return `${t.cls} record`;
    default:
      return t.k;
  }
}

/** The value a type takes when nothing else is known (empty set, empty map, null ref). */
export function zeroOf(t: Ty): unknown {
  switch (t.k) {
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
      return 'OpaqueRef:NULL';
    case 'set':
      return [];
    case 'map':
      return Object.create(null);
    default:
      return '';
  }
}
