// `ip` (iproute2), wrapped: typed commands only, argv arrays, and `ip -batch` files whose every line
// is built from validated tokens (a token holding whitespace, a newline or anything its type does
// not allow is refused before the file is written, so no caller value can add a line or an option).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIfName, isIPv4, isMac } from '../../../schema/values.js';
import { RefusedValue, Tool, ToolError, errText, type Streaming } from './exec.js';

/** One `ip` command of a batch, by meaning (the only commands the backends send). */
export type IpCmd =
  | { op: 'link.up'; dev: string }
  | { op: 'addr.replace'; dev: string; address: string; prefix: number }
  | { op: 'addr.del'; dev: string; address: string; prefix: number }
  | { op: 'route.replaceDefault'; gateway: string; dev: string }
  /** A neighbour the kernel may use at once and confirms later (`nud stale`). */
  | { op: 'neigh.replace'; dev: string; address: string; lladdr: string };

/** `ip -j -d link show` entries (the fields we read). */
export interface IpLink {
  ifname: string;
  address?: string;
  mtu: number;
  flags: string[];
  link_type?: string;
  /** The bridge or bond the device is a port of. */
  master?: string;
  /** A VLAN's parent device. */
  link?: string;
  linkinfo?: { info_kind?: string };
}
/** `ip -j -4 addr show` entries. */
export interface IpAddrs {
  ifname: string;
  addr_info?: { family?: string; local: string; prefixlen: number; dynamic?: boolean; secondary?: boolean }[];
}
/** `ip -j -4 neigh show` entries (the fields we read). */
export interface IpNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}
/** `ip -j -4 route show default` entries. */
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

function dev(d: string): string {
  if (!isIfName(d)) throw new RefusedValue('ip', 'device name', d);
  return d;
}
function addr4(a: string): string {
  if (!isIPv4(a)) throw new RefusedValue('ip', 'IPv4 address', a);
  return a;
}
function lladdr(m: string): string {
  if (!isMac(m)) throw new RefusedValue('ip', 'MAC address', m);
  return m.toLowerCase();
}
function prefix4(p: number): string {
  if (!Number.isInteger(p) || p < 0 || p > 32) throw new RefusedValue('ip', 'prefix length', p);
  return String(p);
}

/** The tokens of one command (each already validated by its type). */
export function ipTokens(c: IpCmd): string[] {
  switch (c.op) {
    case 'link.up':
      return ['link', 'set', 'dev', dev(c.dev), 'up'];
    // ip -batch lines take no options (-4): the address family follows from the address.
    case 'addr.replace':
      return ['addr', 'replace', `${addr4(c.address)}/${prefix4(c.prefix)}`, 'dev', dev(c.dev)];
    case 'addr.del':
      return ['addr', 'del', `${addr4(c.address)}/${prefix4(c.prefix)}`, 'dev', dev(c.dev)];
    case 'route.replaceDefault':
      return ['route', 'replace', 'default', 'via', addr4(c.gateway), 'dev', dev(c.dev)];
    case 'neigh.replace':
      return ['neigh', 'replace', addr4(c.address), 'lladdr', lladdr(c.lladdr), 'dev', dev(c.dev), 'nud', 'stale'];
  }
}

/** One batch line; refuses any token that is empty or holds whitespace (the last guard before the file). */
export function ipLine(c: IpCmd): string {
  const t = ipTokens(c);
  for (const w of t) if (w === '' || /[\s\x00-\x1f\x7f]/.test(w)) throw new RefusedValue('ip', 'batch token', w);
  return t.join(' ');
}

/** One line of `ip -o monitor link`: a link reported (new or changed) or deleted, by name (without `@peer`), with its MAC. */
export function parseLinkEvent(line: string): { name: string; deleted: boolean; mac?: string } | undefined {
  const m = /^(Deleted )?\d+: ([^\s:@]+)(?:@[^\s:]*)?: /.exec(line);
  if (!m) return undefined;
  const mac = /\blink\/ether ([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/i.exec(line)?.[1]?.toLowerCase();
  return { name: m[2], deleted: m[1] !== undefined, ...(mac ? { mac } : {}) };
}

/**
 * Devices coming and going, as the kernel reports them (`ip -o monitor link`, started by
 * IpTool.watchLinks before the change that makes them). The OVS backend uses it to configure a
 * bridge device the moment Open vSwitch creates it, rather than when ovs-vsctl returns.
 */
export class LinkWatch {
  /** Per name: how many times it was reported deleted, whether it is present since the last deletion, its last MAC. */
  private readonly seen = new Map<string, { deletions: number; present: boolean; mac?: string }>();
  private readonly waiters = new Set<() => void>();
  private ended = false;

  constructor(private readonly proc: Streaming | undefined) {
    void proc?.done.then(() => {
      this.ended = true;
      this.wake();
    });
  }

  /** Feeds one output line (the monitor's, or a test's). */
  line(l: string): void {
    const e = parseLinkEvent(l);
    if (!e) return;
    const s = this.seen.get(e.name) ?? { deletions: 0, present: false };
    if (e.deleted) {
      s.deletions++;
      s.present = false;
    } else {
      s.present = true;
      s.mac = e.mac ?? s.mac;
    }
    this.seen.set(e.name, s);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Times `name` was reported deleted since the watch started. */
  deletions(name: string): number {
    return this.seen.get(name)?.deletions ?? 0;
  }

  /**
   * Resolves to true once every name has been reported present (after its last deletion) and, for
   * those `macs` names, with that MAC; false if the watch ends first.
   */
  present(names: string[], macs: Map<string, string> = new Map()): Promise<boolean> {
    const ready = (n: string) => {
      const s = this.seen.get(n);
      const want = macs.get(n)?.toLowerCase();
      return !!s?.present && (want === undefined || s.mac === want);
    };
    return new Promise((resolve) => {
      const check = () => {
        if (names.every(ready)) return done(true);
        if (this.ended || !this.proc) return done(false);
      };
      const done = (v: boolean) => {
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Ends the monitor (and any present() still waiting, with false). */
  async stop(): Promise<void> {
    if (this.proc) await this.proc.stop();
    this.ended = true;
    this.wake();
  }
}

/** `ip` in the namespace whose devices we manage. */
export class IpTool {
  constructor(readonly tool: Tool) {}

  /** Commands run. */
  get calls(): number {
    return this.tool.calls;
  }

  /**
   * Starts watching links come and go (`ip -o monitor link`); undefined where the runner cannot
   * stream a command's output. The monitor subscribes as it starts, a few ms after this returns:
   * start it well before the change it should see.
   */
  watchLinks(): LinkWatch | undefined {
    if (!this.tool.streams) return undefined;
    const w: LinkWatch = new LinkWatch(this.tool.watch(['-o', 'monitor', 'link'], (l) => w.line(l))); // lines come in later events
    return w;
  }

  /** Every link, with details. */
  async links(): Promise<IpLink[]> {
    return JSON.parse((await this.tool.run(['-j', '-d', 'link', 'show'])) || '[]') as IpLink[];
  }

  /** IPv4 addresses of every device. */
  async addrs4(): Promise<IpAddrs[]> {
    return JSON.parse((await this.tool.run(['-j', '-4', 'addr', 'show'])) || '[]') as IpAddrs[];
  }

  /** IPv4 addresses of one device. */
  async addrs4Of(device: string): Promise<IpAddrs[]> {
    return JSON.parse((await this.tool.run(['-j', '-4', 'addr', 'show', 'dev', dev(device)])) || '[]') as IpAddrs[];
  }

  /** IPv4 neighbours of every device. */
  async neigh4(): Promise<IpNeigh[]> {
    return JSON.parse((await this.tool.run(['-j', '-4', 'neigh', 'show'])) || '[]') as IpNeigh[];
  }

  /** IPv4 default routes. */
  async defaultRoutes4(): Promise<IpRoute[]> {
    return JSON.parse((await this.tool.run(['-j', '-4', 'route', 'show', 'default'])) || '[]') as IpRoute[];
  }

  /**
   * Runs the commands as one `ip -batch` (ip stops at the first failing line); resolves to that
   * command's index and the error, or undefined when all succeeded. Every line is validated
   * before the file is written, so a refused value runs nothing (RefusedValue is thrown).
   */
  async batch(cmds: IpCmd[]): Promise<{ line: number; text: string } | undefined> {
    const b = await this.prepare(cmds);
    try {
      return await b.run();
    } finally {
      await b.dispose();
    }
  }

  /**
   * batch() in two halves: the commands are validated now and `run` executes them later; `dispose`
   * releases what was prepared. The OVS backend prepares before its transaction, so that as little
   * as possible sits in the management outage after it: where the runner can feed stdin, `ip -batch
   * -` is already started and waits for its commands (no fork and exec after the transaction);
   * elsewhere the batch file is already written.
   */
  async prepare(cmds: IpCmd[]): Promise<{ run(): Promise<{ line: number; text: string } | undefined>; dispose(): Promise<void> }> {
    if (cmds.length === 0) return { run: async () => undefined, dispose: async () => undefined };
    const lines = cmds.map(ipLine);
    const text = lines.join('\n') + '\n';
    const failure = (e: unknown) => {
      if (!(e instanceof ToolError) || e instanceof RefusedValue) throw e;
      const t = errText(e);
      const m = /Command failed \S*:(\d+)/.exec(t);
      return { line: m ? Number(m[1]) - 1 : 0, text: t };
    };
    if (this.tool.feeds) {
      let feed!: (t: string) => void;
      const input = new Promise<string>((r) => (feed = r));
      const proc = this.tool.runWithInput(['-batch', '-'], input);
      proc.catch(() => undefined); // awaited by run(), or ended empty by dispose()
      return {
        run: async () => {
          feed(text);
          try {
            await proc;
            return undefined;
          } catch (e) {
            return failure(e);
          }
        },
        dispose: async () => {
          feed(''); // not run: an empty batch, ip exits having done nothing
          await proc.catch(() => undefined);
        },
      };
    }
    const dir = await mkdtemp(join(tmpdir(), 'xnd-ip-'));
    const file = join(dir, 'batch');
    const dispose = () => rm(dir, { recursive: true, force: true });
    try {
      await writeFile(file, text, { mode: 0o600 });
    } catch (e) {
      await dispose();
      throw e;
    }
    const run = async () => {
      try {
        await this.tool.run(['-batch', file]);
        return undefined;
      } catch (e) {
        return failure(e);
      }
    };
    return { run, dispose };
  }
}
