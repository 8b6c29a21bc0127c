#!/usr/bin/env node
// xe-netd: xe's command line for the daemon's classes. It parses arguments, prints records and
// reports errors as xe does (xapi's ocaml/xe-cli and ocaml/xapi-cli-server: cli_frontend.ml,
// cli_printer.ml, xapi_cli.ml), but runs the commands itself as XenAPI calls over JSON-RPC —
// the daemon has no /cli endpoint, and a client-side xe works against xapi too.
// Commands: src/cli/commands.ts (xe's table) and, for any other message of the datamodel,
// `<class>-<message> arg=value` derived from schema/ (loaded only then, to keep start-up short).
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { command, commands, CliError, InputClosed, MissingParam, OpFailure, STD_PARAMS, type Command, type Ctx, type Out } from './commands.cjs';
import { Failure, Rpc } from './rpc.cjs';

/** Usage errors xe reports with "For usage run: 'xe help'". */
class ParamError extends Error {
  constructor(
    readonly prefix: string,
    readonly what: string,
  ) {
    super(prefix ? `${prefix}: ${what}` : what);
  }
}

const USAGE = (argv0: string) => `Usage:
  ${argv0} <command>
    [ -s <server> ]            XenServer host
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --nossl ]                Disable SSL/TLS
    [ --debug ]                Enable debug output
    [ --debug-on-fail ]        Enable debug output only on failure
    [ --minimal ]              Output only values in a comma-separated lists
    [ --progress ]             Show the progress of long operations
    [ <other arguments> ... ]  Command-specific options

A full list of commands can be obtained by running
  ${argv0} help -s <server> -p <port>
`;

interface Conn {
  server?: string;
  port?: number;
  user: string;
  password: string;
  passwordFile?: string;
  nossl: boolean;
  debug: boolean;
}

/** xe's parse_args: connection options as `-s X` or `server=X`, from argv, then ~/.xe. */
function parseArgs(argv: string[]): { conn: Conn; rest: string[]; help: boolean } {
  const conn: Conn = { user: process.env.XE_NETD_USER ?? 'root', password: process.env.XE_NETD_PASSWORD ?? 'secret', nossl: false, debug: false };
  const set = (k: string, v: string): boolean => {
    switch (k) {
      case 'server':
        conn.server = v;
        return true;
      case 'port': {
        const p = Number(v);
        if (!/^\d+$/.test(v) || p > 65535) throw new ParamError('', 'Port number must be an integer (0-65535)');
        conn.port = p;
        return true;
      }
      case 'username':
        conn.user = v;
        return true;
      case 'password':
        conn.password = v;
        return true;
      case 'passwordfile':
        conn.passwordFile = v;
        return true;
      case 'nossl':
        conn.nossl = v === 'true';
        return true;
      case 'debug':
        conn.debug = v === 'true';
        return true;
      default:
        return false;
    }
  };
  const SW: Record<string, string> = { '-s': 'server', '-p': 'port', '-u': 'username', '-pw': 'password', '-pwf': 'passwordfile', '-h': 'server' };
  const rest: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-help' || a === '--help') {
      help = true;
      continue;
    }
    if (SW[a] && i + 1 < argv.length) {
      set(SW[a], argv[++i]);
      continue;
    }
    if (a === '--nossl') {
      set('nossl', 'true');
      continue;
    }
    if (a === '--debug') {
      set('debug', 'true');
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0 && ['server', 'port', 'username', 'password', 'passwordfile', 'nossl', 'debug'].includes(a.slice(0, eq))) {
      set(a.slice(0, eq), a.slice(eq + 1));
      continue;
    }
    rest.push(a);
  }
  // ~/.xe holds defaults (key=value lines) for what the command line did not give.
  try {
    for (const line of readFileSync(`${process.env.HOME ?? '/root'}/.xe`, 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const k = line.slice(0, eq);
      if (k === 'server' && conn.server === undefined) set(k, line.slice(eq + 1));
      else if (k === 'port' && conn.port === undefined) set(k, line.slice(eq + 1));
    }
  } catch {
    /* no rc file */
  }
  if (conn.passwordFile) {
    let lines: string[];
    try {
      lines = readFileSync(conn.passwordFile, 'utf8').split('\n');
    } catch {
      throw new ParamError('', `Error opening password file '${conn.passwordFile}'`);
    }
    if (lines.length < 2) throw new ParamError('', 'Error: password file format: expecting username on the first line, password on the second line');
    conn.user = lines[0];
    conn.password = lines[1];
  }
  return { conn, rest, help };
}

/** The server's URL: XE_NETD_URL unless -s/-p say otherwise; SSL unless --nossl or on-host (as xe). */
function serverUrl(conn: Conn): URL {
  const env = new URL(process.env.XE_NETD_URL ?? 'http://127.0.0.1:8080/');
  if (conn.server === undefined && conn.port === undefined && !conn.nossl) return env;
  const server = conn.server ?? env.hostname;
  const ssl = conn.server === undefined ? env.protocol === 'https:' && !conn.nossl : !conn.nossl && server !== '127.0.0.1';
  const port = conn.port ?? (conn.server === undefined ? Number(env.port) || (ssl ? 443 : 80) : ssl ? 443 : 80);
  const host = server.includes(':') && !server.startsWith('[') ? `[${server}]` : server;
  return new URL(`${ssl ? 'https' : 'http'}://${host}:${port}/`);
}

/** xe's parse_params_2: `--flag` is flag=true, `k=v`; the rest of `=` stays in the value. */
function parseParams(args: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of args) {
    if (a.startsWith('--')) m.set(a.slice(2), 'true');
    else {
      const eq = a.indexOf('=');
      if (eq < 0) m.set(a, '');
      else m.set(a.slice(0, eq), a.slice(eq + 1));
    }
  }
  return m;
}

// ---- sessions: logged in once, kept for the next command ---------------------------------------
// A login costs the server a password hash (scrypt, ~50 ms); scripts run hundreds of commands.
// The session (and the master a pool member pointed us at) is kept in a file in a directory only
// this user can read (as xe's own ~/.xe may hold the password in clear), named by a hash of
// server, user and password so that other credentials never reuse it. The hash only tells
// credentials apart, so a fast one does (node:crypto would add ~10 % to start-up).
// XE_NETD_SESSION_CACHE=0 turns this off (then every command logs in and out, as xe does).

/** FNV-1a, two 32-bit lanes with different offsets, as 16 hex digits. */
function fnv64(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 13);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

function cacheDir(): string | undefined {
  if (process.env.XE_NETD_SESSION_CACHE === '0' || typeof process.getuid !== 'function') return undefined;
  const uid = process.getuid();
  const dir = process.env.XDG_RUNTIME_DIR ? `${process.env.XDG_RUNTIME_DIR}/xe-netd` : `${process.env.TMPDIR || '/tmp'}/xe-netd-${uid}`;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    /* exists */
  }
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) return undefined;
  } catch {
    return undefined;
  }
  return dir;
}

interface Cached {
  url: string;
  session: string;
}

class Session {
  private file?: string;
  rpc!: Rpc;
  id = '';
  private fresh = false;
  constructor(
    private url: URL,
    private conn: Conn,
  ) {
    const dir = cacheDir();
    if (dir) this.file = `${dir}/session-${fnv64(`${url.href}\n${conn.user}\n${conn.password}`)}`;
  }

  async open(): Promise<void> {
    if (this.file) {
      try {
        const c = JSON.parse(readFileSync(this.file, 'utf8')) as Cached;
        this.rpc = await Rpc.open(new URL(c.url));
        this.id = c.session;
        return;
      } catch {
        /* none kept */
      }
    }
    await this.login();
  }

  /** Logs in, following HOST_IS_SLAVE to the master as xe does. */
  private async login(): Promise<void> {
    let url = this.url;
    for (let hop = 0; ; hop++) {
      this.rpc?.close();
      this.rpc = await Rpc.open(url);
      try {
        this.id = await this.rpc.call('session.login_with_password', this.conn.user, this.conn.password, '2.23', 'cli');
        break;
      } catch (e) {
        if (e instanceof Failure && e.desc[0] === 'HOST_IS_SLAVE' && e.desc[1] && hop < 3) {
          const next = new URL(url.href);
          next.hostname = e.desc[1].includes(':') ? `[${e.desc[1]}]` : e.desc[1];
          url = next;
          continue;
        }
        throw e;
      }
    }
    this.fresh = true;
    if (this.file) {
      const tmp = `${this.file}.${process.pid}`;
      writeFileSync(tmp, JSON.stringify({ url: url.href, session: this.id } satisfies Cached), { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.file);
    }
  }

  /** A call with the session first; a kept session that expired is replaced once, transparently. */
  call = async <T = any,>(method: string, ...params: unknown[]): Promise<T> => {
    try {
      return await this.rpc.call<T>(method, this.id, ...params);
    } catch (e) {
      // A kept session that has gone, or a kept server that has become a pool member since: the
      // call was not made, so logging in again (following HOST_IS_SLAVE) and repeating it is safe.
      if (!(e instanceof Failure) || (e.desc[0] !== 'SESSION_INVALID' && e.desc[0] !== 'HOST_IS_SLAVE') || this.fresh) throw e;
      await this.login();
      return this.rpc.call<T>(method, this.id, ...params);
    }
  };

  /** Removes every kept session of this user (they name servers whose role may have changed). */
  forgetAll(): void {
    const dir = cacheDir();
    if (!dir) return;
    for (const f of readdirSync(dir))
      if (f.startsWith('session-'))
        try {
          unlinkSync(`${dir}/${f}`);
        } catch {
          /* gone */
        }
    this.file = undefined; // and log this one out at the end
  }

  async close(): Promise<void> {
    if (!this.file && this.id) await this.rpc.call('session.logout', this.id).catch(() => undefined);
    this.rpc?.close();
  }
}

// ---- printing (cli_printer.ml) -----------------------------------------------------------------

/** multi_line_record: the first label padded on the right, the others on the left, to 4 + the longest. */
function record(r: [string, string][]): string {
  const max = 4 + r.reduce((m, [k]) => Math.max(m, k.length), 0);
  return r.map(([k, v], i) => `${i === 0 ? k.padEnd(max) : k.padStart(max)}: ${v}`).join('\n') + '\n';
}

class Printer {
  private minimal: string[] = [];
  constructor(private isMinimal: boolean) {}
  emit = (o: Out): void => {
    if (this.isMinimal) {
      const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/,/g, '\\,');
      if (o.kind === 'table') {
        if (o.records.length && o.records.every((r) => r.length)) this.minimal.push(o.records.map((r) => esc(r[0][1])).join(','));
      } else this.minimal.push(o.lines.map(esc).join(','));
      return;
    }
    if (o.kind === 'table') process.stdout.write(o.records.map((r) => `${record(r)}\n\n`).join(''));
    else process.stdout.write(o.lines.map((l) => `${l}\n`).join(''));
  };
  flush(): void {
    if (this.isMinimal) process.stdout.write(`${this.minimal.join(',')}\n`);
  }
}

/** One line of standard input, without its newline (xe's Prompt: input_line stdin). */
function readLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (f: () => void) => {
      process.stdin.off('data', onData).off('end', onEnd).off('error', onError);
      process.stdin.pause();
      f();
    };
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const i = buf.indexOf('\n');
      if (i >= 0) done(() => resolve(buf.slice(0, i)));
    };
    const onEnd = () => done(() => (buf === '' ? reject(new InputClosed('end of input')) : resolve(buf)));
    const onError = (e: Error) => done(() => reject(e));
    process.stdin.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

// ---- help (cli_frontend.ml rio_help) -----------------------------------------------------------

async function help(argv0: string, params: Map<string, string>, table: Map<string, Command>, p: Printer): Promise<void> {
  const named = [...params.keys()].filter((k) => !['server', 'username', 'password', 'port', 'minimal', 'all'].includes(k));
  if (named.length) {
    for (const n of named) {
      const c = table.get(n) ?? (await (await import('./generic.js')).genericCommand(n));
      if (!c) p.emit({ kind: 'list', lines: [`Unknown command '${n}'`] });
      else
        p.emit({
          kind: 'table',
          records: [
            [
              ['command name        ', c.name],
              ['reqd params     ', c.reqd.join(', ')],
              ['optional params ', c.optn.join(', ')],
              ['description     ', c.help],
            ],
          ],
        });
    }
    return;
  }
  const names = [...table.values()]
    .filter((c) => !c.hidden)
    .map((c) => c.name)
    .sort();
  const minimal = params.get('minimal') === 'true';
  const head = `Usage:
  ${argv0} <command>
    [ -s <server> ]            XenServer host
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --nossl ]                Disable SSL/TLS
    [ --debug ]                Enable debug output
    [ --debug-on-fail ]        Enable debug output only on failure
    [ <other arguments> ... ]  Command-specific options

To get help on a specific command:
  ${argv0} help <command>

`;
  const list = (l: string[]) => {
    const out: string[] = [];
    let cur = `    ${l[0] ?? ''}`;
    for (const c of l.slice(1)) {
      if (cur.length + c.length > 74) {
        out.push(cur);
        cur = `    ${c}`;
      } else cur = `${cur}, ${c}`;
    }
    out.push(cur);
    return out;
  };
  if (params.get('all') === 'true') {
    if (minimal) return p.emit({ kind: 'list', lines: names });
    const hostCmds = names.filter((n) => n.startsWith('host-'));
    const vmCmds = names.filter((n) => n.startsWith('vm-'));
    const other = names.filter((n) => !n.startsWith('host-') && !n.startsWith('vm-'));
    p.emit({ kind: 'list', lines: [`${head}Full command list\n-----------------\n`] });
    p.emit({ kind: 'list', lines: [...list(hostCmds), '    ', ...list(vmCmds), '    ', ...list(other)] });
    return;
  }
  const std = names.filter((n) => table.get(n)!.std);
  if (minimal) return p.emit({ kind: 'list', lines: std });
  p.emit({ kind: 'list', lines: [`${head}To get a full listing of commands:\n  ${argv0} help --all\n\nCommon command list\n-------------------\n`] });
  p.emit({ kind: 'list', lines: list(std) });
}

// ---- errors (xapi_cli.ml exception_handler, cli_util.ml server_error) --------------------------

/** Params that are refs are shown as `uuid (name-label)` where the server can say (xe's ref_convert). */
async function refConvert(s: Session | undefined, v: string): Promise<string> {
  if (!s || !v.startsWith('OpaqueRef:') || v === 'OpaqueRef:NULL') return v;
  for (const cls of ['PIF', 'network', 'Bond', 'VLAN', 'tunnel', 'VIF', 'host', 'VM', 'pool', 'PIF_metrics', 'task']) {
    try {
      const r = await s.call<Record<string, any>>(`${cls}.get_record`, v);
      return typeof r.name_label === 'string' ? `${r.uuid} (${r.name_label})` : String(r.uuid);
    } catch {
      /* not this class */
    }
  }
  return v;
}

async function report(e: unknown, s: Session | undefined): Promise<void> {
  const err = (t: string): void => void process.stderr.write(t);
  if (e instanceof ParamError) return err(`${e.message}\nFor usage run: 'xe help'\n`);
  if (e instanceof CliError) return err(`Error: ${e.message}\n`);
  if (e instanceof InputClosed) return err('Lost connection to the server.\n');
  if (e instanceof Failure || e instanceof OpFailure || e instanceof MissingParam) {
    let code: string;
    let params: string[];
    if (e instanceof Failure) [code, ...params] = e.desc;
    else if (e instanceof MissingParam) [code, params] = ['Missing parameter', [e.message]];
    else [code, params] = ['INTERNAL_ERROR', [`Failure: ${e.message}`]];
    if (code === 'SESSION_AUTHENTICATION_FAILED')
      return err(`${params[0] === '' ? 'Username/password must be specified' : 'Authentication failed'}\nFor usage run: 'xe help'\n`);
    params = await Promise.all(params.map((p) => refConvert(s, p)));
    const { errorDef } = await import('./errordocs.js');
    const def = errorDef(code);
    if (!def) return err(`Error code: ${code}\nError parameters: ${params.join(', ')}\n`);
    const lines = [def.doc];
    const n = Math.max(def.params.length, params.length);
    for (let i = 0; i < n; i++) lines.push(`${def.params[i] ?? '<extra>'}: ${params[i] ?? '<unknown>'}`);
    return err(`${lines.join('\n')}\n`);
  }
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || code === 'ECONNRESET')
    return err('Unable to contact server. Please check server and port settings.\n');
  err(`Unhandled exception\n${(e as Error)?.message ?? String(e)}\n`);
}

// ---- main --------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const argv0 = 'xe-netd';
  let session: Session | undefined;
  try {
    const { conn, rest, help: wantHelp } = parseArgs(argv);
    if (wantHelp || rest.length === 0) {
      process.stderr.write(USAGE(argv0));
      return 0;
    }
    const [cmd, ...args] = rest;
    if (cmd.includes('=')) throw new ParamError('Syntax error', 'command name is missing');
    if (cmd === '--complete')
      return await (
        await import('./complete.cjs')
      ).complete(args, async () => {
        session = new Session(serverUrl(conn), conn);
        await session.open();
        return session.call;
      });
    const params = parseParams(args);
    const printer = new Printer(params.get('minimal') === 'true');
    if (cmd === 'help') {
      await help(argv0, params, commands(), printer);
      printer.flush();
      return 0;
    }
    let c = command(cmd);
    if (!c) c = await (await import('./generic.js')).genericCommand(cmd);
    if (!c) throw new ParamError('Unknown command', cmd);
    for (const k of c.reqd) if (!params.has(k)) throw new ParamError('Required parameter not found', k);
    session = new Session(serverUrl(conn), conn);
    await session.open();
    const s = session;
    const ctx: Ctx = {
      call: session.call,
      params,
      emit: printer.emit,
      progress: params.get('progress') === 'true',
      forgetSessions: () => s.forgetAll(),
      print: (line) => process.stdout.write(`${line}\n`),
      prompt: readLine,
    };
    await c.run(ctx);
    printer.flush();
    return 0;
  } catch (e) {
    await report(e, session);
    return 1;
  } finally {
    await session?.close();
  }
}

export { STD_PARAMS };

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
