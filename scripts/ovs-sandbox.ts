// An isolated Open vSwitch (userspace datapath) in a network namespace of its own, for the
// openvswitch backend's tests and benchmarks. Root only; nothing outside the sandbox is touched.
//
// Layout of one sandbox (name N, started by process P):
//   netns  xnd-N-P        the "host": ovsdb-server + ovs-vswitchd run here, NICs eth0.. live here
//   netns  xnd-N-P-peer   the "wire": the peer end p<i> of every NIC, all enslaved to a Linux bridge
//                         `sw` that holds peerAddress (default 192.0.2.1/24), so a ping from here
//                         reaches the host only through the NICs (and so through a bond over them);
//                         `ip -n <peer> link set p0 down` takes eth0's carrier away for failover tests.
//                         With `peer: 'ovs'` the wire is instead a SECOND, independent Open vSwitch
//                         (userspace datapath) running in the peer netns: its own ovsdb-server and
//                         ovs-vswitchd with all state under dir/peer/ (run/, db/, log/, etc/), and `sw`
//                         is a netdev OVS bridge with p0.. as ports and peerAddress on its internal
//                         device. It can speak LACP: peerVsctl/peerAppctl drive it (e.g. move p1, p2
//                         into an `lacp=active` bond), so a host bond negotiates with a real partner.
//                         Like a real switch (IEEE 802.1D reserved group addresses), `sw` has a flow
//                         dropping slow-protocol frames (LACPDUs, ethertype 0x8809) on its plain
//                         ports, so an LACP bond on the host over NICs left on `sw` never hears
//                         itself (ovs-backend.md (d), "did not work" 3, saw that through an OVS
//                         NORMAL bridge; OVS 3.1 here did not forward them even without the flow,
//                         the flow makes it certain). A host bond without a partner then runs in
//                         lacp-fallback-ab ("defaulted"), as on the Linux bridge. And the host
//                         netns gets net.ipv4.conf.all.arp_ignore=1: under the userspace datapath
//                         a NIC attached to OVS is still a live kernel interface, so without it
//                         eth2 (no IPv4 of its own) answers an ARP for the bond bridge's address
//                         with eth2's MAC, and a partner hashing the next frames onto eth1 loses
//                         them (the kernel datapath of a real host consumes member frames before
//                         the IP stack sees them). Default is 'linux-bridge' (above), unchanged.
//   dir    $TMPDIR/xnd-N-XXXX (or opts.dir): run/ (db.sock, pidfiles, unixctl sockets), db/conf.db,
//          log/, etc/, sandbox.json (what stop() needs, so another process can stop it too).
// The daemons are started inside the netns with OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR/OVS_SYSCONFDIR
// pointing into dir; ovs-vsctl/ovs-appctl reach them over the unix sockets in dir/run (no
// namespace needed); `ip` runs as `ip -n <netns>`. stop() kills exactly the pids recorded in the
// sandbox's own pidfiles (checked against /proc/<pid>/cmdline) — both Open vSwitch instances when
// the peer is 'ovs' — deletes both namespaces (the veths and OVS taps die with them) and removes
// dir. It is idempotent.
//
// CLI (node dist/scripts/ovs-sandbox.js ...):
//   up <name> [--nic eth0[=02:00:00:00:00:10]]... [--dir DIR] [--peer-address 192.0.2.1/24] [--peer ovs]
//       starts a sandbox (default NICs eth0..eth3), prints its description as JSON and leaves it
//       running; the index file $TMPDIR/xnd-sandbox-<name>.json remembers it.
//   down <name>            stops the sandbox `up` started under that name.
//   exec <name> -- CMD...  runs CMD inside the sandbox netns with its OVS environment
//                          (e.g. `exec lab -- ovs-vsctl show`, `exec lab -- ip -br addr`).
//   peer <name> -- CMD...  runs CMD inside the peer ("wire") netns (e.g. `peer lab -- ping 192.0.2.10`).
//   env <name>             prints `export OVS_RUNDIR=...` lines for a shell.
//   peer-env <name>        the same for the peer's Open vSwitch (sandboxes started with --peer ovs).

import { execa } from 'execa';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localRunner } from '../src/backends/tools/exec.js';

/** One NIC of the sandbox: `device` in the host netns, `peer` (p<i>) in the peer netns. */
export interface SandboxNic {
  device: string;
  peer: string;
  mac: string;
}

/** How to start a sandbox. */
export interface SandboxOptions {
  /** Short label; the namespaces are xnd-<name>-<pid>[-peer]. */
  name: string;
  nics: { device: string; mac?: string }[];
  /** Directory to hold the OVS database, sockets and logs (created; removed by stop()). */
  dir?: string;
  /** Address (CIDR) of the peer bridge `sw` in the peer netns. */
  peerAddress?: string;
  /**
   * What the peer ends p0.. attach to: a Linux bridge `sw` (default; it never speaks LACP), or
   * `sw` on a second isolated Open vSwitch in the peer netns (state under dir/peer/), which can
   * be an LACP partner (see peerVsctl/peerAppctl).
   */
  peer?: PeerKind;
}

/** What the peer ("wire") namespace puts the NICs' peer ends on. */
export type PeerKind = 'linux-bridge' | 'ovs';

/** A running sandbox; every command runner rejects on a non-zero exit. */
export interface Sandbox {
  name: string;
  netns: string;
  peerNetns: string;
  dir: string;
  dbSock: string;
  env: Record<string, string>;
  nics: SandboxNic[];
  peerAddress: string;
  peer: PeerKind;
  /** OVS_* environment of the peer's Open vSwitch (peer 'ovs'; under dir/peer). */
  peerEnv: Record<string, string>;
  /** ovs-vsctl against this sandbox's database. */
  vsctl(args: string[]): Promise<string>;
  /** ovs-appctl against this sandbox's ovs-vswitchd (`-t ovs-vswitchd` unless args start with -t). */
  appctl(args: string[]): Promise<string>;
  /** `ip` in the host netns. */
  ip(args: string[]): Promise<string>;
  /** Any command inside the host netns, with the OVS environment. */
  exec(cmd: string, args: string[]): Promise<string>;
  /** Any command inside the peer netns (with the peer OVS environment when the peer is 'ovs'). */
  peerExec(cmd: string, args: string[]): Promise<string>;
  /** ovs-vsctl against the peer's Open vSwitch (peer 'ovs' only; rejects otherwise). */
  peerVsctl(args: string[]): Promise<string>;
  /** ovs-appctl against the peer's ovs-vswitchd (peer 'ovs' only; `-t ovs-vswitchd` unless args start with -t). */
  peerAppctl(args: string[]): Promise<string>;
  /** One ICMP echo from the peer netns; true when answered within timeoutMs. */
  ping(address: string, timeoutMs?: number): Promise<boolean>;
  /** pids of ovs-vswitchd and ovsdb-server as their pidfiles say (and the peer's, when it is 'ovs'). */
  pids(): { vswitchd?: number; ovsdb?: number; peerVswitchd?: number; peerOvsdb?: number };
  stop(): Promise<void>;
}

interface SandboxRecord {
  name: string;
  netns: string;
  peerNetns: string;
  dir: string;
  nics: SandboxNic[];
  peerAddress: string;
  /** Absent in records written before the option existed: 'linux-bridge'. */
  peer?: PeerKind;
}

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

function ovsEnv(dir: string): Record<string, string> {
  return {
    OVS_RUNDIR: join(dir, 'run'),
    OVS_DBDIR: join(dir, 'db'),
    OVS_LOGDIR: join(dir, 'log'),
    OVS_SYSCONFDIR: join(dir, 'etc'),
  };
}

/** The sandbox's tool runners spawn as the daemon's own (src/backends/tools/exec.ts), so benchmarks measure what it runs. */
async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  return localRunner(cmd, [], env)(args);
}

/** A pinger that needs no iputils: `ping` when installed, else perl's core Net::Ping (ICMP, root). */
async function pingFrom(netns: string, address: string, timeoutMs: number): Promise<boolean> {
  const secs = Math.max(timeoutMs / 1000, 0.05);
  try {
    if (hasPing()) {
      await execa('ip', ['netns', 'exec', netns, 'ping', '-n', '-q', '-c', '1', '-W', String(Math.ceil(secs)), address], { stdin: 'ignore' });
    } else {
      await execa(
        'ip',
        [
          'netns',
          'exec',
          netns,
          'perl',
          '-MNet::Ping',
          '-e',
          'my $p = Net::Ping->new("icmp", $ARGV[1]); exit($p->ping($ARGV[0]) ? 0 : 1)',
          address,
          String(secs),
        ],
        { stdin: 'ignore' },
      );
    }
    return true;
  } catch {
    return false;
  }
}

let pingBinary: boolean | undefined;
function hasPing(): boolean {
  if (pingBinary === undefined) {
    pingBinary = (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && existsSync(join(d, 'ping')));
  }
  return pingBinary;
}

function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True while pid runs and is not a zombie (detached daemons are reaped lazily by init). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function cmdlineMentions(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

async function killOwned(pid: number | undefined, dir: string): Promise<void> {
  if (pid === undefined || !alive(pid) || !cmdlineMentions(pid, dir)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (alive(pid) && cmdlineMentions(pid, dir)) {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
    const hard = Date.now() + 2000;
    while (alive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 10));
  }
}

async function netnsExists(name: string): Promise<boolean> {
  return existsSync(join('/run/netns', name)) || existsSync(join('/var/run/netns', name));
}

/** Starts ovsdb-server (on a fresh database) and ovs-vswitchd inside netns, all state under env's dirs. */
async function startOvs(netns: string, env: Record<string, string>): Promise<void> {
  for (const d of Object.values(env)) await mkdir(d, { recursive: true });
  const db = join(env.OVS_DBDIR, 'conf.db');
  await run('ovsdb-tool', ['create', db, SCHEMA], env);
  const r = env.OVS_RUNDIR;
  const l = env.OVS_LOGDIR;
  await run(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'ovsdb-server',
      db,
      `--remote=punix:${join(r, 'db.sock')}`,
      `--pidfile=${join(r, 'ovsdb-server.pid')}`,
      `--unixctl=${join(r, 'ovsdb-server.ctl')}`,
      `--log-file=${join(l, 'ovsdb-server.log')}`,
      '--detach',
      '--no-chdir',
    ],
    env,
  );
  await run('ovs-vsctl', ['--no-wait', 'init'], env);
  await run(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'ovs-vswitchd',
      `unix:${join(r, 'db.sock')}`,
      `--pidfile=${join(r, 'ovs-vswitchd.pid')}`,
      `--log-file=${join(l, 'ovs-vswitchd.log')}`,
      '--detach',
      '--no-chdir',
    ],
    env,
  );
}

function makeSandbox(rec: SandboxRecord): Sandbox {
  const env = ovsEnv(rec.dir);
  const runDir = env.OVS_RUNDIR;
  const peer: PeerKind = rec.peer ?? 'linux-bridge';
  const peerEnv = peer === 'ovs' ? ovsEnv(join(rec.dir, 'peer')) : {};
  const peerRunDir = join(rec.dir, 'peer', 'run');
  const needOvsPeer = () => {
    if (peer !== 'ovs') throw new Error(`sandbox ${rec.name}: the peer is a Linux bridge (start it with peer: 'ovs')`);
  };
  let stopping: Promise<void> | undefined;
  const sb: Sandbox = {
    ...rec,
    peer,
    peerEnv,
    dbSock: join(runDir, 'db.sock'),
    env,
    vsctl: (args) => run('ovs-vsctl', args, env),
    appctl: (args) => run('ovs-appctl', args[0]?.startsWith('-t') ? args : ['-t', 'ovs-vswitchd', ...args], env),
    ip: localRunner('ip', ['-n', rec.netns]),
    exec: (cmd, args) => run('ip', ['netns', 'exec', rec.netns, cmd, ...args], env),
    peerExec: (cmd, args) => run('ip', ['netns', 'exec', rec.peerNetns, cmd, ...args], peer === 'ovs' ? peerEnv : undefined),
    peerVsctl: async (args) => {
      needOvsPeer();
      return run('ovs-vsctl', args, peerEnv);
    },
    peerAppctl: async (args) => {
      needOvsPeer();
      return run('ovs-appctl', args[0]?.startsWith('-t') ? args : ['-t', 'ovs-vswitchd', ...args], peerEnv);
    },
    ping: (address, timeoutMs = 1000) => pingFrom(rec.peerNetns, address, timeoutMs),
    pids: () => ({
      vswitchd: readPid(join(runDir, 'ovs-vswitchd.pid')),
      ovsdb: readPid(join(runDir, 'ovsdb-server.pid')),
      ...(peer === 'ovs' ? { peerVswitchd: readPid(join(peerRunDir, 'ovs-vswitchd.pid')), peerOvsdb: readPid(join(peerRunDir, 'ovsdb-server.pid')) } : {}),
    }),
    stop: () => {
      stopping ??= (async () => {
        // Read every pidfile before killing anything: a dying daemon removes its own.
        const { vswitchd, ovsdb, peerVswitchd, peerOvsdb } = sb.pids();
        await killOwned(vswitchd, rec.dir);
        await killOwned(ovsdb, rec.dir);
        await killOwned(peerVswitchd, rec.dir);
        await killOwned(peerOvsdb, rec.dir);
        for (const ns of [rec.netns, rec.peerNetns]) {
          if (await netnsExists(ns)) await execa('ip', ['netns', 'del', ns], { reject: false });
        }
        await rm(rec.dir, { recursive: true, force: true });
        const index = indexFile(rec.name);
        try {
          if (JSON.parse(readFileSync(index, 'utf8')).dir === rec.dir) await rm(index, { force: true });
        } catch {
          /* no index for sandboxes started from code */
        }
      })();
      return stopping;
    },
  };
  return sb;
}

/** Starts an OVS userspace sandbox with the given NICs; on any failure it cleans up and rethrows. */
export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  if (!/^[A-Za-z0-9_-]{1,24}$/.test(opts.name)) throw new Error(`sandbox name ${JSON.stringify(opts.name)}: use [A-Za-z0-9_-]{1,24}`);
  const netns = `xnd-${opts.name}-${process.pid}`;
  const peerNetns = `${netns}-peer`;
  for (const ns of [netns, peerNetns]) {
    if (await netnsExists(ns)) throw new Error(`network namespace ${ns} already exists (one sandbox per name and process)`);
  }
  let dir = opts.dir;
  if (dir) await mkdir(dir, { recursive: true });
  else dir = await mkdtemp(join(tmpdir(), `xnd-${opts.name}-`));
  const nics: SandboxNic[] = opts.nics.map((n, i) => ({
    device: n.device,
    peer: `p${i}`,
    mac:
      n.mac ?? [0x02, 0x00, (process.pid >> 16) & 0xff, (process.pid >> 8) & 0xff, process.pid & 0xff, i].map((b) => b.toString(16).padStart(2, '0')).join(':'),
  }));
  const peer: PeerKind = opts.peer ?? 'linux-bridge';
  if (peer !== 'linux-bridge' && peer !== 'ovs') throw new Error(`sandbox peer ${JSON.stringify(peer)}: use 'linux-bridge' or 'ovs'`);
  const rec: SandboxRecord = { name: opts.name, netns, peerNetns, dir, nics, peerAddress: opts.peerAddress ?? '192.0.2.1/24', peer };
  const sb = makeSandbox(rec);
  try {
    await writeFile(join(dir, 'sandbox.json'), JSON.stringify(rec, null, 2));
    for (const ns of [netns, peerNetns]) await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', peerNetns, 'link', 'set', 'lo', 'up']);
    await startOvs(netns, sb.env);
    if (peer === 'ovs') {
      await run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1']);
      await startOvs(peerNetns, sb.peerEnv);
      // The wire: a netdev bridge of the peer's own Open vSwitch. Its internal device `sw` is a
      // tap in the peer netns (vswitchd runs there).
      await sb.peerVsctl(['--timeout=20', '--', 'add-br', 'sw', '--', 'set', 'bridge', 'sw', 'datapath_type=netdev', 'fail_mode=standalone']);
    } else {
      // The wire: a Linux bridge (it never forwards LACPDUs, so an LACP bond falls back cleanly).
      await run('ip', ['-n', peerNetns, 'link', 'add', 'sw', 'type', 'bridge']);
    }
    for (const n of nics) {
      await run('ip', ['link', 'add', n.device, 'netns', netns, 'address', n.mac, 'type', 'veth', 'peer', 'name', n.peer, 'netns', peerNetns]);
      if (peer === 'ovs') {
        await run('ip', ['-n', peerNetns, 'link', 'set', n.peer, 'up']);
      } else {
        await run('ip', ['-n', peerNetns, 'link', 'set', n.peer, 'master', 'sw', 'up']);
      }
      await run('ip', ['-n', netns, 'link', 'set', n.device, 'up']);
    }
    if (peer === 'ovs') {
      const add = nics.flatMap((n) => ['--', 'add-port', 'sw', n.peer]);
      if (add.length) await sb.peerVsctl(['--timeout=20', ...add]);
      // A real switch does not forward slow-protocol frames (LACPDUs). Ports later put in an LACP
      // bond still get theirs: OVS handles LACP before the flow table.
      await run('ovs-ofctl', ['add-flow', 'sw', 'priority=65535,dl_type=0x8809,actions=drop'], sb.peerEnv);
    }
    await run('ip', ['-n', peerNetns, 'addr', 'add', rec.peerAddress, 'dev', 'sw']);
    await run('ip', ['-n', peerNetns, 'link', 'set', 'sw', 'up']);
    return sb;
  } catch (e) {
    await sb.stop();
    throw e;
  }
}

/** Re-attaches to a sandbox another process started (reads <dir>/sandbox.json). */
export async function attachSandbox(dir: string): Promise<Sandbox> {
  const rec = JSON.parse(await readFile(join(dir, 'sandbox.json'), 'utf8')) as SandboxRecord;
  return makeSandbox(rec);
}

function indexFile(name: string): string {
  return join(tmpdir(), `xnd-sandbox-${name}.json`);
}

async function byName(name: string): Promise<Sandbox> {
  const { dir } = JSON.parse(await readFile(indexFile(name), 'utf8')) as { dir: string };
  return attachSandbox(dir);
}

async function cli(argv: string[]): Promise<number> {
  const [verb, name, ...rest] = argv;
  const usage =
    'usage: ovs-sandbox up <name> [--nic DEV[=MAC]]... [--dir DIR] [--peer-address CIDR] [--peer linux-bridge|ovs] | down <name> | exec <name> -- CMD... | peer <name> -- CMD... | env <name> | peer-env <name>';
  if (!verb || !name) {
    console.error(usage);
    return 2;
  }
  const afterDashes = () => (rest[0] === '--' ? rest.slice(1) : rest);
  switch (verb) {
    case 'up': {
      const nics: { device: string; mac?: string }[] = [];
      let dir: string | undefined;
      let peerAddress: string | undefined;
      let peer: PeerKind | undefined;
      for (let i = 0; i < rest.length; i++) {
        if (rest[i] === '--nic') {
          const [device, mac] = rest[++i].split('=');
          nics.push({ device, mac });
        } else if (rest[i] === '--dir') dir = rest[++i];
        else if (rest[i] === '--peer-address') peerAddress = rest[++i];
        else if (rest[i] === '--peer') peer = rest[++i] as PeerKind;
        else throw new Error(`unknown option ${rest[i]}\n${usage}`);
      }
      if (existsSync(indexFile(name))) throw new Error(`a sandbox named ${name} is up (${indexFile(name)}); run down first`);
      const sb = await startSandbox({
        name,
        nics: nics.length ? nics : ['eth0', 'eth1', 'eth2', 'eth3'].map((device) => ({ device })),
        dir,
        peerAddress,
        peer,
      });
      await writeFile(indexFile(name), JSON.stringify({ dir: sb.dir }));
      const { netns, peerNetns, dbSock, env, nics: n, peerAddress: pa, peer: pk, peerEnv } = sb;
      console.log(
        JSON.stringify(
          { name, netns, peerNetns, dir: sb.dir, dbSock, env, nics: n, peerAddress: pa, peer: pk, ...(pk === 'ovs' ? { peerEnv } : {}), pids: sb.pids() },
          null,
          2,
        ),
      );
      return 0;
    }
    case 'down':
      await (await byName(name)).stop();
      return 0;
    case 'exec':
    case 'peer': {
      const sb = await byName(name);
      const [cmd, ...args] = afterDashes();
      const ns = verb === 'exec' ? sb.netns : sb.peerNetns;
      const r = await execa('ip', ['netns', 'exec', ns, cmd, ...args], {
        env: verb === 'exec' ? sb.env : sb.peer === 'ovs' ? sb.peerEnv : undefined,
        stdio: 'inherit',
        reject: false,
      });
      return r.exitCode ?? 1;
    }
    case 'env': {
      const sb = await byName(name);
      for (const [k, v] of Object.entries(sb.env)) console.log(`export ${k}=${v}`);
      return 0;
    }
    case 'peer-env': {
      const sb = await byName(name);
      if (sb.peer !== 'ovs') throw new Error(`sandbox ${name}: the peer is a Linux bridge (up --peer ovs)`);
      for (const [k, v] of Object.entries(sb.peerEnv)) console.log(`export ${k}=${v}`);
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
