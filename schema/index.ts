// The datamodel as one value, with the lookups every derived layer needs.
import { classes } from './classes/index.js';
import { enums } from './enums.js';
import { errors, E } from './errors.js';
import { relations } from './relations.js';
import type { ClassDef, EnumDef, ErrorDef, FieldDef, RelationDef } from './types.js';

export * from './types.js';
export { classes, enums, errors, relations, E };

/** The API version we report (xapi's configure.ml for the tree read: 2.23). */
export const API_VERSION = { major: 2, minor: 23, vendor: 'XenSource' } as const;
/** Bumped whenever the stored layout changes incompatibly; columns added for new fields migrate by themselves. */
export const SCHEMA_VERSION = 1;

const byName = new Map<string, ClassDef>(classes.map((c) => [c.name, c]));
const byLower = new Map<string, ClassDef>(classes.map((c) => [c.name.toLowerCase(), c]));
const enumByName = new Map<string, EnumDef>(enums.map((e) => [e.name, e]));
const errorByCode = new Map<string, ErrorDef>(errors.map((e) => [e.code, e]));

/** The class called `name` (exact spelling), or undefined. */
export function classDef(name: string): ClassDef | undefined {
  return byName.get(name);
}

/** The class whose lower-cased name is `lower` (event class names are lower-case). */
export function classByLower(lower: string): ClassDef | undefined {
  return byLower.get(lower.toLowerCase());
}

/** The enum called `name`; throws for a datamodel mistake. */
export function enumDef(name: string): EnumDef {
  const e = enumByName.get(name);
  if (!e) throw new Error(`datamodel: unknown enum ${name}`);
  return e;
}

/** The error definition for `code`, if the datamodel lists it. */
export function errorDef(code: string): ErrorDef | undefined {
  return errorByCode.get(code);
}

// Relation lookups by class and field, built once.
const manyIndex = new Map<string, Map<string, RelationDef>>();
for (const r of relations) {
  if (!manyIndex.has(r.many.cls)) manyIndex.set(r.many.cls, new Map());
  manyIndex.get(r.many.cls)!.set(r.many.field, r);
}
const oneIndex = new Map<string, RelationDef[]>();
for (const r of relations) oneIndex.set(r.one.cls, [...(oneIndex.get(r.one.cls) ?? []), r]);

/** The relation whose computed (many) side is cls.field, if any. */
export function manySide(cls: string, field: string): RelationDef | undefined {
  return manyIndex.get(cls)?.get(field);
}

/** Relations whose stored (one) side is a field of `cls`. */
export function oneSides(cls: string): RelationDef[] {
  return oneIndex.get(cls) ?? [];
}

/** Fields of `c` kept in the database (computed relation sides and derived fields are never stored). */
export function storedFields(c: ClassDef): FieldDef[] {
  return c.fields.filter((fd) => !fd.derived && !manySide(c.name, fd.name));
}

/** Fields of `c` that appear in records and accessors (internal-only ones are hidden). */
export function visibleFields(c: ClassDef): FieldDef[] {
  return c.fields.filter((fd) => !fd.internal);
}

/** Classes whose objects live in the store. */
export function storedClasses(): ClassDef[] {
  return classes.filter((c) => c.stored !== false);
}
export type * from './model.js';
