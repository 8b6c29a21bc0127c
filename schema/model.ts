// TypeScript types derived from the datamodel, at compile time only: the class files are
// declared with literal types (defineClass, field, p, T.*), and these mapped types turn them
// into a row type per class, a named-parameter record, positional tuple and result type per
// message (custom and generated), and the error-code union. Nothing here exists at run time;
// renaming a field or reordering a message's parameters in schema/ changes what the handlers
// in src/ must say, or they do not compile (test/types/ shows it).
import type { ClassSpecs } from './classes/index.js';
import type { EnumSpecs } from './enums.js';
import type { ErrorCode } from './errors.js';
import type { RelationSpecs } from './relations.js';

export type { ErrorCode };

/** The name of a modelled class. */
export type ClassName = ClassSpecs[number]['name'];
/** The declaration of class C, with its literal types. */
export type ClassSpec<C> = Extract<ClassSpecs[number], { readonly name: C }>;

/** A 64-bit int as the store and the wire give it: a number while exact, a bigint beyond 2^53. */
export type Int = number | bigint;

/**
 * A reference to an object of class C: a plain string at run time. The optional phantom member
 * keeps classes apart (a PIF ref does not fit where a network ref is expected) while any plain
 * string still fits, so helpers written over `string` keep working.
 */
export type Ref<C extends string = string> = string & { readonly __ref?: C };

/** The name of a declared enum. */
export type EnumName = EnumSpecs[number]['name'];
/** The values of enum N, as a union of string literals. */
export type EnumValue<N extends string> = Extract<EnumSpecs[number], { readonly name: N }>['values'][number];

/** A record of class C as get_record returns it (field values are not broken down further). */
export type RecordOf<C extends string> = object & { readonly __record?: C };

/** The TypeScript type of a value of datamodel type Y (schema/types.ts Ty). */
export type TsOf<Y> = Y extends { readonly k: 'string' }
  ? string
  : Y extends { readonly k: 'int' }
    ? Int
    : Y extends { readonly k: 'int32' }
      ? number
      : Y extends { readonly k: 'float' }
        ? number
        : Y extends { readonly k: 'bool' }
          ? boolean
          : Y extends { readonly k: 'datetime' }
            ? string
            : Y extends { readonly k: 'enum'; readonly name: infer N extends string }
              ? EnumValue<N>
              : Y extends { readonly k: 'ref'; readonly cls: infer C extends string }
                ? Ref<C>
                : Y extends { readonly k: 'set'; readonly of: infer O }
                  ? readonly TsOf<O>[]
                  : Y extends { readonly k: 'map'; readonly val: infer V }
                    ? Readonly<Record<string, TsOf<V>>>
                    : Y extends { readonly k: 'record'; readonly cls: infer C extends ClassName; readonly ctor: true }
                      ? CtorOf<C>
                      : Y extends { readonly k: 'record'; readonly cls: infer C extends string }
                        ? RecordOf<C>
                        : Y extends { readonly k: 'void' }
                          ? void
                          : unknown;

// Every alias below takes what it works on as an unconstrained parameter and takes it apart with
// `infer`: indexed access on a parameter constrained to "any class" makes tsc relate the union of
// every class's fields each time (minutes of compile time).
type FieldsIn<S> = S extends { readonly fields: readonly (infer F)[] } ? F : never;
type MessagesIn<S> = S extends { readonly messages: readonly (infer M)[] } ? M : never;
type NameOf<F> = F extends { readonly name: infer N extends string } ? N : never;
type TyOf<F> = F extends { readonly ty: infer Y } ? Y : never;
/** Fields of C that are the computed (many) side of a relation: never stored. */
type ManySides<C> = Extract<RelationSpecs[number], { readonly many: { readonly cls: C } }>['many']['field'];
type Stored<C, Fs> = Exclude<Fs, { readonly name: ManySides<C> } | { readonly derived?: true }>;
type Visible<Fs> = Exclude<Fs, { readonly internal?: true }>;
type Typed<Fs> = { readonly [F in Fs as NameOf<F>]: TsOf<TyOf<F>> };

/** A stored row of class C as the store gives it: every stored field (internal ones too), typed. */
export type RowOf<C extends ClassName> = Typed<Stored<C, FieldsIn<ClassSpec<C>>>>;
/** A generated constructor's record as the implementation receives it: every RW and StaticRO field, checked, defaults filled. */
export type CtorOf<C extends ClassName> = Typed<Exclude<Stored<C, Visible<FieldsIn<ClassSpec<C>>>>, { readonly qual: 'DynamicRO' }>>;
/** The stored field names of class C. */
export type FieldOf<C extends ClassName> = keyof RowOf<C> & string;

/** A message signature: parameters in wire order, and the result type (datamodel types). */
interface Sig {
  readonly params: readonly { readonly name: string; readonly ty: unknown }[];
  readonly result: unknown;
}
type P<N extends string, Y> = { readonly name: N; readonly ty: Y };
type RefTy<C extends string> = { readonly k: 'ref'; readonly cls: C };
type SetTy<O> = { readonly k: 'set'; readonly of: O };
type MapTy<K, V> = { readonly k: 'map'; readonly key: K; readonly val: V };
type RecTy<C extends string> = { readonly k: 'record'; readonly cls: C };
type Void = { readonly k: 'void' };
type Str = { readonly k: 'string' };
type Self<C extends string> = P<'self', RefTy<C>>;

type Writable<C, Fs> = Extract<Stored<C, Visible<Fs>>, { readonly qual: 'RW' }>;
type MapAccessors<C extends string, Fs> = {
  [F in Extract<Fs, { readonly ty: { readonly k: 'map' } }> as `add_to_${NameOf<F>}`]: TyOf<F> extends { readonly key: infer K; readonly val: infer V }
    ? { params: [Self<C>, P<'key', K>, P<'value', V>]; result: Void }
    : never;
} & {
  [F in Extract<Fs, { readonly ty: { readonly k: 'map' } }> as `remove_from_${NameOf<F>}`]: TyOf<F> extends { readonly key: infer K }
    ? { params: [Self<C>, P<'key', K>]; result: Void }
    : never;
};
type SetAccessors<C extends string, Fs> = {
  [F in Extract<Fs, { readonly ty: { readonly k: 'set' } }> as `add_${NameOf<F>}` | `remove_${NameOf<F>}`]: TyOf<F> extends { readonly of: infer O }
    ? { params: [Self<C>, P<'value', O>]; result: Void }
    : never;
};

/** The messages methods.ts generates for a stored class (get_record, accessors, create/destroy...). */
type Generated<C extends string, S, Fs> = S extends { readonly stored: false }
  ? Record<never, never>
  : {
      get_record: { params: [Self<C>]; result: RecTy<C> };
      get_by_uuid: { params: [P<'uuid', Str>]; result: RefTy<C> };
    } & ('name_label' extends NameOf<Fs> ? { get_by_name_label: { params: [P<'label', Str>]; result: SetTy<RefTy<C>> } } : Record<never, never>) &
      (S extends { readonly exposeGetAll: true }
        ? {
            get_all: { params: []; result: SetTy<RefTy<C>> };
            get_all_records: { params: []; result: MapTy<RefTy<C>, RecTy<C>> };
            get_all_where: { params: [P<'expr', Str>]; result: SetTy<RefTy<C>> };
            get_all_records_where: { params: [P<'expr', Str>]; result: MapTy<RefTy<C>, RecTy<C>> };
          }
        : Record<never, never>) & { [F in Visible<Fs> as `get_${NameOf<F>}`]: { params: [Self<C>]; result: TyOf<F> } } & {
        [F in Writable<C, Fs> as `set_${NameOf<F>}`]: { params: [Self<C>, P<'value', TyOf<F>>]; result: Void };
      } & MapAccessors<C, Writable<C, Fs>> &
      SetAccessors<C, Writable<C, Fs>> &
      (S extends { readonly genConstructor: true }
        ? {
            create: { params: [P<'args', RecTy<C> & { readonly ctor: true }>]; result: RefTy<C> };
            destroy: { params: [Self<C>]; result: Void };
          }
        : Record<never, never>);

/** The custom messages declared on a class, by name. */
type Custom<S> = { [M in MessagesIn<S> as NameOf<M>]: M };

/** Every message of class C by name: generated ones, replaced by custom namesakes. */
export type MessagesOf<C extends ClassName> = Merge<Generated<C, ClassSpec<C>, FieldsIn<ClassSpec<C>>>, Custom<ClassSpec<C>>>;
type Merge<A, B> = { [K in keyof A | keyof B]: K extends keyof B ? B[K] : K extends keyof A ? A[K] : never };

/** Every message's wire name, `Class.message`. */
export type WireName = { [C in ClassName]: `${C}.${keyof MessagesOf<C> & string}` }[ClassName];

type SigOf<W extends string> = W extends `${infer C extends ClassName}.${infer M}`
  ? MessagesOf<C>[M & keyof MessagesOf<C>] extends infer S extends Sig
    ? S
    : never
  : never;

type Named<Ps> = Ps extends readonly (infer X)[] ? { readonly [Y in X as NameOf<Y>]: TsOf<TyOf<Y>> } : never;
type Tuple<Ps> = { -readonly [I in keyof Ps]: TsOf<TyOf<Ps[I]>> };

/** The parameters of message W by name, as its implementation receives them (defaults filled in). */
export type ParamsOf<W extends WireName> = Named<SigOf<W>['params']>;
/** The parameters of message W in wire order, as a caller sends them. */
export type ArgsOf<W extends WireName> = Tuple<SigOf<W>['params']>;
/** The result of message W. */
export type ResultOf<W extends WireName> = TsOf<SigOf<W>['result']>;
