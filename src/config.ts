// Daemon configuration: flags, files and the embedded defaults `make run` starts with.
import { readFileSync } from 'node:fs';
import type { UserEntry } from './api/session.js';
import { ROLES } from '../schema/index.js';
import type { PoolConfig } from './pool/service.js';
import type { InventoryEntry, InventoryNic } from './xapi/startup.js';
import { isDnsList, isIfName, isMac, isMtu, isValid, isVlanTagged } from '../schema/values.js';

/** The daemon's whole configuration (flags over DEFAULTS). */
export interface Config extends PoolConfig {
  host: string;
  port: number;
  db: string;
  backend: string;
  /** --inventory: the host's NICs (and bonds/VLANs). Unset: the demo NICs with the simulated backend, the host's own with a real one. */
  inventory?: InventoryEntry[];
  users: UserEntry[];
  /** Largest request body, bytes. */
  maxBody: number;
  authFailDelayMs: number;
  /** Password checks in progress per client address / in total (failing ones hold theirs through the delay). */
  loginsPerAddress: number;
  loginsInProgress: number;
  /** Most live sessions (pool sessions aside); past it the least recently used are destroyed. */
  maxSessions: number;
  /** HTTP: a request's headers and body must arrive within this many ms (xapi-like, <= 60 s). */
  requestTimeoutMs: number;
  /** HTTP: an idle keep-alive connection is closed after this many ms. */
  keepAliveTimeoutMs: number;
  /** HTTP: most open connections; more are closed at once. */
  maxConnections: number;
  /** Origins (scheme://host[:port]) whose browser pages may call the API (CORS); none by default. */
  corsOrigins: string[];
  logLevel: string;
  /** Log to this file as well as to the console ('' for console only). */
  logFile: string;
  hostname?: string;
  /** host.software_version:network_backend to report ('openvswitch' | 'bridge'); default: bridge for ifcfg, openvswitch otherwise (the simulated host is openvswitch-flavoured, as a current XenServer). */
  networkBackend?: string;
  /** The openvswitch backend drives the OVS sandbox described by DIR/sandbox.json (scripts/ovs-sandbox.ts). */
  ovsSandbox?: string;
  /** The ifcfg backend writes network-scripts files under DIR (a sandbox root) instead of '/'. */
  ifcfgRoot?: string;
  /** ifcfg live apply: the ifup / ifdown / nmcli programs (default with root '/': ifup, ifdown, nmcli on PATH; with --ifcfg-root: none, files only). */
  ifup?: string;
  ifdown?: string;
  nmcli?: string;
  /** Append every HTTP exchange to this file as a JSON line (test/contract/README.md). */
  record?: string;
  /** Also serve on this Unix socket, where a root peer logs in without a password (xapi: /var/lib/xcp/xapi). */
  unixSocket?: string;
  /** Serve HTTPS with this PEM certificate and key. */
  tlsCert?: string;
  tlsKey?: string;
}

/** The demo host's NICs: eth0..eth5 with fixed MACs; eth0 is the management NIC in 192.0.2.0/24 (TEST-NET-1). */
export const DEMO_INVENTORY: InventoryNic[] = [0, 1, 2, 3, 4, 5].map((i) => ({
  device: `eth${i}`,
  MAC: `02:00:5e:00:53:${(0x10 + i).toString(16)}`,
  MTU: 1500,
  carrier: true,
  ...(i === 0
    ? { management: true, ip: { mode: 'Static' as const, address: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1', dns: '192.0.2.53' } }
    : {}),
}));

/** The embedded login: user `root`, password `secret` (scrypt hash below). Replace with --users. */
export const DEFAULT_USERS: UserEntry[] = [{ name: 'root', hash: 'scrypt$16384$8$1$eGVuYXBpLW5ldGQtZGVtbw==$BNplw5BCN1SKuddel05T8yMQ6xa2jypcRkOrg7uOO2s=' }];
/** The embedded default login's password (printed at start). */
export const DEFAULT_PASSWORD = 'secret';

/** What `make run` starts with. */
export const DEFAULTS: Config = {
  host: '127.0.0.1',
  port: 8080,
  db: 'var/xenapi-netd.db',
  backend: 'simulated',
  users: DEFAULT_USERS,
  maxBody: 4 * 1024 * 1024,
  authFailDelayMs: 5000,
  loginsPerAddress: 4,
  loginsInProgress: 64,
  maxSessions: 100_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 1000,
  corsOrigins: [],
  logLevel: 'info',
  logFile: '',
};

/** The --help text. */
export const USAGE = `usage: xenapi-netd [options]             run the daemon (options below)
       xenapi-netd hash-password PASSWORD   print the scrypt hash of PASSWORD for a --users file
       xenapi-netd wait-ready [options] [--timeout S]
                                            exit 0 once a daemon started with the same options answers
                                            on its --listen address (systemd ExecStartPost; default 60 s)
       xenapi-netd --help                   this text
options:
  --listen HOST:PORT     where to serve XML-RPC and JSON-RPC (default 127.0.0.1:8080)
  --db FILE              SQLite database file (default var/xenapi-netd.db; :memory: for none)
  --backend NAME         simulated | openvswitch | ifcfg (default simulated)
  --ovs-sandbox DIR      openvswitch backend: drive the sandboxed OVS in DIR (see scripts/ovs-sandbox.ts)
  --ifcfg-root DIR       ifcfg backend: files under DIR/etc/sysconfig/network-scripts, NICs from --inventory
                         (default: / with the NICs of /sys/class/net)
  --ifup PATH, --ifdown PATH, --nmcli PATH
                         ifcfg backend: the programs that apply changed files to the running host
                         (nmcli when NetworkManager runs, else ifup/ifdown; default: from PATH with
                         the root '/', none with --ifcfg-root unless given)
  --network-backend B    openvswitch | bridge: host.software_version:network_backend (tunnels need openvswitch;
                         default bridge for ifcfg, openvswitch for simulated and openvswitch)
  --inventory FILE       JSON list of NICs [{device, MAC, MTU, management?, ip?, bridge?}], bonds
                         [{bond, members, mode, properties?, bridge?, management?, ip?}] and VLANs
                         [{vlan, on, bridge?, management?, ip?}] (docs/install.md). Default: the demo
                         eth0..eth5 with the simulated backend; with a real backend the host's own NICs,
                         management = the interface holding the default route, as it is
  --users FILE           JSON list of users [{name, hash, role}], hashes from 'xenapi-netd hash-password PW';
                         role: pool-admin (default) | pool-operator | vm-power-admin | vm-admin |
                         vm-operator | read-only (docs/security.md)
                         (default, simulated backend only: root / ${DEFAULT_PASSWORD}; required with a real backend)
  --max-body BYTES       largest request body (default 4194304)
  --auth-fail-delay MS   delay before SESSION_AUTHENTICATION_FAILED (default 5000, as xapi)
  --logins-per-address N password checks in progress per client address (default 4; more are refused)
  --logins-in-progress N password checks in progress in total (default 64)
  --max-sessions N       most live sessions; the least recently used go first (default 100000)
  --request-timeout MS   a request's headers and body must arrive within MS (default 60000)
  --keep-alive-timeout MS  close idle keep-alive connections after MS (default 65000)
  --max-connections N    most open HTTP connections (default 1000)
  --cors-origin ORIGIN   let browser pages from ORIGIN (scheme://host[:port]) call the API; repeatable
  --hostname NAME        host name_label on first start (default: the OS host name)
  --log-level LEVEL      error | warn | info | debug (default info)
  --log-file FILE        also log to FILE
  --pool-master ADDRESS  run as a pool slave of the master at ADDRESS (URL or host:port; docs/pool.md)
  --pool-user USER       with --pool-master: the master's user for the first registration
  --pool-password PW     with --pool-master: that user's password
  --pool-heartbeat MS    slave: how often to check the master (default 2000)
  --pool-max-backoff MS  slave: longest wait between reconnection attempts (default 10000)
  --pool-ca FILE         PEM certificates trusted for https:// pool traffic (besides the system's)
  --pool-advertise URL   where the master reaches this daemon (default: the --listen URL)
  --pool-call-timeout MS master: how long a call forwarded to a slave may go unanswered before it
                         fails CANNOT_CONTACT_HOST [host] and the slave is resynced (default 5000)
  --unix-socket PATH     also serve on this Unix socket (plain HTTP, XML-RPC and /jsonrpc); a root
                         peer (SO_PEERCRED) logs in with any password, as on XenServer's /var/lib/xcp/xapi
  --tls-cert FILE        serve HTTPS with this PEM certificate (with --tls-key), as xapi on 443
  --tls-key FILE         the certificate's PEM private key
  --record FILE          append every HTTP exchange to FILE as JSON lines (replay: dist/scripts/replay.js)
  --help                 this text`;

/** Checks a --users list: [{name, hash, role?}] with role one of xapi's six (missing: pool-admin). */
export function checkUsers(users: unknown): UserEntry[] {
  if (!Array.isArray(users)) throw new Error('--users: expected a JSON list of {name, hash, role?}');
  for (const u of users) {
    if (!u || typeof u !== 'object' || typeof u.name !== 'string' || typeof u.hash !== 'string')
      throw new Error(`--users: each user needs a name and a hash, got ${JSON.stringify(u)}`);
    if (u.role !== undefined && !(ROLES as readonly unknown[]).includes(u.role))
      throw new Error(`--users: user ${u.name} has role ${JSON.stringify(u.role)}; roles are ${ROLES.join(', ')}`);
  }
  return users as UserEntry[];
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} wants a positive integer, got ${v}`);
  return n;
}

/** An origin as browsers send it: scheme://host[:port], lower case, no path. */
function origin(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error(`--cors-origin wants scheme://host[:port], got ${v}`);
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || !/^https?:$/.test(u.protocol))
    throw new Error(`--cors-origin wants scheme://host[:port], got ${v}`);
  return u.origin;
}

/** Why the daemon must not start with this configuration (undefined: it may). */
export function refuseToStart(c: Config): string | undefined {
  if (c.backend !== 'simulated' && c.users === DEFAULT_USERS) {
    return (
      `the ${c.backend} backend drives a real host: the embedded login (root / ${DEFAULT_PASSWORD}) is only for the simulated backend. ` +
      `Create a users file: printf '[{"name":"root","hash":"%s"}]\n' "$(xenapi-netd hash-password 'YOUR PASSWORD')" > /etc/xenapi-netd/users.json; chmod 600 it, and start with --users /etc/xenapi-netd/users.json`
    );
  }
  return undefined;
}

/** Parses argv into a Config (throws with a message for bad flags). */
export function parseArgs(argv: string[]): Config {
  const c: Config = { ...DEFAULTS };
  const need = (i: number) => {
    if (i >= argv.length) throw new Error(`${argv[i - 1]} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--listen': {
        const v = need(++i);
        const m = /^(.*):(\d+)$/.exec(v);
        if (!m) throw new Error(`--listen wants HOST:PORT, got ${v}`);
        c.host = m[1].replace(/^\[|\]$/g, '');
        c.port = Number(m[2]);
        break;
      }
      case '--db':
        c.db = need(++i);
        break;
      case '--backend':
        c.backend = need(++i);
        break;
      case '--ovs-sandbox':
        c.ovsSandbox = need(++i);
        break;
      case '--ifcfg-root':
        c.ifcfgRoot = need(++i);
        break;
      case '--ifup':
        c.ifup = need(++i);
        break;
      case '--ifdown':
        c.ifdown = need(++i);
        break;
      case '--nmcli':
        c.nmcli = need(++i);
        break;
      case '--network-backend': {
        const v = need(++i);
        if (v !== 'openvswitch' && v !== 'bridge') throw new Error(`--network-backend wants openvswitch or bridge, got ${v}`);
        c.networkBackend = v;
        break;
      }
      case '--inventory':
        c.inventory = checkInventory(JSON.parse(readFileSync(need(++i), 'utf8')));
        break;
      case '--users':
        c.users = checkUsers(JSON.parse(readFileSync(need(++i), 'utf8')));
        break;
      case '--max-body':
        c.maxBody = Number(need(++i));
        break;
      case '--auth-fail-delay':
        c.authFailDelayMs = Number(need(++i));
        break;
      case '--logins-per-address':
        c.loginsPerAddress = positive(a, need(++i));
        break;
      case '--logins-in-progress':
        c.loginsInProgress = positive(a, need(++i));
        break;
      case '--max-sessions':
        c.maxSessions = positive(a, need(++i));
        break;
      case '--request-timeout':
        c.requestTimeoutMs = positive(a, need(++i));
        break;
      case '--keep-alive-timeout':
        c.keepAliveTimeoutMs = positive(a, need(++i));
        break;
      case '--max-connections':
        c.maxConnections = positive(a, need(++i));
        break;
      case '--cors-origin':
        c.corsOrigins = [...c.corsOrigins, origin(need(++i))];
        break;
      case '--hostname':
        c.hostname = need(++i);
        break;
      case '--log-level':
        c.logLevel = need(++i);
        break;
      case '--log-file':
        c.logFile = need(++i);
        break;
      case '--pool-master':
        c.poolMaster = need(++i);
        break;
      case '--pool-user':
        c.poolUser = need(++i);
        break;
      case '--pool-password':
        c.poolPassword = need(++i);
        break;
      case '--pool-heartbeat':
        c.poolHeartbeatMs = Number(need(++i));
        break;
      case '--pool-max-backoff':
        c.poolMaxBackoffMs = Number(need(++i));
        break;
      case '--pool-ca':
        c.poolCa = need(++i);
        break;
      case '--pool-advertise':
        c.poolAdvertise = need(++i);
        break;
      case '--pool-call-timeout': {
        const v = Number(need(++i));
        if (!Number.isInteger(v) || v < 1) throw new Error(`--pool-call-timeout: expected a positive number of ms, got ${argv[i]}`);
        c.poolCallTimeoutMs = v;
        break;
      }
      case '--record':
        c.record = need(++i);
        break;
      case '--unix-socket':
        c.unixSocket = need(++i);
        break;
      case '--tls-cert':
        c.tlsCert = need(++i);
        break;
      case '--tls-key':
        c.tlsKey = need(++i);
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  return c;
}

/**
 * An --inventory file, checked against the value types (its entries become PIF records and reach
 * the backend): device and bridge names, MACs, MTUs, VLAN tags, bond members/mode/properties, and
 * IP configurations. Throws naming the first bad entry, so the daemon does not start on it.
 */
export function checkInventory(v: unknown): InventoryEntry[] {
  if (!Array.isArray(v)) throw new Error('--inventory: want a JSON list of NICs, bonds and VLANs');
  const seen = new Set<string>();
  // Untyped JSON: every field is checked below before anything reads it as a value.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  v.forEach((e: Record<string, any>, i) => {
    const at = `--inventory: entry ${i}`;
    if (!e || typeof e !== 'object') throw new Error(`${at} is not an object`);
    const name = (what: string, x: unknown) => {
      if (!isIfName(x as string)) throw new Error(`${at}: ${what} ${JSON.stringify(x)} is not a valid interface name`);
    };
    if ('bond' in e) {
      name('bond', e.bond);
      if (!Array.isArray(e.members)) throw new Error(`${at}: members must be a list`);
      e.members.forEach((m: unknown) => name('member', m));
      if (e.MAC !== undefined && !isMac(e.MAC)) throw new Error(`${at}: MAC ${JSON.stringify(e.MAC)} is not valid`);
      if (!['balance-slb', 'active-backup', 'lacp'].includes(e.mode)) throw new Error(`${at}: mode ${JSON.stringify(e.mode)} is not a bond mode`);
      for (const [k, x] of Object.entries(e.properties ?? {})) {
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(k) || !/^[A-Za-z0-9_.:+-]{0,64}$/.test(String(x)))
          throw new Error(`${at}: property ${JSON.stringify(k)}=${JSON.stringify(x)} is not valid`);
      }
    } else if ('vlan' in e) {
      if (!isVlanTagged(e.vlan)) throw new Error(`${at}: VLAN tag ${JSON.stringify(e.vlan)} is out of range 0-4094`);
      name('on', e.on);
    } else {
      name('device', e.device);
      if (seen.has(e.device)) throw new Error(`${at}: device ${e.device} is listed twice`);
      seen.add(e.device);
      if (!isMac(e.MAC)) throw new Error(`${at}: MAC ${JSON.stringify(e.MAC)} is not valid`);
      if (!isMtu(e.MTU)) throw new Error(`${at}: MTU ${JSON.stringify(e.MTU)} is out of range 68-65535`);
    }
    if (e.bridge !== undefined) name('bridge', e.bridge);
    if (e.networkMTU !== undefined && !isMtu(e.networkMTU)) throw new Error(`${at}: networkMTU ${JSON.stringify(e.networkMTU)} is out of range 68-65535`);
    if (e.ip !== undefined) {
      if (!e.ip || (e.ip.mode !== 'Static' && e.ip.mode !== 'DHCP')) throw new Error(`${at}: ip.mode must be Static or DHCP`);
      for (const [k, vt] of [
        ['address', 'ipv4'],
        ['netmask', 'netmask'],
        ['gateway', 'ipv4'],
      ] as const) {
        if (e.ip[k] !== undefined && !isValid(vt, e.ip[k])) throw new Error(`${at}: ip.${k} ${JSON.stringify(e.ip[k])} is not valid`);
      }
      if (e.ip.dns !== undefined && !isDnsList(e.ip.dns)) throw new Error(`${at}: ip.dns ${JSON.stringify(e.ip.dns)} is not a list of addresses`);
    }
  });
  return v as InventoryEntry[];
}
