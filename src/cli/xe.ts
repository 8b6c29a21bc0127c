#!/usr/bin/env node
// xe-netd: an xe-style command line for operators. It is only a XenAPI client (XML-RPC through
// the `xmlrpc` package); the commands are derived from the datamodel as xe's are:
//   <class>-list [field=value ...] [params=f1,f2|all]   records, filtered like xe
//   <class>-param-get uuid=U param-name=F               one field
//   <class>-param-set uuid=U F=V [F2=V2]                RW fields
//   <class>-<message> [arg=value ...]                   any message: refs by uuid (`network-uuid=`),
//                                                       ref sets by `pif-uuids=a,b`, maps by `properties:k=v`
// Connection: -s HOST -p PORT -u USER -pw PASSWORD, or XE_NETD_URL / XE_NETD_USER / XE_NETD_PASSWORD.
import xmlrpc from 'xmlrpc';
import { classes, type ClassDef, type ParamDef, type Ty } from '../../schema/index.js';

/** A XenAPI Failure raised by the daemon. */
class Failure extends Error {
  constructor(readonly desc: string[]) {
    super(desc.join(' '));
  }
}

interface Conn {
  call(method: string, ...params: unknown[]): Promise<any>;
}

function connect(url: URL): Conn {
  const client = xmlrpc.createClient({ host: url.hostname, port: Number(url.port || 80), path: url.pathname || '/' });
  return {
    call: (method, ...params) =>
      new Promise((resolve, reject) =>
        client.methodCall(method, params, (err: unknown, v: any) => {
          if (err) return reject(err);
          if (v?.Status === 'Success') return resolve(v.Value);
          if (v?.Status === 'Failure') return reject(new Failure(v.ErrorDescription));
          resolve(v);
        }),
      ),
  };
}

/** xe spells names with dashes: `network-uuid`, `name-label`. */
const dash = (s: string) => s.replace(/_/g, '-');
const undash = (s: string) => s.replace(/-/g, '_');
const classOf = (prefix: string): ClassDef | undefined => classes.find((c) => dash(c.name).toLowerCase() === prefix.toLowerCase());

/** Splits `cmd` into a class and the rest, longest class name first (`pif-metrics-list`). */
function splitCommand(cmd: string): { cls: ClassDef; rest: string } | undefined {
  const parts = cmd.split('-');
  for (let i = parts.length - 1; i >= 1; i--) {
    const cls = classOf(parts.slice(0, i).join('-'));
    if (cls) return { cls, rest: parts.slice(i).join('-') };
  }
  return undefined;
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.join('; ');
  if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${String(x)}`).join('; ');
  return String(v);
}

function printRecord(rec: Record<string, unknown>, params: string[] | 'all', cls: ClassDef): void {
  const fields = params === 'all' ? cls.fields.filter((f) => !f.internal).map((f) => f.name) : params;
  const width = Math.max(...fields.map((f) => dash(f).length));
  for (const f of fields) {
    const q = cls.fields.find((x) => x.name === f)?.qual === 'RW' ? 'RW' : 'RO';
    console.log(`${dash(f).padStart(width)} ( ${q}): ${show(rec[f])}`);
  }
  console.log('');
}

async function toWire(c: Conn, p: ParamDef, args: Map<string, string>): Promise<unknown> {
  const name = p.name === 'self' || p.name === 'task' && p.ty.k === 'ref' ? 'uuid' : dash(p.name);
  const ty: Ty = p.ty;
  const lower = new Map([...args].map(([k, v]) => [k.toLowerCase(), v]));
  const get = (k: string) => args.get(k) ?? args.get(undash(k)) ?? lower.get(k.toLowerCase()) ?? lower.get(undash(k).toLowerCase());
  if (ty.k === 'ref') {
    const uuid = get(name === 'uuid' ? 'uuid' : `${name}-uuid`) ?? get(name);
    if (uuid === undefined) return missing(p);
    return uuid.startsWith('OpaqueRef:') ? uuid : c.call(`${ty.cls}.get_by_uuid`, session, uuid);
  }
  if (ty.k === 'set' && ty.of.k === 'ref') {
    const list = get(`${name}-uuids`) ?? get(name);
    if (list === undefined) return missing(p);
    const cls = ty.of.cls;
    return Promise.all(list.split(',').filter(Boolean).map((u) => (u.startsWith('OpaqueRef:') ? u : c.call(`${cls}.get_by_uuid`, session, u))));
  }
  if (ty.k === 'map') {
    const m: Record<string, string> = {};
    for (const [k, v] of args) if (k.startsWith(`${name}:`)) m[k.slice(name.length + 1)] = v;
    return m;
  }
  const v = get(name);
  if (v === undefined) return missing(p);
  if (ty.k === 'set') return v.split(',').filter(Boolean);
  if (ty.k === 'bool') return v === 'true' || v === 'yes' || v === '1';
  return v; // ints travel as strings, as XenAPI clients send them
}

function missing(p: ParamDef): unknown {
  if (p.default !== undefined) return p.default;
  if (p.ty.k === 'string') return ''; // xe leaves optional strings empty (bond-create mac=)
  throw new Error(`missing argument ${dash(p.name)}${p.ty.k === 'ref' ? `-uuid` : ''}`);
}

let session = '';

async function run(argv: string[]): Promise<number> {
  let url = process.env.XE_NETD_URL ?? 'http://127.0.0.1:8080/';
  let user = process.env.XE_NETD_USER ?? 'root';
  let password = process.env.XE_NETD_PASSWORD ?? 'secret';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-s') url = `http://${argv[++i]}:${new URL(url).port || 80}/`;
    else if (a === '-p') { const u = new URL(url); u.port = argv[++i]; url = u.href; }
    else if (a === '-u') user = argv[++i];
    else if (a === '-pw') password = argv[++i];
    else rest.push(a);
  }
  const [cmd, ...kv] = rest;
  if (!cmd || cmd === 'help' || cmd === '--help') {
    console.log('usage: xe-netd [-s host] [-p port] [-u user] [-pw password] <class>-list | <class>-param-get | <class>-param-set | <class>-<message> [arg=value ...]');
    console.log(`classes: ${classes.filter((c) => c.stored !== false).map((c) => dash(c.name).toLowerCase()).join(', ')}`);
    return 0;
  }
  const args = new Map<string, string>();
  for (const a of kv) {
    const i = a.indexOf('=');
    if (i < 0) throw new Error(`arguments are name=value, got ${a}`);
    args.set(a.slice(0, i), a.slice(i + 1));
  }
  const split = splitCommand(cmd);
  if (!split) throw new Error(`unknown command ${cmd}`);
  const { cls, rest: verb } = split;
  const c = connect(new URL(url));
  session = await c.call('session.login_with_password', user, password, '1.0', 'xe-netd');
  try {
    if (verb === 'list') {
      const recs: Record<string, Record<string, unknown>> = await c.call(`${cls.name}.get_all_records`, session);
      const params = args.get('params');
      const shown = params === 'all' ? 'all' : params ? params.split(',').map(undash) : ['uuid', ...cls.fields.filter((f) => /^(name_label|device|MAC|bridge|currently_attached|management|mode|tag|power_state)$/.test(f.name)).map((f) => f.name)];
      for (const rec of Object.values(recs)) {
        const ok = [...args].every(([k, v]) => k === 'params' || show(rec[undash(k)]) === v);
        if (ok) printRecord(rec, shown, cls);
      }
      return 0;
    }
    if (verb === 'param-get' || verb === 'param-set') {
      const ref = await c.call(`${cls.name}.get_by_uuid`, session, args.get('uuid'));
      if (verb === 'param-get') {
        console.log(show(await c.call(`${cls.name}.get_${undash(args.get('param-name') ?? '')}`, session, ref)));
      } else {
        for (const [k, v] of args) if (k !== 'uuid') await c.call(`${cls.name}.set_${undash(k)}`, session, ref, v);
      }
      return 0;
    }
    const msg = cls.messages.find((m) => dash(m.name) === verb);
    if (!msg && cls.genConstructor && verb === 'create') {
      // Generated constructor: the record's fields from name=value (maps as field:key=value).
      const rec: Record<string, unknown> = {};
      for (const [k, v] of args) {
        const colon = k.indexOf(':');
        if (colon < 0) rec[undash(k)] = v;
        else ((rec[undash(k.slice(0, colon))] ??= {}) as Record<string, string>)[k.slice(colon + 1)] = v;
      }
      for (const f of cls.fields) if (f.ty.k === 'map' && f.default === undefined && f.qual !== 'DynamicRO') rec[f.name] ??= {};
      console.log(await c.call(`${cls.name}.get_uuid`, session, await c.call(`${cls.name}.create`, session, rec)));
      return 0;
    }
    if (!msg && cls.genConstructor && verb === 'destroy') {
      await c.call(`${cls.name}.destroy`, session, await c.call(`${cls.name}.get_by_uuid`, session, args.get('uuid')));
      return 0;
    }
    if (!msg) throw new Error(`unknown command ${cmd}`);
    const wire = [];
    for (const p of msg.params) wire.push(await toWire(c, p, args));
    const result = await c.call(`${cls.name}.${msg.name}`, session, ...wire);
    if (msg.result.k === 'ref' && typeof result === 'string' && result.startsWith('OpaqueRef:')) {
      console.log(await c.call(`${msg.result.cls}.get_uuid`, session, result));
    } else if (msg.result.k !== 'void') console.log(show(result));
    return 0;
  } finally {
    await c.call('session.logout', session).catch(() => undefined);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Failure ? `Error: ${e.desc.join(' ')}` : `Error: ${(e as Error).message}`);
    process.exit(1);
  },
);
