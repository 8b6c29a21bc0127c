// The vocabulary of the datamodel: types, qualifiers, fields, messages, classes.
// Everything else (SQL tables, record marshalling, generated accessors, parameter
// checking, system.listMethods, docs/api.md) is derived from values of these types,
// as xapi derives its server from ocaml/idl.

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
  constructor(readonly ty: Ty, readonly v: unknown) {}
}

/**
 * A map whose entries are produced while it is encoded (bulk get_all_records replies), so a
 * 10,000-record reply never exists as one object graph. `entries` may be iterated once.
 */
export class LazyMap {
  constructor(readonly size: number, readonly entries: Iterable<[string, unknown]>) {}
  /** JSON.stringify fallback for callers that are not streaming. */
  toJSON(): Record<string, unknown> {
    const o: Record<string, unknown> = Object.create(null);
    for (const [k, v] of this.entries) o[k] = v;
    return o;
  }
}

/** Constructors for types, so class files read like the IDL. */
export const T = {
  string: { k: 'string' } as Ty,
  int: { k: 'int' } as Ty,
  float: { k: 'float' } as Ty,
  bool: { k: 'bool' } as Ty,
  datetime: { k: 'datetime' } as Ty,
  void: { k: 'void' } as Ty,
  any: { k: 'any' } as Ty,
  int32: { k: 'int32' } as Ty,
  enum: (name: string): Ty => ({ k: 'enum', name }),
  ref: (cls: string): Ty => ({ k: 'ref', cls }),
  set: (of: Ty): Ty => ({ k: 'set', of }),
  map: (key: Ty, val: Ty): Ty => ({ k: 'map', key, val }),
  record: (cls: string): Ty => ({ k: 'record', cls }),
  /** Map(string, string), the type of every other_config. */
  smap: { k: 'map', key: { k: 'string' }, val: { k: 'string' } } as Ty,
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
export type KeyRoles = [key: string, allowed: Allowed][];

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
  params: ParamDef[];
  result: Ty;
  doc: string;
  /** false for messages called without a session (session.login_with_password). */
  session?: boolean;
  /** Whether an Async.<Class>.<name> form exists (xapi: custom messages, constructors, destructors). */
  async?: boolean;
  /** Error codes the message may raise (documentation and docs/api.md). */
  errors?: string[];
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
  fields: FieldDef[];
  /** Custom messages (and overrides of generated ones, matched by name and signature). */
  messages: MessageDef[];
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

export interface ErrorDef {
  code: string;
  params: string[];
  doc: string;
}

export interface EnumDef {
  name: string;
  values: string[];
  /** Input matching: xapi lower-cases enum inputs except for a few (bond_mode). */
  caseSensitive?: boolean;
}

/** Field helper: `f('MTU', T.int, 'RW', 1500, 'doc')`. */
export function f(name: string, ty: Ty, qual: Qualifier, def: unknown, doc: string, opts: { internal?: boolean; writer?: Allowed; keyRoles?: KeyRoles; derived?: boolean; vt?: ValueType } = {}): FieldDef {
  const fd: FieldDef = { name, ty, qual, doc, ...opts };
  if (def !== undefined) fd.default = def;
  return fd;
}

/** Parameter helper: `p('mode', T.enum('bond_mode'), 'balance-slb')`. */
export function p(name: string, ty: Ty, def?: unknown, doc?: string): ParamDef {
  const pd: ParamDef = { name, ty };
  if (def !== undefined) pd.default = def;
  if (doc) pd.doc = doc;
  return pd;
}

/** Renders a type as the IDL prints it (`(string -> string) map`, `PIF ref set`). */
export function tyName(t: Ty): string {
  switch (t.k) {
    case 'enum': return `enum ${t.name}`;
    case 'ref': return `${t.cls} ref`;
    case 'set': return `${tyName(t.of)} set`;
    case 'map': return `(${tyName(t.key)} -> ${tyName(t.val)}) map`;
    case 'record': return `${t.cls} record`;
    default: return t.k;
  }
}

/** The value a type takes when nothing else is known (empty set, empty map, null ref). */
export function zeroOf(t: Ty): unknown {
  switch (t.k) {
    case 'string': case 'enum': return '';
    case 'int': case 'float': return 0;
    case 'bool': return false;
    case 'datetime': return '19700101T00:00:00Z';
    case 'ref': return 'OpaqueRef:NULL';
    case 'set': return [];
    case 'map': return Object.create(null);
    default: return '';
  }
}
