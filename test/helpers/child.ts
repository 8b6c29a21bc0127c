// The daemon as a child process (`node dist/src/main.js --backend openvswitch --ovs-sandbox DIR`),
// for tests that kill it: it listens on a free loopback port (parsed from its log), and an XML-RPC
// client (the `xmlrpc` package) talks to it. stop() ends exactly this child (SIGTERM, then SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEMO_INVENTORY } from '../../src/config.js';
import { fileURLToPath } from 'node:url';
import xmlrpc from 'xmlrpc';
import { XenAPIFailure } from './harness.js';
import { writeUsersFile } from './users.js';
import { until } from './wait.js';
import type { Sandbox } from '../../scripts/ovs-sandbox.js';

export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface Child {
  proc: ChildProcess;
  url: string;
  /** Everything the child wrote (stdout + stderr) so far. */
  log(): string;
  /** Resolves when the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Calls without a session. */
  raw<T = any>(method: string, ...params: unknown[]): Promise<T>;
  /** Logs in (root/secret) once and calls with the session. */
  call<T = any>(method: string, ...params: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

/** The daemon's argv on the OVS sandbox in `sandboxDir`: loopback listener (`port`, 0 = any), test users, info log. */
export function daemonArgv(o: { db: string; sandboxDir: string; inventory: string; hostname?: string; port?: number; args?: string[] }): string[] {
  return [
    MAIN,
    '--db',
    o.db,
    '--backend',
    'openvswitch',
    '--ovs-sandbox',
    o.sandboxDir,
    '--inventory',
    o.inventory,
    '--users',
    writeUsersFile(dirname(o.db)),
    ...(o.hostname ? ['--hostname', o.hostname] : []),
    '--listen',
    `127.0.0.1:${o.port ?? 0}`,
    '--auth-fail-delay',
    '10',
    '--log-level',
    'info',
    ...(o.args ?? []),
  ];
}

/**
 * Starts the daemon on `db` against the OVS sandbox in `sandboxDir`; resolves once it serves.
 * The sandbox's NICs carry the demo MACs, so the demo inventory (eth0 management, 192.0.2.10) is
 * passed as --inventory: a real backend never takes it by default.
 */
export async function spawnDaemon(opts: { db: string; sandboxDir: string; env?: Record<string, string>; args?: string[] }): Promise<Child> {
  const inv = join(opts.sandboxDir, 'demo-inventory.json');
  writeFileSync(inv, JSON.stringify(DEMO_INVENTORY));
  const proc = spawn(process.execPath, daemonArgv({ db: opts.db, sandboxDir: opts.sandboxDir, inventory: inv, args: opts.args }), {
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start in 20 s:\n${out}`)), 20000);
    const check = () => {
      const m = /xenapi-netd (http:\/\/[\d.]+:\d+):/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stderr!.on('data', check);
    proc.stdout!.on('data', check);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited (${e.code ?? e.signal}) before serving:\n${out}`));
    });
  });
  const { raw, call } = rpc(Number(new URL(url).port));
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    url,
    exited,
    raw,
    call,
    log: () => out,
    async stop() {
      if (done) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** An XML-RPC client for a daemon on 127.0.0.1:port: raw calls, and calls with a root session logged in on first use. */
export function rpc(port: number): {
  raw<T = any>(method: string, ...params: unknown[]): Promise<T>;
  call<T = any>(method: string, ...params: unknown[]): Promise<T>;
} {
  const client = xmlrpc.createClient({ host: '127.0.0.1', port, path: '/' });
  const raw = <T>(method: string, ...params: unknown[]): Promise<T> =>
    new Promise((resolve, reject) => {
      client.methodCall(method, params, (err: unknown, v: any) => {
        if (err) return reject(err);
        if (v?.Status === 'Success') return resolve(v.Value);
        if (v?.Status === 'Failure') return reject(new XenAPIFailure(v.ErrorDescription));
        reject(new Error(`reply without Status: ${JSON.stringify(v)}`));
      });
    });
  let session: Promise<string> | undefined;
  return {
    raw,
    async call<T>(method: string, ...params: unknown[]): Promise<T> {
      session ??= raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'e2e');
      return raw<T>(method, await session, ...params);
    },
  };
}

/** One member of a multi-process pool test: its sandbox, database, inventory file and (when running) its daemon. */
export interface PoolMember {
  h: number;
  sb: Sandbox;
  db: string;
  inventory: string;
  /** Extra daemon flags (pool role, timeouts). */
  args: string[];
  proc?: ChildProcess;
  exited?: Promise<void>;
  url: string;
  /** Everything the running daemon wrote. */
  out: string;
}

/** Starts (or restarts) a member's daemon as host<h>; `port` pins the listening port (0: any). Resolves once it serves. */
export async function launchMember(m: PoolMember, port = 0): Promise<void> {
  m.out = '';
  const proc = spawn(process.execPath, daemonArgv({ db: m.db, sandboxDir: m.sb.dir, inventory: m.inventory, hostname: `host${m.h}`, port, args: m.args }), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  m.proc = proc;
  proc.stdout!.on('data', (b: Buffer) => (m.out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (m.out += b.toString()));
  m.exited = new Promise((res) => proc.on('exit', () => res()));
  m.url = await until(`daemon ${m.h} to serve`, async () => /xenapi-netd (http:\/\/[\d.]+:\d+):/.exec(m.out)?.[1], 20_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${m.out}`);
  });
}

/** Ends a member's daemon by its pid (SIGTERM, SIGKILL after 5 s; or `signal`) and waits for the exit. */
export async function haltMember(m: PoolMember, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) return;
  m.proc.kill(signal);
  const t = setTimeout(() => m.proc?.kill('SIGKILL'), 5000);
  await m.exited;
  clearTimeout(t);
}
