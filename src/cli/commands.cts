// xe's commands for the networking classes, as xapi's cli_frontend.ml declares them (name,
// required and optional parameters, help) and cli_operations.ml implements them: the generated
// <class>-list/-param-list/-param-get/-param-set/-param-add/-param-remove/-param-clear, and the
// hand-written ones (bond-create, vlan-create, pif-reconfigure-ip, …). Every one is a sequence of
// XenAPI calls; the CLI never touches the daemon's database.
import {
  XE_PREFIXES,
  allXeClasses,
  xeClass,
  label,
  lookups,
  mapOf,
  present,
  setOf,
  show,
  sourceKey,
  type Lookup,
  type Rec,
  type XeClass,
  type XeField,
} from './records.cjs';
import { Failure } from './rpc.cjs';

/** A XenAPI call with the session already supplied. */
export type Call = <T = any>(method: string, ...params: unknown[]) => Promise<T>;

/** What a command prints: xe's PTable (records), PList (lines), PMsg. */
export type Out = { kind: 'table'; records: [string, string][][] } | { kind: 'list'; lines: string[] };

/** A CLI-side failure xe reports as `Error: <text>` (Cli_util.Cli_failure). */
export class CliError extends Error {}
/** A failure xapi raises with `failwith` (printed as an INTERNAL_ERROR, as xe does). */
export class OpFailure extends Error {}
/** xe's `Missing parameter` (a named field that is not in the record). */
export class MissingParam extends Error {}
/** Standard input ended at a prompt (xe: End_of_file, reported as a lost connection). */
export class InputClosed extends Error {}

export interface Ctx {
  call: Call;
  params: Map<string, string>;
  /** Prints as the command goes (event-wait progress, Async progress). */
  emit(o: Out): void;
  progress: boolean;
  /** Drops every kept session: a pool join, eject or hand-over changes which server answers. */
  forgetSessions(): void;
  /** xe's Print: a line on standard output at once, whatever --minimal says (a warning before a question). */
  print(line: string): void;
  /** xe's Prompt: one line of standard input without its newline; InputClosed when input ends first. */
  prompt(): Promise<string>;
}

export interface Command {
  name: string;
  reqd: string[];
  optn: string[];
  help: string;
  /** Listed in `help` without --all (xe's Standard flag). */
  std?: boolean;
  hidden?: boolean;
  run(c: Ctx): Promise<void>;
}

/** Parameters xe never treats as filters or field settings. */
export const STD_PARAMS = new Set([
  'server',
  'password',
  'port',
  'username',
  'minimal',
  'force',
  'multiple',
  'all',
  'message-priority',
  'trace',
  'progress',
  'passwordfile',
  'nossl',
  'debug',
]);

const NULL = 'OpaqueRef:NULL';
const NO_LOOKUP: Lookup = { rec: () => undefined, all: () => [] };

// ---- reading records -------------------------------------------------------------------------

/** The classes the fields read besides their own records (targets of refs, metrics). */
function lookupClasses(xc: XeClass, fields: XeField[]): string[] {
  return [...new Set(fields.flatMap((f) => lookups(f, xc)))];
}

/** Fetches every object of the classes (in parallel; a class the server lacks has none). */
async function fetchLookup(call: Call, classes: string[]): Promise<Lookup> {
  const got = new Map<string, Record<string, Rec>>();
  await Promise.all(
    classes.map(async (c) => {
      try {
        got.set(c, await call(`${c}.get_all_records`));
      } catch (e) {
        if (!(e instanceof Failure)) throw e;
        got.set(c, {}); // a class the server does not have: its refs are all dangling
      }
    }),
  );
  return { rec: (c, ref) => got.get(c)?.[ref], all: (c) => Object.values(got.get(c) ?? {}) };
}

/** The lookups the fields need for these records (a few refs: one get_record each). */
async function lookupFor(call: Call, xc: XeClass, fields: XeField[], recs: Rec[]): Promise<Lookup> {
  const needed = new Map<string, Set<string>>();
  const whole = [...new Set(fields.filter((f) => f.src === 'hosts').flatMap((f) => lookups(f, xc)))];
  for (const f of fields) {
    if (f.src === 'hosts') continue;
    for (const c of lookups(f, xc)) {
      const refs = needed.get(c) ?? new Set<string>();
      for (const r of recs) {
        const k = f.refCls ? sourceKey(f, r) : 'metrics';
        const v = k === undefined ? undefined : r[k];
        for (const x of Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [v])
          if (typeof x === 'string' && x !== NULL && x.startsWith('OpaqueRef:')) refs.add(x);
      }
      if (refs.size) needed.set(c, refs);
    }
  }
  const got = new Map<string, Record<string, Rec>>();
  await Promise.all(
    [...needed].map(async ([c, refs]) => {
      const all: Record<string, Rec> = {};
      await Promise.all(
        [...refs].map(async (r) => {
          try {
            all[r] = await call(`${c}.get_record`, r);
          } catch (e) {
            if (!(e instanceof Failure)) throw e;
          }
        }),
      );
      got.set(c, all);
    }),
  );
  const everything = whole.length ? await fetchLookup(call, whole) : undefined;
  return { rec: (c, ref) => got.get(c)?.[ref] ?? everything?.rec(c, ref), all: (c) => everything?.all(c) ?? Object.values(got.get(c) ?? {}) };
}

function field(xc: XeClass, name: string, rec: Rec | undefined): XeField {
  const f = xc.fields.find((x) => x.name === name);
  if (!f || (rec && !present(f, rec))) throw new MissingParam(name);
  return f;
}

/** xe's get_field_type: a plain field, `map:key` (or old `map-key`), or `set:contains`. */
function filterKind(xc: XeClass, k: string, rec: Rec): { f: XeField; kind: 'normal' } | { f: XeField; kind: 'map' | 'set'; key: string } {
  const visible = xc.fields.filter((f) => present(f, rec));
  const plain = visible.find((f) => f.name === k);
  if (plain) return { f: plain, kind: 'normal' };
  const isMap = (f: XeField) => f.tag === 'MRO' || f.tag === 'MRW';
  const isSet = (f: XeField) => f.tag === 'SRO' || f.tag === 'SRW' || (f.refCls !== undefined && Array.isArray(rec[sourceKey(f, rec) ?? '']));
  const colon = k.indexOf(':');
  if (colon >= 0) {
    const f = visible.find((x) => x.name === k.slice(0, colon));
    if (!f) throw new OpFailure(`Unknown field '${k}'`);
    if (isSet(f)) return { f, kind: 'set', key: k.slice(colon + 1) };
    if (isMap(f)) return { f, kind: 'map', key: k.slice(colon + 1) };
    throw new OpFailure(`Field '${f.name}' is not a set or map`);
  }
  const byLen = (a: XeField, b: XeField) => b.name.length - a.name.length;
  const m = visible
    .filter(isMap)
    .sort(byLen)
    .find((f) => k.startsWith(`${f.name}-`));
  if (m) return { f: m, kind: 'map', key: k.slice(m.name.length + 1) };
  const s = visible
    .filter(isSet)
    .sort(byLen)
    .find((f) => k.startsWith(`${f.name}-`));
  if (s) return { f: s, kind: 'set', key: k.slice(s.name.length + 1) };
  throw new OpFailure(`Unknown field '${k}'`);
}

function matches(xc: XeClass, rec: Rec, k: string, v: string, look: Lookup): boolean {
  const fk = filterKind(xc, k, rec);
  if (fk.kind === 'normal') {
    const got = show(fk.f, rec, look);
    return fk.f.ci ? got.toLowerCase() === v.toLowerCase() : got === v;
  }
  if (fk.kind === 'map') {
    const m = mapOf(fk.f, rec);
    return Object.prototype.hasOwnProperty.call(m, fk.key) && m[fk.key] === v;
  }
  if (fk.key !== 'contains') throw new OpFailure('Invalid syntax for set filtering (should be set-param:contains=key)');
  return setOf(fk.f, rec, look).includes(v);
}

/** The fields a filter key reads (for fetching lookups before filtering). */
function filterFields(xc: XeClass, keys: string[]): XeField[] {
  return keys.map((k) => xc.fields.find((f) => f.name === k || k.startsWith(`${f.name}:`) || k.startsWith(`${f.name}-`))).filter((f): f is XeField => !!f);
}

/** One record printed: the visible fields in xe's order (all, or those named by params=). */
function printable(xc: XeClass, rec: Rec, look: Lookup, names: string[] | undefined, inList: boolean): [string, string][] {
  return xc.fields.filter((f) => present(f, rec) && (!names || names.includes(f.name))).map((f) => [label(f), show(f, rec, look, inList)]);
}

function paramsArg(p: Map<string, string>, defaults: string[]): string[] | undefined {
  const v = p.get('params');
  if (v === undefined) return defaults;
  if (v === 'all') return undefined;
  return v.split(',');
}

async function objectRef(call: Call, xc: XeClass, uuid: string): Promise<string> {
  return call(`${xc.cls}.get_by_uuid`, uuid);
}

// ---- the generated commands of each class (cli_operations.ml make_param_funs) -----------------

function classCommands(xc: XeClass): Command[] {
  const n = (s: string) => `${xc.xe}-${s}`;
  const all = xc.fields.map((f) => f.name);
  const settable = [
    ...xc.fields.filter((f) => f.tag === 'RW').map((f) => f.name),
    ...xc.fields.filter((f) => f.tag === 'MRW' || f.setInMap).map((f) => `${f.name}:`),
  ];
  const cmds: Command[] = [];
  const one = async (c: Ctx) => {
    const ref = await objectRef(c.call, xc, c.params.get('uuid')!);
    const rec: Rec = await c.call(`${xc.cls}.get_record`, ref);
    return { ref, rec };
  };
  cmds.push({
    name: n('list'),
    reqd: [],
    std: ['vm', 'network'].includes(xc.xe),
    optn: ['params', ...all, ...xc.fields.filter((f) => f.tag.startsWith('S')).map((f) => `${f.name}:contains`)],
    help: `Lists the ${xc.xe}s, filtered on any of their fields (field=value; a map entry as map-field:key=value; a set member as set-field:contains=value). params=f1,f2 or params=all chooses the fields printed.`,
    async run(c) {
      const filters = [...(xc.defFilters ?? []), ...[...c.params].filter(([k]) => k !== 'params' && !STD_PARAMS.has(k) && !k.startsWith('database:'))];
      const names = paramsArg(c.params, xc.listDefault);
      const shown = names ? xc.fields.filter((f) => names.includes(f.name)) : xc.fields;
      // The objects and what their fields point at are fetched at once: one round trip.
      const [recs, look] = await Promise.all([
        c.call<Record<string, Rec>>(`${xc.cls}.get_all_records`),
        fetchLookup(
          c.call,
          lookupClasses(xc, [
            ...shown,
            ...filterFields(
              xc,
              filters.map(([k]) => k),
            ),
          ]),
        ),
      ]);
      const rows = Object.values(recs);
      const sample = rows[0];
      if (names && sample) for (const nm of names) field(xc, nm, sample);
      if (sample) for (const [k] of filters) filterKind(xc, k, sample);
      else
        for (const [k] of filters)
          if (!xc.fields.some((f) => f.name === k || k.startsWith(`${f.name}:`) || k.startsWith(`${f.name}-`))) throw new OpFailure(`Unknown field '${k}'`);
      const printAll = c.params.get('all') === 'true';
      const kept = rows.filter((r) => filters.every(([k, v]) => matches(xc, r, k, v, look)));
      c.emit({ kind: 'table', records: (printAll ? rows : kept).map((r) => printable(xc, r, look, names, true)) });
    },
  });
  cmds.push({
    name: n('param-list'),
    reqd: ['uuid'],
    optn: [],
    help: 'Lists every field of the object with this uuid.',
    async run(c) {
      const { rec } = await one(c);
      const look = await lookupFor(c.call, xc, xc.fields, [rec]);
      c.emit({ kind: 'table', records: [printable(xc, rec, look, undefined, false)] });
    },
  });
  cmds.push({
    name: n('param-get'),
    reqd: ['uuid', 'param-name'],
    optn: ['param-key'],
    help: "Prints one field of the object. For a map field, param-key=<key> prints that key's value.",
    async run(c) {
      const { rec } = await one(c);
      const f = field(xc, c.params.get('param-name')!, rec);
      const look = await lookupFor(c.call, xc, [f], [rec]);
      const key = c.params.get('param-key');
      if (key !== undefined && (f.tag === 'MRO' || f.tag === 'MRW')) {
        const m = mapOf(f, rec);
        if (!Object.prototype.hasOwnProperty.call(m, key)) throw new OpFailure(`Key ${key} not found in map`);
        c.emit({ kind: 'list', lines: [m[key]] });
      } else c.emit({ kind: 'list', lines: [show(f, rec, look)] });
    },
  });
  if (settable.length) {
    cmds.push({
      name: n('param-set'),
      reqd: ['uuid'],
      optn: settable,
      help: 'Sets fields of the object: field=value, and map entries as map-field:key=value.',
      async run(c) {
        const { ref, rec } = await one(c);
        for (const [k, v] of c.params) {
          if (k === 'uuid' || STD_PARAMS.has(k)) continue;
          const colon = k.indexOf(':');
          const f = xc.fields.find((x) => x.name === (colon >= 0 ? k.slice(0, colon) : k) && present(x, rec));
          if (!f) throw new OpFailure(`Unknown field '${k}'`);
          if (colon >= 0) {
            if (f.tag.startsWith('S')) throw new OpFailure('Cannot param-set on set fields');
            if (!f.tag.startsWith('M')) throw new OpFailure(`Field '${f.name}' is not a set or map`);
            const key = k.slice(colon + 1);
            if (f.setInMap) await c.call(`${xc.cls}.${f.setInMap}`, ref, key, v);
            else if (f.tag === 'MRW') {
              if (Object.prototype.hasOwnProperty.call(mapOf(f, rec), key)) await c.call(`${xc.cls}.remove_from_${sourceKey(f, rec)}`, ref, key);
              await c.call(`${xc.cls}.add_to_${sourceKey(f, rec)}`, ref, key, v);
            } else throw new OpFailure(`Map field '${f.name}' is read-only.`);
            continue;
          }
          if (f.tag !== 'RW' && !SET_SETTABLE.has(f.name)) {
            if (f.tag === 'MRW') throw new OpFailure(`Field '${k}' is a map or set. use the 'name:key=value' syntax.`);
            throw new OpFailure(`Field '${k}' is read-only.`);
          }
          // Pool fields computed over the hosts are set with the pool's own setter (set_https_only).
          const setter = f.src === 'hosts' ? f.name.replace(/-/g, '_') : sourceKey(f, rec);
          await c.call(`${xc.cls}.set_${setter}`, ref, await wireValue(c.call, f, rec, v, k));
        }
      },
    });
  }
  const addable = xc.fields.filter((f) => f.tag === 'SRW' || f.tag === 'MRW');
  if (addable.length) {
    cmds.push({
      name: n('param-add'),
      reqd: ['uuid', 'param-name'],
      optn: ['param-key'],
      help: 'Adds to a set field (param-key=<member>) or a map field (key=value pairs).',
      async run(c) {
        const { ref, rec } = await one(c);
        const f = field(xc, c.params.get('param-name')!, rec);
        const src = sourceKey(f, rec);
        if (f.tag === 'SRW') {
          const key = c.params.get('param-key');
          if (key === undefined) throw new OpFailure('When adding a key to a set, use the syntax: *-param-add param-name=<name> param-key=<key>');
          await c.call(`${xc.cls}.add_${src}`, ref, memberValue(f, key));
        } else if (f.tag === 'MRW') {
          for (const [k, v] of c.params)
            if (!['uuid', 'param-name', 'param-key'].includes(k) && !STD_PARAMS.has(k)) await c.call(`${xc.cls}.add_to_${src}`, ref, k, v);
        } else if (f.tag === 'SRO' || f.tag === 'MRO') throw new OpFailure('Parameter is read-only');
        else throw new OpFailure('Can only add to parameters of type Set or Map');
      },
    });
    cmds.push({
      name: n('param-remove'),
      reqd: ['uuid', 'param-name', 'param-key'],
      optn: [],
      help: 'Removes a member of a set field or a key of a map field.',
      async run(c) {
        const { ref, rec } = await one(c);
        const f = field(xc, c.params.get('param-name')!, rec);
        const key = c.params.get('param-key')!;
        const src = sourceKey(f, rec);
        if (f.tag === 'SRW') {
          if (!setOf(f, rec, NO_LOOKUP).includes(key)) throw new OpFailure(`Key ${key} is not in the set`);
          await c.call(`${xc.cls}.remove_${src}`, ref, memberValue(f, key));
        } else if (f.tag === 'MRW') {
          if (!Object.prototype.hasOwnProperty.call(mapOf(f, rec), key)) throw new OpFailure(`Key ${key} is not in map`);
          await c.call(`${xc.cls}.remove_from_${src}`, ref, key);
        } else if (f.tag === 'SRO' || f.tag === 'MRO') throw new OpFailure('Cannot remove parameters from read-only map');
        else throw new OpFailure('Can only remove from parameters of type Set or Map');
      },
    });
  }
  const clearable = xc.fields.filter((f) => f.tag === 'RW' || f.tag.startsWith('S') || f.tag.startsWith('M'));
  if (clearable.length) {
    cmds.push({
      name: n('param-clear'),
      reqd: ['uuid', 'param-name'],
      optn: [],
      help: `Clears a field (param-name can be ${clearable.map((f) => f.name).join(',')}).`,
      async run(c) {
        const { ref, rec } = await one(c);
        const f = field(xc, c.params.get('param-name')!, rec);
        const src = sourceKey(f, rec)!;
        if (f.tag === 'SRW') {
          for (const m of setOf(f, rec, NO_LOOKUP)) await c.call(`${xc.cls}.remove_${src}`, ref, memberValue(f, m));
        } else if (f.tag === 'MRW') {
          for (const k of Object.keys(mapOf(f, rec))) await c.call(`${xc.cls}.remove_from_${src}`, ref, k);
        } else if (f.tag === 'RW') {
          try {
            await c.call(`${xc.cls}.set_${src}`, ref, await wireValue(c.call, f, rec, '', f.name));
          } catch {
            throw new OpFailure('Cannot clear this parameter');
          }
        } else throw new OpFailure('Can only clear RW parameters');
      },
    });
  }
  return cmds;
}

/** Set fields records.ml also lets param-set replace whole (`ipv4-allowed=a,b`). */
const SET_SETTABLE = new Set(['ipv4-allowed', 'ipv6-allowed', 'trunks']);

function memberValue(f: XeField, v: string): unknown {
  if (f.name === 'trunks') {
    if (!/^-?\d+$/.test(v)) throw new CliError("Failed to parse parameter 'value': expecting an integer");
    return Number(v);
  }
  return v;
}

/** A CLI string turned into the wire value of an RW field, typed like the field's current value. */
async function wireValue(call: Call, f: XeField, rec: Rec, v: string, k: string): Promise<unknown> {
  const key = sourceKey(f, rec);
  const cur = key === undefined ? (f.name === 'https-only' || f.name === 'ssh-auto-mode' ? false : f.name.endsWith('timeout') ? 0 : '') : rec[key];
  if (f.refCls) return v === '' ? NULL : call(`${f.refCls}.get_by_uuid`, v);
  if (Array.isArray(cur)) return v === '' ? [] : v.split(',').map((x) => memberValue(f, x));
  if (typeof cur === 'boolean') {
    if (v !== 'true' && v !== 'false') throw new OpFailure(`Parameter ${k} must be a boolean (true or false)`);
    return v === 'true';
  }
  if (typeof cur === 'number' && Number.isInteger(cur)) {
    if (!/^[+-]?\d+$/.test(v)) throw new OpFailure(`Parameter ${k} must be an integer`);
    return Number(v);
  }
  if (typeof cur === 'number') {
    if (Number.isNaN(Number(v)) || v.trim() === '') throw new OpFailure(`Parameter ${k} must be a floating-point number`);
    return Number(v);
  }
  return v;
}

// ---- hand-written commands (cli_operations.ml) -------------------------------------------------

const req = (c: Ctx, k: string) => c.params.get(k)!;
const opt = (c: Ctx, k: string, d = '') => c.params.get(k) ?? d;
/** xe's case-insensitive optional read (pif-reconfigure-ip's IP= and DNS=). */
const optCi = (c: Ctx, k: string) => [...c.params].find(([x]) => x.toLowerCase() === k.toLowerCase())?.[1] ?? '';
const boolParam = (c: Ctx, k: string, d: boolean) => {
  const v = c.params.get(k);
  if (v === undefined) return d;
  if (v !== 'true' && v !== 'false') throw new OpFailure(`Parameter ${k} must be a boolean (true or false)`);
  return v === 'true';
};
const byUuid = (c: Ctx, cls: string, k: string) => c.call<string>(`${cls}.get_by_uuid`, req(c, k));
const uuidOut = async (c: Ctx, cls: string, ref: string) => c.emit({ kind: 'list', lines: [await c.call<string>(`${cls}.get_uuid`, ref)] });
/** A writing call, through `Async.` with a progress bar when --progress was given. */
async function act<T = any>(c: Ctx, method: string, ...params: unknown[]): Promise<T> {
  if (!c.progress) return c.call<T>(method, ...params);
  return asyncWithProgress(c, method, params) as Promise<T>;
}

/**
 * Asks `Type 'yes' to continue` and reads the answer (Cli_util.user_says_yes): true for "yes" in
 * any case with blanks around it; anything else prints `Aborted (you typed: '…')` and is false.
 */
async function userSaysYes(c: Ctx): Promise<boolean> {
  c.print("Type 'yes' to continue");
  const answer = await c.prompt();
  const yes = answer.trim().toLowerCase() === 'yes';
  if (!yes) c.print(`Aborted (you typed: '${answer}')`);
  return yes;
}

/** Readable mode names as xe takes them (Record_util.*_of_string: case-insensitive). */
function enumArg(v: string, values: string[], what: string): string {
  const hit = values.find((x) => x.toLowerCase() === v.toLowerCase());
  if (hit === undefined) throw new CliError(`Unknown ${what} "${v}" (expected one of: ${values.join(', ')})`);
  return hit;
}

const FIXED: Command[] = [
  {
    name: 'bond-create',
    reqd: ['network-uuid', 'pif-uuids'],
    optn: ['mac', 'mode', 'properties:'],
    help: "Creates a bond of the given PIFs on the given network; prints the bond's uuid.",
    async run(c) {
      const network = await byUuid(c, 'network', 'network-uuid');
      const pifs = await Promise.all(
        req(c, 'pif-uuids')
          .split(',')
          .map((u) => c.call<string>('PIF.get_by_uuid', u)),
      );
      const modeArg = opt(c, 'mode');
      const mode = modeArg === '' ? 'balance-slb' : enumArg(modeArg, ['balance-slb', 'active-backup', 'lacp'], 'bond mode');
      const properties: Record<string, string> = Object.create(null); // keys as typed
      for (const [k, v] of c.params) if (k.startsWith('properties:')) properties[k.slice(11)] = v;
      await uuidOut(c, 'Bond', await act(c, 'Bond.create', network, pifs, opt(c, 'mac'), mode, properties));
    },
  },
  {
    name: 'bond-destroy',
    reqd: ['uuid'],
    optn: [],
    help: 'Destroys a bond.',
    async run(c) {
      await act(c, 'Bond.destroy', await byUuid(c, 'Bond', 'uuid'));
    },
  },
  {
    name: 'bond-set-mode',
    reqd: ['uuid', 'mode'],
    optn: [],
    help: 'Changes the bond mode.',
    async run(c) {
      const mode = opt(c, 'mode') === '' ? 'balance-slb' : enumArg(opt(c, 'mode'), ['balance-slb', 'active-backup', 'lacp'], 'bond mode');
      await act(c, 'Bond.set_mode', await byUuid(c, 'Bond', 'uuid'), mode);
    },
  },
  {
    name: 'vlan-create',
    reqd: ['pif-uuid', 'vlan', 'network-uuid'],
    optn: [],
    help: 'Creates a VLAN on a host; prints the uuid of the new VLAN PIF.',
    async run(c) {
      const network = await byUuid(c, 'network', 'network-uuid');
      const pif = await byUuid(c, 'PIF', 'pif-uuid');
      const tag = req(c, 'vlan');
      if (!/^-?\d+$/.test(tag)) throw new CliError("Failed to parse parameter 'vlan': expecting an integer");
      const vlan = await act(c, 'VLAN.create', pif, Number(tag), network);
      await uuidOut(c, 'PIF', await c.call('VLAN.get_untagged_PIF', vlan));
    },
  },
  {
    name: 'vlan-destroy',
    reqd: ['uuid'],
    optn: [],
    help: 'Destroys a VLAN (uuid of the VLAN, or of its PIF).',
    async run(c) {
      try {
        await act(c, 'VLAN.destroy', await byUuid(c, 'VLAN', 'uuid'));
      } catch (e) {
        if (e instanceof Failure && (e.desc[0] === 'HANDLE_INVALID' || e.desc[0] === 'HOST_OFFLINE')) throw e;
        let pif: string | undefined;
        try {
          pif = await byUuid(c, 'PIF', 'uuid');
        } catch {
          /* not a PIF either */
        }
        if (!pif) throw e;
        await act(c, 'PIF.destroy', pif);
      }
    },
  },
  {
    name: 'tunnel-create',
    reqd: ['pif-uuid', 'network-uuid'],
    optn: ['protocol'],
    help: 'Creates a tunnel on a host (protocol gre or vxlan); prints the uuid of the access PIF.',
    async run(c) {
      const network = await byUuid(c, 'network', 'network-uuid');
      const pif = await byUuid(c, 'PIF', 'pif-uuid');
      const protocol = enumArg(opt(c, 'protocol', 'gre'), ['gre', 'vxlan'], 'tunnel protocol');
      const t = await act(c, 'tunnel.create', pif, network, protocol);
      await uuidOut(c, 'PIF', await c.call('tunnel.get_access_PIF', t));
    },
  },
  {
    name: 'tunnel-destroy',
    reqd: ['uuid'],
    optn: [],
    help: 'Destroys a tunnel.',
    async run(c) {
      await act(c, 'tunnel.destroy', await byUuid(c, 'tunnel', 'uuid'));
    },
  },
  {
    name: 'pif-unplug',
    reqd: ['uuid'],
    optn: [],
    help: 'Brings a network interface down.',
    async run(c) {
      await act(c, 'PIF.unplug', await byUuid(c, 'PIF', 'uuid'));
    },
  },
  {
    name: 'pif-plug',
    reqd: ['uuid'],
    optn: [],
    help: 'Brings a network interface up.',
    async run(c) {
      await act(c, 'PIF.plug', await byUuid(c, 'PIF', 'uuid'));
    },
  },
  {
    name: 'pif-reconfigure-ip',
    reqd: ['uuid', 'mode'],
    optn: ['IP', 'netmask', 'gateway', 'DNS'],
    help: 'Reconfigures the IPv4 settings of a PIF (mode dhcp, static or none).',
    async run(c) {
      const pif = await byUuid(c, 'PIF', 'uuid');
      const mode = enumArg(req(c, 'mode'), ['None', 'DHCP', 'Static'], 'IP configuration mode');
      await act(c, 'PIF.reconfigure_ip', pif, mode, optCi(c, 'IP'), opt(c, 'netmask'), opt(c, 'gateway'), optCi(c, 'DNS'));
    },
  },
  {
    name: 'pif-reconfigure-ipv6',
    reqd: ['uuid', 'mode'],
    optn: ['IPv6', 'gateway', 'DNS'],
    help: 'Reconfigures the IPv6 settings of a PIF (mode dhcp, static, autoconf or none).',
    async run(c) {
      const pif = await byUuid(c, 'PIF', 'uuid');
      const mode = enumArg(req(c, 'mode'), ['None', 'DHCP', 'Static', 'Autoconf'], 'IPv6 configuration mode');
      await act(c, 'PIF.reconfigure_ipv6', pif, mode, optCi(c, 'IPv6'), opt(c, 'gateway'), optCi(c, 'DNS'));
    },
  },
  {
    name: 'pif-set-primary-address-type',
    reqd: ['uuid', 'primary_address_type'],
    optn: [],
    help: 'Changes the primary address type of a PIF (ipv4 or ipv6).',
    async run(c) {
      const pif = await byUuid(c, 'PIF', 'uuid');
      await act(c, 'PIF.set_primary_address_type', pif, enumArg(req(c, 'primary_address_type'), ['IPv4', 'IPv6'], 'primary address type'));
    },
  },
  {
    name: 'pif-scan',
    reqd: ['host-uuid'],
    optn: [],
    help: 'Scans a host for new physical interfaces.',
    async run(c) {
      await act(c, 'PIF.scan', await byUuid(c, 'host', 'host-uuid'));
    },
  },
  {
    name: 'pif-introduce',
    reqd: ['host-uuid', 'device'],
    optn: ['mac', 'managed'],
    help: 'Creates a PIF for a physical interface of a host; prints its uuid.',
    async run(c) {
      const host = await byUuid(c, 'host', 'host-uuid');
      await uuidOut(c, 'PIF', await act(c, 'PIF.introduce', host, opt(c, 'mac'), req(c, 'device'), boolParam(c, 'managed', true)));
    },
  },
  {
    name: 'pif-forget',
    reqd: ['uuid'],
    optn: [],
    help: 'Destroys the PIF object of a host.',
    async run(c) {
      await act(c, 'PIF.forget', await byUuid(c, 'PIF', 'uuid'));
    },
  },
  {
    name: 'pif-db-forget',
    reqd: ['uuid'],
    optn: [],
    hidden: true,
    help: 'Destroys the database object of a PIF, leaving the host as it is.',
    async run(c) {
      await act(c, 'PIF.db_forget', await byUuid(c, 'PIF', 'uuid'));
    },
  },
  {
    name: 'network-create',
    reqd: ['name-label'],
    optn: ['name-description', 'MTU', 'bridge', 'managed'],
    help: 'Creates a network; prints its uuid.',
    async run(c) {
      const mtu = opt(c, 'MTU', '1500');
      if (!/^-?\d+$/.test(mtu)) throw new OpFailure('int_of_string');
      const rec = {
        name_label: req(c, 'name-label'),
        name_description: opt(c, 'name-description'),
        MTU: Number(mtu),
        other_config: {},
        bridge: opt(c, 'bridge'),
        managed: boolParam(c, 'managed', true),
        tags: [],
      };
      await uuidOut(c, 'network', await act(c, 'network.create', rec));
    },
  },
  {
    name: 'network-destroy',
    reqd: ['uuid'],
    optn: [],
    help: 'Destroys a network.',
    async run(c) {
      await act(c, 'network.destroy', await byUuid(c, 'network', 'uuid'));
    },
  },
  {
    name: 'network-attach',
    reqd: ['uuid', 'host-uuid'],
    optn: [],
    hidden: true,
    help: 'Makes a network appear on a host.',
    async run(c) {
      await act(c, 'network.attach', await byUuid(c, 'network', 'uuid'), await byUuid(c, 'host', 'host-uuid'));
    },
  },
  {
    name: 'vif-create',
    reqd: ['device', 'network-uuid', 'vm-uuid'],
    optn: ['mac'],
    help: 'Creates a VIF of a VM on a network (mac=aa:bb:cc:dd:ee:ff, or the server chooses); prints its uuid.',
    async run(c) {
      const vm = await byUuid(c, 'VM', 'vm-uuid');
      const network = await byUuid(c, 'network', 'network-uuid');
      let mac = opt(c, 'mac');
      if (mac === 'random') mac = randomMac();
      const mtu = await c.call('network.get_MTU', network);
      const rec = {
        device: req(c, 'device'),
        network,
        VM: vm,
        MAC: mac,
        MTU: mtu,
        other_config: {},
        currently_attached: false,
        qos_algorithm_type: '',
        qos_algorithm_params: {},
        locking_mode: 'network_default',
        ipv4_allowed: [],
        ipv6_allowed: [],
        trunks: [],
      };
      await uuidOut(c, 'VIF', await act(c, 'VIF.create', rec));
    },
  },
  {
    name: 'vif-destroy',
    reqd: ['uuid'],
    optn: [],
    help: 'Destroys a VIF.',
    async run(c) {
      await act(c, 'VIF.destroy', await byUuid(c, 'VIF', 'uuid'));
    },
  },
  {
    name: 'vif-plug',
    reqd: ['uuid'],
    optn: [],
    help: 'Attaches a VIF of a running VM.',
    async run(c) {
      await act(c, 'VIF.plug', await byUuid(c, 'VIF', 'uuid'));
    },
  },
  {
    name: 'vif-unplug',
    reqd: ['uuid'],
    optn: ['force'],
    help: 'Detaches a VIF of a running VM (--force: at once).',
    async run(c) {
      await act(c, boolParam(c, 'force', false) ? 'VIF.unplug_force' : 'VIF.unplug', await byUuid(c, 'VIF', 'uuid'));
    },
  },
  {
    name: 'vif-move',
    reqd: ['uuid', 'network-uuid'],
    optn: [],
    help: 'Moves a VIF to another network.',
    async run(c) {
      await act(c, 'VIF.move', await byUuid(c, 'VIF', 'uuid'), await byUuid(c, 'network', 'network-uuid'));
    },
  },
  ...(['ipv4', 'ipv6'] as const).map((v): Command => ({
    name: `vif-configure-${v}`,
    reqd: ['uuid', 'mode'],
    optn: ['address', 'gateway'],
    help: `Sets the ${v === 'ipv4' ? 'IPv4' : 'IPv6'} settings of a VIF, for the guest agent to apply.`,
    async run(c) {
      const vif = await byUuid(c, 'VIF', 'uuid');
      const mode = enumArg(req(c, 'mode'), v === 'ipv4' ? ['None', 'Static', 'DHCP'] : ['None', 'Static', 'Autoconf'], `${v} configuration mode`);
      // cli_operations.ml checks this before the call (a failwith, so an INTERNAL_ERROR as in xe).
      if (mode === 'Static' && opt(c, 'address') === '') throw new OpFailure('Required parameter not found: address');
      await act(c, `VIF.configure_${v}`, vif, mode, opt(c, 'address'), opt(c, 'gateway'));
    },
  })),
  {
    name: 'host-management-reconfigure',
    reqd: ['pif-uuid'],
    optn: [],
    help: 'Moves the management interface of a host to this PIF.',
    async run(c) {
      await act(c, 'host.management_reconfigure', await byUuid(c, 'PIF', 'pif-uuid'));
    },
  },
  {
    name: 'host-management-disable',
    reqd: [],
    optn: [],
    help: 'Disables the management interface of the host addressed.',
    async run(c) {
      await act(c, 'host.management_disable');
    },
  },
  {
    name: 'pool-management-reconfigure',
    reqd: ['network-uuid'],
    optn: [],
    help: 'Moves the management interface of every host of the pool to this network.',
    async run(c) {
      await act(c, 'pool.management_reconfigure', await byUuid(c, 'network', 'network-uuid'));
    },
  },
  {
    name: 'pool-join',
    reqd: ['master-address', 'master-username', 'master-password'],
    optn: ['force'],
    help: 'Makes the host addressed join the pool of the given master.',
    async run(c) {
      try {
        await c.call(
          boolParam(c, 'force', false) ? 'pool.join_force' : 'pool.join',
          req(c, 'master-address'),
          req(c, 'master-username'),
          req(c, 'master-password'),
        );
        c.forgetSessions();
        c.emit({ kind: 'list', lines: ['Host agent will restart and attempt to join pool in 10.000 seconds...'] });
      } catch (e) {
        if (!(e instanceof Failure) || e.desc[0] !== 'POOL_JOINING_HOST_CONNECTION_FAILED') throw e;
        c.emit({
          kind: 'list',
          lines: ['Host cannot contact destination host: connection refused.', 'Check destination host has services running and accessible from this host.'],
        });
      }
    },
  },
  {
    name: 'pool-eject',
    reqd: ['host-uuid'],
    optn: [],
    help: 'Makes a host leave the pool.',
    async run(c) {
      const host = await byUuid(c, 'host', 'host-uuid');
      // Without --force xe warns and asks first (cli_operations.ml pool_eject, Cli_util.user_says_yes);
      // the daemon has no SRs, so there are no VDIs to list.
      if (!boolParam(c, 'force', false)) {
        c.print("WARNING: Ejecting a host from the pool will reinitialise that host's local SRs.");
        c.print('WARNING: Any data contained with the local SRs will be lost.');
        if (!(await userSaysYes(c))) return;
      }
      await c.call('pool.eject', host);
      c.forgetSessions();
      c.emit({ kind: 'list', lines: ['Specified host will attempt to restart as a master of a new pool in 10.000 seconds...'] });
    },
  },
  {
    name: 'pool-designate-new-master',
    reqd: ['host-uuid'],
    optn: [],
    help: 'Hands the master role over to another host of the pool.',
    async run(c) {
      await act(c, 'pool.designate_new_master', await byUuid(c, 'host', 'host-uuid'));
      c.forgetSessions();
    },
  },
  {
    name: 'vm-create',
    reqd: ['name-label'],
    optn: ['name-description'],
    hidden: true,
    help: 'Creates a VM record (no disks, no devices).',
    async run(c) {
      await uuidOut(c, 'VM', await act(c, 'VM.create', { name_label: req(c, 'name-label'), name_description: opt(c, 'name-description') }));
    },
  },
  {
    name: 'event-wait',
    reqd: ['class'],
    optn: [],
    help: 'Waits until an object of the class satisfies the conditions given as field=value (or field=/=value for "not equal").',
    async run(c) {
      await eventWait(c);
    },
  },
];

function randomMac(): string {
  const b = [0x02, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * 256))];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

// ---- event-wait (cli_operations.ml event_wait) -------------------------------------------------

async function eventWait(c: Ctx): Promise<void> {
  const xc = xeClass(c.params.get('class') ?? '');
  if (!xc) throw new OpFailure(`Cli listening for class '${c.params.get('class')}' not currently implemented`);
  const conds = [...c.params]
    .filter(([k]) => k !== 'class' && !STD_PARAMS.has(k))
    .map(([k, v]) => (v.startsWith('/=') ? { k, v: v.slice(2), ne: true } : { k, v, ne: false }));
  const fields = conds.map(({ k }) => xc.fields.find((f) => f.name === k));
  const satisfied = async (): Promise<boolean> => {
    const [recs, look] = await Promise.all([
      c.call<Record<string, Rec>>(`${xc.cls}.get_all_records`),
      fetchLookup(
        c.call,
        lookupClasses(
          xc,
          fields.filter((f): f is XeField => !!f),
        ),
      ),
    ]);
    const rows = Object.values(recs);
    return rows.some((r) =>
      conds.every(({ k, v, ne }, i) => {
        const f = fields[i];
        if (!f || !present(f, r)) throw new OpFailure(`key missing: ${k}`);
        return (show(f, r, look) === v) !== ne;
      }),
    );
  };
  let token = '';
  const cls = xc.cls.toLowerCase();
  // Subscribe first, then look: a change between the two is still seen.
  token = (await c.call<{ token: string }>('event.from', [cls], token, 0)).token;
  while (!(await satisfied())) {
    for (;;) {
      const r = await c.call<{ token: string; events: unknown[] }>('event.from', [cls], token, 30);
      token = r.token;
      if (r.events.length) break;
    }
  }
}

// ---- Async calls with progress (--progress) ----------------------------------------------------

async function asyncWithProgress(c: Ctx, method: string, params: unknown[]): Promise<unknown> {
  const task = await c.call<string>(`Async.${method}`, ...params);
  let token = '';
  let shown = -1;
  // xe's line (cli_operations.ml progress_bar: `\r %3d%% %c <70 * progress hashes>`, each a
  // PStderr, so newline-terminated), drawn when the percentage changes.
  const draw = (p: number) => {
    const pct = Math.trunc(p * 100);
    if (pct === shown) return;
    shown = pct;
    process.stderr.write(`\r ${String(pct).padStart(3)}% ${'|/-\\'[pct % 4]} ${'#'.repeat(Math.trunc(p * 70))}\n`);
  };
  draw(0);
  for (;;) {
    const rec = await c.call<Rec>('task.get_record', task);
    draw(Number(rec.progress) || 0);
    if (rec.status !== 'pending') {
      process.stderr.write('\n\n'); // xe's PStderr "\n" after the bar
      await c.call('task.destroy', task).catch(() => undefined);
      if (rec.status === 'success') return taskResult(String(rec.result ?? ''));
      throw new Failure(rec.error_info as string[]);
    }
    const r = await c.call<{ token: string }>('event.from', [`task/${task}`], token, 5);
    token = r.token;
  }
}

/** A task's result is an XML-RPC <value> fragment; a networking command's is a ref or nothing. */
function taskResult(xml: string): string {
  const m = /<value>(?:<string>)?([^<]*)(?:<\/string>)?<\/value>/.exec(xml);
  return m
    ? m[1]
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&')
    : xml;
}

// ---- the table ----------------------------------------------------------------------------------

let table: Map<string, Command> | undefined;

/** Every command by name: the fixed ones, then each class's generated ones. */
export function commands(): Map<string, Command> {
  if (!table) {
    table = new Map();
    for (const c of FIXED) table.set(c.name, c);
    for (const xc of allXeClasses()) for (const c of classCommands(xc)) table.set(c.name, c);
  }
  return table;
}

/** One command by name, building only its class's commands. */
export function command(name: string): Command | undefined {
  const fixed = FIXED.find((c) => c.name === name);
  if (fixed) return fixed;
  const prefix = XE_PREFIXES.find((p) => name.startsWith(`${p}-`));
  return prefix ? classCommands(xeClass(prefix)!).find((c) => c.name === name) : undefined;
}
