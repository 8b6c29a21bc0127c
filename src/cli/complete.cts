// `xe-netd --complete WORD... CUR`: the candidates for bash completion (share/xe-netd.bash),
// one per line: command names, a command's parameters (`uuid=`), and values — uuids of the
// right class for `uuid=`/`<class>-uuid(s)=`, field names for `params=`/`param-name=`, enum
// values for `mode=`, classes for `class=`. Values that need the server are asked for over the
// usual connection (a failure just means no candidates).
import { commands, type Call } from './commands.cjs';
import { allXeClasses, xeClass } from './records.cjs';

const ENUMS: Record<string, string[]> = {
  'bond-create mode': ['balance-slb', 'active-backup', 'lacp'],
  'bond-set-mode mode': ['balance-slb', 'active-backup', 'lacp'],
  'pif-reconfigure-ip mode': ['none', 'dhcp', 'static'],
  'pif-reconfigure-ipv6 mode': ['none', 'dhcp', 'static', 'autoconf'],
  'pif-set-primary-address-type primary_address_type': ['ipv4', 'ipv6'],
  'tunnel-create protocol': ['gre', 'vxlan'],
};

/** The class whose uuids a parameter takes: `uuid` → the command's class, `pif-uuid(s)` → PIF. */
function uuidClass(cmd: string, param: string): string | undefined {
  if (param === 'uuid') {
    const xc = allXeClasses()
      .filter((c) => cmd.startsWith(`${c.xe}-`))
      .sort((a, b) => b.xe.length - a.xe.length)[0];
    return xc?.cls;
  }
  const m = /^(.*)-uuids?$/.exec(param);
  return m ? xeClass(m[1])?.cls : undefined;
}

/** Prints the candidates for the last word given the words before it; returns the exit code. */
export async function complete(words: string[], connect: () => Promise<Call>): Promise<number> {
  const cur = words.length ? words[words.length - 1] : '';
  const before = words.slice(0, -1);
  const table = commands();
  const out: string[] = [];
  const names = [...table.values()]
    .filter((c) => !c.hidden)
    .map((c) => c.name)
    .sort();
  if (before.length === 0 || (before.length === 1 && before[0] === 'help')) {
    out.push(...names.filter((n) => n.startsWith(cur)));
  } else {
    const cmd = table.get(before[0]);
    const eq = cur.indexOf('=');
    if (cmd && eq < 0) {
      const given = new Set(before.slice(1).map((w) => w.split('=')[0]));
      const ps = [...cmd.reqd, ...cmd.optn].filter((p) => !given.has(p) && !p.endsWith(':'));
      out.push(...ps.map((p) => `${p}=`).filter((p) => p.startsWith(cur)));
      out.push(...['--minimal', '--progress'].filter((p) => p.startsWith(cur) && cur.startsWith('-')));
    } else if (cmd) {
      const p = cur.slice(0, eq);
      const v = cur.slice(eq + 1);
      const pre = `${p}=`;
      const enumVals = ENUMS[`${cmd.name} ${p}`];
      const xc = allXeClasses()
        .filter((c) => cmd.name.startsWith(`${c.xe}-`))
        .sort((a, b) => b.xe.length - a.xe.length)[0];
      if (enumVals) out.push(...enumVals.filter((e) => e.startsWith(v)).map((e) => pre + e));
      else if (p === 'class')
        out.push(
          ...allXeClasses()
            .map((c) => c.xe)
            .filter((c) => c.startsWith(v))
            .map((c) => pre + c),
        );
      else if ((p === 'params' || p === 'param-name') && xc) {
        const comma = p === 'params' ? v.lastIndexOf(',') + 1 : 0;
        out.push(
          ...[...(p === 'params' ? ['all'] : []), ...xc.fields.map((f) => f.name)]
            .filter((n) => n.startsWith(v.slice(comma)))
            .map((n) => pre + v.slice(0, comma) + n),
        );
      } else {
        const cls = uuidClass(cmd.name, p);
        if (cls) {
          const comma = p.endsWith('uuids') ? v.lastIndexOf(',') + 1 : 0;
          try {
            const call = await connect();
            const recs = await call<Record<string, { uuid: string }>>(`${cls}.get_all_records`);
            out.push(
              ...Object.values(recs)
                .map((r) => r.uuid)
                .filter((u) => u.startsWith(v.slice(comma)))
                .sort()
                .map((u) => pre + v.slice(0, comma) + u),
            );
          } catch {
            /* no server: no uuids */
          }
        }
      }
    }
  }
  if (out.length) process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
