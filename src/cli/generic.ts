// Commands for the datamodel's other messages, named as xe would (`pool-create-VLAN`,
// `host-sync-bonds`): `<class>-<message> arg=value`. The object itself is `uuid=`, a ref
// parameter `p` is `p-uuid=`, a set of refs `p-uuids=a,b`, a map `p:key=value`. Loaded only
// for a command xe's table does not have, because it reads the whole datamodel.
import { classes, type ClassDef, type ParamDef } from '../../schema/index.js';
import { CliError, type Command, type Ctx } from './commands.cjs';

const dash = (s: string) => s.replace(/_/g, '-');

function split(cmd: string): { cls: ClassDef; verb: string } | undefined {
  const parts = cmd.split('-');
  for (let i = parts.length - 1; i >= 1; i--) {
    const prefix = parts.slice(0, i).join('-').toLowerCase();
    const cls = classes.find((c) => dash(c.name).toLowerCase() === prefix);
    if (cls) return { cls, verb: parts.slice(i).join('-') };
  }
  return undefined;
}

/** The CLI name of a parameter: `uuid` for the object itself, `<p>-uuid(s)` for refs. */
function argName(p: ParamDef, i: number): string {
  if (p.ty.k === 'ref' && i === 0 && (p.name === 'self' || p.name === 'host' || p.name === 'network' || p.name === 'pif' || p.name === 'task'))
    return p.name === 'self' ? 'uuid' : `${dash(p.name)}-uuid`;
  if (p.ty.k === 'ref') return `${dash(p.name)}-uuid`;
  if (p.ty.k === 'set' && p.ty.of.k === 'ref') return `${dash(p.name)}-uuids`;
  if (p.ty.k === 'map') return `${dash(p.name)}:`;
  return dash(p.name);
}

async function wire(c: Ctx, p: ParamDef, name: string): Promise<unknown> {
  const get = (k: string) => c.params.get(k) ?? [...c.params].find(([x]) => x.toLowerCase() === k.toLowerCase())?.[1];
  const ty = p.ty;
  if (ty.k === 'map') {
    const m: Record<string, string> = Object.create(null); // keys as typed, `__proto__` too
    for (const [k, v] of c.params) if (k.startsWith(name)) m[k.slice(name.length)] = v;
    return m;
  }
  const v = get(name);
  if (v === undefined) {
    if (p.default !== undefined) return p.default;
    if (ty.k === 'string') return '';
    throw new CliError(`missing parameter ${name}`);
  }
  if (ty.k === 'ref') return v === '' ? 'OpaqueRef:NULL' : c.call(`${ty.cls}.get_by_uuid`, v);
  if (ty.k === 'set' && ty.of.k === 'ref') {
    const cls = ty.of.cls;
    return Promise.all(
      v
        .split(',')
        .filter(Boolean)
        .map((u) => c.call(`${cls}.get_by_uuid`, u)),
    );
  }
  if (ty.k === 'set') return v.split(',').filter(Boolean);
  if (ty.k === 'bool') {
    if (v !== 'true' && v !== 'false') throw new CliError(`Parameter ${name} must be a boolean (true or false)`);
    return v === 'true';
  }
  if (ty.k === 'int') {
    if (!/^[+-]?\d+$/.test(v)) throw new CliError(`Parameter ${name} must be an integer`);
    return Number(v);
  }
  if (ty.k === 'float') return Number(v);
  return v;
}

/** A command for `<class>-<message>`, or undefined when the datamodel has no such message. */
export async function genericCommand(cmd: string): Promise<Command | undefined> {
  const s = split(cmd);
  if (!s) return undefined;
  const msg = s.cls.messages.find((m) => dash(m.name) === s.verb && !m.hidden && m.session !== false);
  if (!msg) return undefined;
  const names = msg.params.map(argName);
  return {
    name: cmd,
    reqd: names.filter((_, i) => msg.params[i].default === undefined && msg.params[i].ty.k !== 'map' && msg.params[i].ty.k !== 'string'),
    optn: names.filter((_, i) => !(msg.params[i].default === undefined && msg.params[i].ty.k !== 'map' && msg.params[i].ty.k !== 'string')),
    help: msg.doc,
    async run(c) {
      const args: unknown[] = [];
      for (let i = 0; i < msg.params.length; i++) args.push(await wire(c, msg.params[i], names[i]));
      const r = await c.call(`${s.cls.name}.${msg.name}`, ...args);
      if (msg.result.k === 'ref' && typeof r === 'string') c.emit({ kind: 'list', lines: [await c.call(`${msg.result.cls}.get_uuid`, r)] });
      else if (msg.result.k === 'void') return;
      else if (msg.result.k === 'set' && msg.result.of.k === 'ref' && Array.isArray(r)) {
        const cls = msg.result.of.cls;
        c.emit({ kind: 'list', lines: [(await Promise.all(r.map((x: string) => c.call<string>(`${cls}.get_uuid`, x)))).join('; ')] });
      } else if (Array.isArray(r)) c.emit({ kind: 'list', lines: [r.join('; ')] });
      else if (r && typeof r === 'object')
        c.emit({
          kind: 'list',
          lines: [
            Object.entries(r)
              .map(([k, v]) => `${k}: ${String(v)}`)
              .join('; '),
          ],
        });
      else c.emit({ kind: 'list', lines: [String(r)] });
    },
  };
}
