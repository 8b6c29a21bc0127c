// The ifcfg backend: realises a NetState as RHEL network-scripts files (the Linux-bridge layout
// of xapi's retired interface-reconfigure bridge backend and of Oracle VM's hand-made ifcfg files,
// as Oracle VM's administration guide lays them out) written through augeas, as oVirt's managed node
// controller did:
//  - one ifcfg file per device: ifcfg-<bridge> (TYPE=Bridge, the IP on the bridge), ifcfg-ethN
//    (BRIDGE= for a plain uplink, MASTER=/SLAVE=yes for a bond member), ifcfg-bondN (TYPE=Bond,
//    BONDING_OPTS with the XenAPI mode mapped to a Linux bonding mode), ifcfg-<dev>.<tag> for a VLAN
//    (VLAN=yes, BRIDGE=<VLAN bridge>), ifcfg-<tunnel> (recorded only: initscripts cannot bridge one);
//  - apply(): target = current + steps (./state.ts), render, write ONE augtool command file (rm the
//    files that go or change, set every key of the files that come or change, save), run
//    `augtool -A -r <root> -f <file>`, then verify every file byte for byte and the parsed state;
//    on any failure the previous files are put back with plain fs writes and BackendError names
//    the step;
//  - read() parses the files (XenAPI details Linux has no key for, bond member order and
//    Bond.properties, are kept in XENAPI_* variables, which initscripts ignore); VIF ports are
//    runtime state (the hotplug scripts put vifs on bridges), so they are kept in memory;
//  - nodeConfig(): the managed node controller's reply, the same files for another machine whose
//    NICs are named by MAC: a pre-config script (bonding module options) and an augtool file,
//    wrapped in one bash file that extracts both.
// Bond mode mapping (docs/backends.md): active-backup → mode=active-backup (1); lacp → mode=802.3ad
// (4) with lacp_rate=<lacp-time> and xmit_hash_policy=layer2 (src_mac) | layer3+4 (tcpudp_ports);
// balance-slb → mode=balance-alb (6), an APPROXIMATION flagged by a comment in the file: Linux has
// no SLB, and balance-alb is the mode that, like SLB, balances by source MAC and needs no switch
// configuration (balance-xor would need a static EtherChannel on the switch).

import { lstat, mkdir, readdir, readFile, readlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BackendError,
  type Backend,
  type BondMode,
  type Bridge,
  type IpConfig,
  type NetState,
  type Nic,
  type Step,
  type HostNetwork,
  type Uplink,
  type SkippedFile,
  type Adoption,
} from './backend.js';
import { isPrefix4, netmaskOf } from '../../schema/values.js';
import { discoverHost } from './hostnet.js';
import { localRunner, Tool, ToolError, type Runner } from './tools/exec.js';
import { IpTool } from './tools/ip.js';
import { applyPlan, PlanStepError } from './plan.js';
import { bridgeMap, sameValue } from './state.js';
import { Augtool, AugScript } from './tools/augtool.js';
import { errText } from './tools/exec.js';
import type { IfControl } from './tools/ifupdown.js';
import { naturalCompare } from '../collate.js';

/** A device to bring down or up: its file's bridge (for the step a failure names) and its place in the stack. */
interface LiveDevice {
  device: string;
  bridge: string;
  /** 0 bond member, 1 NIC/bond/tunnel, 2 VLAN device, 3 bridge: up in rising order, down in falling. */
  rank: number;
  onboot: boolean;
}

/** The devices of ifcfg files (name, text, bridge), in `order` ('up': members first, bridges last; 'down': the reverse). */
function liveDevices(files: [string, string, string][], order: 'up' | 'down'): LiveDevice[] {
  const seen = new Set<string>();
  const out: LiveDevice[] = [];
  for (const [name, text, bridge] of files) {
    const v = parseVars(text);
    const device = v.DEVICE || name.slice('ifcfg-'.length);
    if (seen.has(device)) continue;
    seen.add(device);
    const rank = v.MASTER && v.SLAVE === 'yes' ? 0 : v.TYPE === 'Bridge' ? 3 : v.VLAN === 'yes' ? 2 : 1;
    out.push({ device, bridge, rank, onboot: (v.ONBOOT ?? 'yes').toLowerCase() !== 'no' });
  }
  const cmp = (a: LiveDevice, b: LiveDevice) => a.rank - b.rank || naturalCompare(a.device, b.device);
  return out.sort(order === 'up' ? cmp : (a, b) => cmp(b, a));
}

/** Where the files live, relative to the root (the only place augeas' Shellvars lens reads ifcfg files). */
export const SCRIPTS_DIR = 'etc/sysconfig/network-scripts';

/** Where the files go and which NICs the host has. */
export interface IfcfgOptions {
  /** The file system root the files are written under (default '/'; tests: a sandbox dir). */
  root?: string;
  /** The host's NICs; default: read <root>/sys/class/net (devices with a `device` link). */
  nics?: Nic[];
  /** `ip` for discover() (default: the local `ip` when root is '/'; none for a file sandbox). */
  ip?: Runner;
  /** The augtool binary (default 'augtool'). */
  augtool?: string;
  /**
   * Live apply: how the devices of changed files are brought down (old files) and up (new files);
   * none: files only (a file sandbox). With NetworkManager the files say NM_CONTROLLED=yes.
   */
  control?: IfControl;
  /** Test hook: edits the augtool command lines before they run (fault injection). */
  editCommands?: (lines: string[]) => string[];
  log?: { debug?(m: string): void; info(m: string): void; warn(m: string): void };
}

// ------------------------------------------------------------------------------ files as lines

/** One line of an ifcfg file: a comment or KEY=value (value as written, quotes included). */
export type Line = { comment: string } | { key: string; value: string };

/** A rendered ifcfg file: name (ifcfg-xxx), lines, and the bridge it belongs to. */
export interface IfcfgFile {
  name: string;
  bridge: string;
  lines: Line[];
}

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const SAFE_RE = /^[A-Za-z0-9_.:/@+,=-]+$/;
const QUOTABLE_RE = /^[A-Za-z0-9_.:/@+,= %-]*$/;

class RenderError extends Error {
  constructor(
    readonly bridge: string,
    message: string,
  ) {
    super(message);
  }
}

/** A shell value as written: bare when safe, in double quotes when it has spaces. */
function shellValue(bridge: string, key: string, v: string): string {
  if (SAFE_RE.test(v)) return v;
  if (QUOTABLE_RE.test(v)) return `"${v}"`;
  throw new RenderError(bridge, `${key} value ${JSON.stringify(v)} cannot be written to an ifcfg file`);
}

/** Percent-encodes everything but [A-Za-z0-9._~-], so any XenAPI string survives a shell variable. */
function enc(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}
function dec(s: string): string {
  return decodeURIComponent(s);
}

/** The text augeas' Shellvars lens writes for these lines (new comments get its " # " prefix). */
export function fileText(f: IfcfgFile): string {
  return f.lines.map((l) => ('comment' in l ? ` # ${l.comment}\n` : `${l.key}=${l.value}\n`)).join('');
}

// ------------------------------------------------------------------------------ bond mapping

/** The Linux bonding mode each XenAPI mode becomes. */
export const LINUX_BOND_MODE: Record<BondMode, string> = { 'active-backup': 'active-backup', 'balance-slb': 'balance-alb', lacp: '802.3ad' };
/** The comment line that flags the balance-slb approximation in ifcfg-bondN. */
export const SLB_NOTE = 'balance-slb approximated as balance-alb (mode 6): Linux bonding has no SLB mode';

/**
 * BONDING_OPTS for a XenAPI bond: the mode, the link monitoring xapi uses (miimon=100
 * downdelay=200 updelay=31000 use_carrier=1; Bond.properties updelay/downdelay/miimon/use_carrier
 * override them), and for lacp lacp_rate and xmit_hash_policy. lacp-fallback-ab and
 * lacp-aggregation-key have no Linux bonding option and only survive in XENAPI_BOND_PROPERTIES.
 */
export function bondingOpts(mode: BondMode, p: Record<string, string>): string {
  const int = (k: string, d: number) => (p[k] !== undefined && /^\d+$/.test(p[k]) ? Number(p[k]) : d);
  // linux-mode (Bond.properties, checked by bond.ts against the XenAPI mode) picks the Linux mode.
  const linux = p['linux-mode'] ?? LINUX_BOND_MODE[mode] ?? 'balance-alb';
  const opts = [
    `mode=${linux}`,
    `miimon=${int('miimon', 100)}`,
    `downdelay=${int('downdelay', 200)}`,
    `updelay=${int('updelay', 31000)}`,
    `use_carrier=${int('use_carrier', 1)}`,
  ];
  if (mode === 'lacp') {
    opts.push(`lacp_rate=${p['lacp-time'] === 'fast' ? 'fast' : 'slow'}`);
    const hashing = p['hashing_algorithm'] ?? p['hashing-algorithm'];
    opts.push(`xmit_hash_policy=${p.xmit_hash_policy ?? (hashing === 'src_mac' ? 'layer2' : 'layer3+4')}`);
  } else if (p.xmit_hash_policy !== undefined && ['balance-xor', 'balance-tlb', 'balance-alb'].includes(linux)) {
    opts.push(`xmit_hash_policy=${p.xmit_hash_policy}`);
  }
  return opts.join(' ');
}

/** The XenAPI mode of BONDING_OPTS' mode (names or numbers), or undefined for one we do not map. */
function xenMode(opts: string): BondMode | undefined {
  const m = /(?:^|\s)mode=(\S+)/.exec(opts)?.[1];
  switch (m) {
    case 'active-backup':
    case '1':
      return 'active-backup';
    case '802.3ad':
    case '4':
      return 'lacp';
    case 'balance-alb':
    case '6':
      return 'balance-slb';
    // Linux modes with no XenAPI mode of their own: balance-slb + Bond.properties linux-mode.
    case 'balance-rr':
    case '0':
    case 'balance-xor':
    case '2':
    case 'broadcast':
    case '3':
    case 'balance-tlb':
    case '5':
      return 'balance-slb';
    default:
      return m === undefined ? 'balance-slb' : undefined;
  }
}

// ------------------------------------------------------------------------------ rendering

/** The device name a VLAN on `parent` uses: the parent bridge's uplink device, else the bridge. */
function vlanBase(state: NetState, parent: string): string {
  const u = state.bridges[parent]?.uplink;
  if (!u) return parent;
  return u.kind === 'nic' ? u.device : u.name;
}

function ipLines(bridge: string, ip: IpConfig): Line[] {
  const out: Line[] = [];
  const kv = (key: string, v: string) => {
    if (v !== '') out.push({ key, value: shellValue(bridge, key, v) });
  };
  kv('IPADDR', ip.address);
  kv('NETMASK', ip.netmask);
  kv('GATEWAY', ip.gateway);
  ip.dns
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .forEach((d, i) => kv(`DNS${i + 1}`, d));
  return out;
}

/** The lines of ifcfg-<bridge>: a Linux bridge, with the IP configuration. */
function bridgeLines(b: Bridge, nmControlled = 'no'): Line[] {
  const kv = (key: string, v: string): Line => ({ key, value: shellValue(b.name, key, v) });
  const br: Line[] = [kv('DEVICE', b.name)];
  const staticNoAddr = b.ip?.mode === 'Static' && b.ip.address === '';
  br.push(kv('BOOTPROTO', b.ip?.mode === 'DHCP' ? 'dhcp' : staticNoAddr ? 'static' : 'none'));
  br.push(kv('ONBOOT', 'yes'), kv('TYPE', 'Bridge'), kv('DELAY', '0'), kv('STP', 'off'), kv('MTU', String(b.MTU)));
  if (b.ip) br.push(...ipLines(b.name, b.ip));
  br.push(kv('NM_CONTROLLED', nmControlled));
  return br;
}

/**
 * True when a bridge is realised without a bridge device: its uplink is a NIC or a bond, it has
 * no IP and no VIF, and only VLANs use it (Oracle VM's layout, seed 003: bond0 carries
 * bond0.50/.51/.100, each on a bridge of its own, and bond0 itself is on no bridge). The uplink's
 * file then has no BRIDGE= and keeps the bridge's name (the network's) in XENAPI_BRIDGE; the
 * moment the network needs a bridge (a VIF, an IP), the bridge is written as any other.
 */
export function bridgeless(state: NetState, b: Bridge): boolean {
  if (!b.uplink || b.uplink.kind === 'tunnel' || b.ip || b.vifs.length) return false;
  return Object.values(state.bridges).some((x) => x.vlan?.parent === b.name);
}

/**
 * The ifcfg files of a state, sorted by name. `macs` gives each NIC's HWADDR; a NIC without one
 * is an error (a host cannot use a NIC it does not have).
 */
export function renderFiles(state: NetState, macs: Map<string, string>, opts: { nm?: boolean } = {}): IfcfgFile[] {
  const nmControlled = opts.nm ? 'yes' : 'no';
  const files: IfcfgFile[] = [];
  const names = new Map<string, string>();
  const add = (bridge: string, name: string, lines: Line[]) => {
    if (!NAME_RE.test(name)) throw new RenderError(bridge, `device name ${JSON.stringify(name)} cannot be an ifcfg file name`);
    const other = names.get(name);
    if (other !== undefined) throw new RenderError(bridge, `device ${name} is used by bridges ${other} and ${bridge}`);
    names.set(name, bridge);
    files.push({ name: `ifcfg-${name}`, bridge, lines });
  };
  for (const b of Object.values(state.bridges)) {
    const kv = (key: string, v: string): Line => ({ key, value: shellValue(b.name, key, v) });
    const mtu = String(b.MTU);
    const hw = (dev: string) => {
      const mac = macs.get(dev);
      if (mac === undefined) throw new RenderError(b.name, `host has no NIC ${dev}`);
      return kv('HWADDR', mac);
    };

    // the bridge, with the IP; none for a bridgeless uplink (its name kept in XENAPI_BRIDGE)
    const bare = bridgeless(state, b);
    if (!bare) add(b.name, b.name, bridgeLines(b, nmControlled));
    const bridgeKey = bare ? kv('XENAPI_BRIDGE', b.name) : kv('BRIDGE', b.name);

    // the VLAN device that feeds a VLAN bridge
    if (b.vlan) {
      const dev = `${vlanBase(state, b.vlan.parent)}.${b.vlan.tag}`;
      add(b.name, dev, [
        kv('DEVICE', dev),
        kv('ONBOOT', 'yes'),
        kv('BOOTPROTO', 'none'),
        kv('VLAN', 'yes'),
        kv('TYPE', 'Ethernet'),
        kv('MTU', mtu),
        kv('BRIDGE', b.name),
        kv('NM_CONTROLLED', nmControlled),
      ]);
    }

    const u = b.uplink;
    if (!u) continue;
    switch (u.kind) {
      case 'nic':
        add(b.name, u.device, [
          kv('DEVICE', u.device),
          kv('BOOTPROTO', 'none'),
          hw(u.device),
          kv('TYPE', 'Ethernet'),
          kv('ONBOOT', 'yes'),
          kv('MTU', mtu),
          bridgeKey,
          kv('NM_CONTROLLED', nmControlled),
        ]);
        break;
      case 'bond': {
        const lines: Line[] = [];
        if (u.mode === 'balance-slb' && !u.properties['linux-mode']) lines.push({ comment: SLB_NOTE });
        lines.push(kv('DEVICE', u.name), kv('BOOTPROTO', 'none'), kv('ONBOOT', 'yes'), kv('TYPE', 'Bond'), kv('BONDING_MASTER', 'yes'));
        lines.push(kv('BONDING_OPTS', bondingOpts(u.mode, u.properties)));
        if (u.mac) lines.push(kv('MACADDR', u.mac));
        lines.push(kv('MTU', mtu), bridgeKey, kv('NM_CONTROLLED', nmControlled));
        lines.push(kv('XENAPI_BOND_MEMBERS', u.members.join(' ')));
        const props = Object.keys(u.properties)
          .sort()
          .map((k) => `${enc(k)}=${enc(u.properties[k])}`);
        if (props.length) lines.push(kv('XENAPI_BOND_PROPERTIES', props.join(' ')));
        add(b.name, u.name, lines);
        for (const m of u.members) {
          add(b.name, m, [
            kv('DEVICE', m),
            kv('BOOTPROTO', 'none'),
            hw(m),
            kv('TYPE', 'Ethernet'),
            kv('ONBOOT', 'yes'),
            kv('MASTER', u.name),
            kv('SLAVE', 'yes'),
            kv('NM_CONTROLLED', nmControlled),
          ]);
        }
        break;
      }
      case 'tunnel': {
        const lines: Line[] = [{ comment: `${u.protocol} tunnel recorded for the toolstack: initscripts cannot put a tunnel on a bridge` }];
        lines.push(kv('DEVICE', u.name), kv('BOOTPROTO', 'none'), kv('ONBOOT', 'no'), kv('TYPE', u.protocol.toUpperCase()));
        if (u.remote) lines.push(kv('PEER_OUTER_IPADDR', u.remote));
        if (u.key) lines.push(kv('KEY', u.key));
        lines.push(kv('BRIDGE', b.name), kv('NM_CONTROLLED', nmControlled));
        if (u.transport) lines.push(kv('XENAPI_TUNNEL_TRANSPORT', u.transport));
        add(b.name, u.name, lines);
        break;
      }
    }
  }
  return files.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** Adds the augtool commands that set a file's lines, in order, into a fresh tree. */
function setLines(aug: AugScript, dir: string, f: IfcfgFile): void {
  const base = `/files/${dir}/${f.name}`;
  let c = 0;
  for (const l of f.lines) {
    if ('comment' in l) aug.setComment(`${base}/#comment[${++c}]`, l.comment);
    else aug.set(`${base}/${l.key}`, l.value);
  }
}

/**
 * An augtool command file: remove `gone` files and every file being (re)written, set the keys of
 * `write`, save. `transform` makes it self-contained for `augtool -A` (no autoload of all of /etc).
 * Built by tools/augtool.ts, which refuses any path or value that could add a command.
 */
export function augtoolScript(write: IfcfgFile[], gone: string[], opts: { transform: boolean }): string {
  const aug = new AugScript();
  if (opts.transform) aug.transform('Shellvars.lns', `/${SCRIPTS_DIR}/ifcfg-*`).load();
  for (const name of [...new Set([...gone, ...write.map((f) => f.name)])].sort()) aug.rm(`/files/${SCRIPTS_DIR}/${name}`);
  for (const f of write) setLines(aug, SCRIPTS_DIR, f);
  return aug.save().text();
}

/** The bond device names of a state, sorted naturally. */
function bondsOf(state: NetState): string[] {
  const out: string[] = [];
  for (const b of Object.values(state.bridges)) if (b.uplink?.kind === 'bond') out.push(b.uplink.name);
  return out.sort(naturalCompare);
}

/**
 * The pre-config script (oVirt's "pre-augtool script", Oracle VM's modprobe.conf lines, seed 003):
 * bonding module aliases and max_bonds, written to /etc/modprobe.d/bonding.conf, then the module
 * loaded. Each bond's mode is in its own BONDING_OPTS. Empty when the state has no bond.
 */
export function preConfigScript(state: NetState): string {
  const bonds = bondsOf(state);
  if (!bonds.length) return '';
  const conf = [...bonds.map((b) => `alias ${b} bonding`), `options bonding max_bonds=${bonds.length}`];
  return [
    '#!/bin/bash',
    "# xenapi-netd pre-config script: load the bonding module for this host's bonds (modes are in BONDING_OPTS)",
    "cat > /etc/modprobe.d/bonding.conf <<'EOF'",
    ...conf,
    'EOF',
    `modprobe bonding max_bonds=${bonds.length}`,
    '',
  ].join('\n');
}

/** Renames NIC devices in a state (nic uplinks and bond members; VLAN device names follow). */
export function renameNics(state: NetState, rename: Map<string, string>): NetState {
  const r = (d: string) => rename.get(d) ?? d;
  const bridges = bridgeMap();
  for (const [k, b] of Object.entries(state.bridges)) {
    const nb: Bridge = JSON.parse(JSON.stringify(b));
    if (nb.uplink?.kind === 'nic') nb.uplink.device = r(nb.uplink.device);
    if (nb.uplink?.kind === 'bond') nb.uplink.members = nb.uplink.members.map(r);
    bridges[k] = nb;
  }
  return { bridges };
}

const normMac = (m: string) => m.trim().toLowerCase();

/**
 * The managed node controller's reply (seeds 000/001): for a node that reports `macToDevice`
 * (its MAC → device name), this host's state with each NIC renamed to the node's device with the
 * same MAC, as one bash file that writes /var/tmp/pre-config-script (only when there are bonds;
 * otherwise it removes a previous one) and /var/tmp/node-augtool, which first removes every
 * ifcfg file but ifcfg-lo, so the node ends with exactly these files. NICs the node did not
 * report keep their names.
 */
export function nodeConfig(state: NetState, nics: Nic[], macToDevice: Record<string, string>): string {
  const byMac = new Map(Object.entries(macToDevice).map(([m, d]) => [normMac(m), d]));
  const rename = new Map<string, string>();
  const macs = new Map<string, string>();
  for (const n of nics) {
    const to = byMac.get(normMac(n.MAC)) ?? n.device;
    rename.set(n.device, to);
    macs.set(to, n.MAC);
  }
  const renamed = renameNics(state, rename);
  const files = renderFiles(renamed, macs);
  const pre = preConfigScript(renamed);
  const out = [
    '# xenapi-netd node configuration. Run with bash: it writes /var/tmp/pre-config-script (run it first)',
    '# and /var/tmp/node-augtool (then: augtool < /var/tmp/node-augtool), then restart the network service.',
  ];
  if (pre) {
    out.push(
      "cat > /var/tmp/pre-config-script <<'__XENAPI_NETD_PRE_CONFIG__'",
      pre.replace(/\n$/, ''),
      '__XENAPI_NETD_PRE_CONFIG__',
      'chmod 755 /var/tmp/pre-config-script',
    );
  } else {
    // a previous boot's script (a bond since destroyed) must not run again
    out.push('rm -f /var/tmp/pre-config-script');
  }
  // The node's files become exactly this view: every ifcfg file but ifcfg-lo goes first.
  const script = augtoolScript(files, [], { transform: false }).split('\n');
  script.unshift(`rm /files/${SCRIPTS_DIR}/*[label() =~ regexp('ifcfg-.*') and label() != 'ifcfg-lo']`);
  out.push("cat > /var/tmp/node-augtool <<'__XENAPI_NETD_AUGTOOL__'", script.join('\n').replace(/\n$/, ''), '__XENAPI_NETD_AUGTOOL__');
  return out.join('\n') + '\n';
}

// ------------------------------------------------------------------------------ parsing

/** KEY → value (quotes removed) of one ifcfg file; comments and blank lines skipped. */
export function parseVars(text: string): Record<string, string> {
  // No prototype: a file's keys are its own (a `constructor=` line is a key, not Object's member).
  const out: Record<string, string> = Object.create(null);
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].replace(/\s+#.*$/, '').trim();
    if ((v.startsWith('"') && v.endsWith('"') && v.length >= 2) || (v.startsWith("'") && v.endsWith("'") && v.length >= 2)) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

/** A file the backend leaves alone, and why (reported at first start: docs/backends.md, "Taking over a host"). */
export type Skipped = SkippedFile;

/** How parseFiles reads. */
export interface ParseOptions {
  /**
   * The host's view (what the backend's read() uses): a hand-made bond (no XENAPI_BOND_MEMBERS)
   * gets the Bond.properties its BONDING_OPTS mean under the Linux bonding driver's defaults,
   * and, without MACADDR, the MAC of its first member (`macs`: NIC → MAC), as the driver does.
   */
  host?: { macs: Map<string, string> };
}

/** Linux bonding's numeric modes, by number. */
const LINUX_MODE_NAMES = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'];
/** Linux bonding's numeric xmit_hash_policy values, by number. */
const XMIT_NAMES = ['layer2', 'layer3+4', 'layer2+3', 'encap2+3', 'encap3+4'];

/**
 * The Bond.properties a hand-made BONDING_OPTS means (Linux defaults for what it leaves out:
 * miimon 100 in modes 4-6 and 0 otherwise, updelay/downdelay 0, use_carrier 1, lacp_rate slow,
 * xmit_hash_policy layer2), with the keys xapi adds to every lacp bond, so that rendering them
 * again gives a bond that behaves the same; or why it cannot be represented.
 */
function handMadeProperties(mode: BondMode, opts: string): Record<string, string> | string {
  const o: Record<string, string> = Object.create(null);
  for (const tok of opts.split(/\s+/).filter(Boolean)) {
    const i = tok.indexOf('=');
    if (i < 1) return `BONDING_OPTS item ${JSON.stringify(tok)} is not key=value`;
    o[tok.slice(0, i)] = tok.slice(i + 1);
  }
  const extra = Object.keys(o).filter((k) => !['mode', 'miimon', 'updelay', 'downdelay', 'use_carrier', 'lacp_rate', 'xmit_hash_policy'].includes(k));
  if (extra.length) return `BONDING_OPTS ${extra.join(', ')} has no Bond.properties key`;
  const linux = o.mode === undefined ? 'balance-rr' : (LINUX_MODE_NAMES[Number(o.mode)] ?? o.mode);
  const p: Record<string, string> = {};
  if (linux !== LINUX_BOND_MODE[mode]) p['linux-mode'] = linux;
  const ints: [string, string | undefined, string, number][] = [
    ['miimon', o.miimon, ['802.3ad', 'balance-tlb', 'balance-alb'].includes(linux) ? '100' : '0', 100],
    ['downdelay', o.downdelay, '0', 200],
    ['updelay', o.updelay, '0', 31000],
    ['use_carrier', o.use_carrier, '1', 1],
  ];
  for (const [k, given, linuxDefault, ours] of ints) {
    const v = given ?? linuxDefault;
    if (!/^\d{1,7}$/.test(v) || (k === 'use_carrier' && !['0', '1'].includes(v))) return `BONDING_OPTS ${k}=${v} is not a value Bond.properties takes`;
    if (Number(v) !== ours) p[k] = String(Number(v));
  }
  let xmit = o.xmit_hash_policy ?? 'layer2';
  if (/^\d$/.test(xmit)) xmit = XMIT_NAMES[Number(xmit)] ?? xmit;
  if (!XMIT_NAMES.includes(xmit)) return `BONDING_OPTS xmit_hash_policy=${xmit} is not a value Bond.properties takes`;
  if (mode === 'lacp') {
    const rate = o.lacp_rate ?? 'slow';
    if (!['slow', 'fast', '0', '1'].includes(rate)) return `BONDING_OPTS lacp_rate=${rate} is not a value Bond.properties takes`;
    p['lacp-time'] = rate === 'fast' || rate === '1' ? 'fast' : 'slow';
    p.hashing_algorithm = xmit === 'layer2' ? 'src_mac' : 'tcpudp_ports';
    if (xmit !== 'layer2' && xmit !== 'layer3+4') p.xmit_hash_policy = xmit;
    // xapi records it on every lacp bond (Linux 802.3ad has no such option; it only survives in the database).
    p['lacp-fallback-ab'] = 'true';
  } else if (xmit !== 'layer2' && ['balance-xor', 'balance-tlb', 'balance-alb'].includes(linux)) {
    p.xmit_hash_policy = xmit;
  }
  return p;
}

const naturalCmp = naturalCompare;

/**
 * The NetState the files describe (VIFs empty), the files it was read from (the ones this
 * backend owns), and the files it leaves alone with the reason (ifcfg-lo is neither). Not
 * owned: an alias (ifcfg-X:N), a TYPE the model has not, a bridge with several ports and its
 * ports, a bridge with no port that is not exactly what this backend writes, a bond whose
 * options have no Bond.properties key, an IP on a NIC or bond itself, and whatever hangs on
 * something not owned.
 */
export function parseFiles(texts: Map<string, string>, opts: ParseOptions = {}): { state: NetState; owned: Map<string, string>; skipped: Skipped[] } {
  const vars = new Map<string, Record<string, string>>();
  const skipped: Skipped[] = [];
  const skip = (file: string, reason: string) => {
    if (!skipped.some((s) => s.file === file)) skipped.push({ file, reason });
  };
  // Aliases (ifcfg-X:N): a bridge's only alias holding its only address is that bridge's IP
  // (seed 003 puts the management address on vlan100:1); any other is left alone.
  const aliases = new Map<string, Record<string, string>>();
  const aliasReason = (name: string) => `an alias of ${name.slice(6, name.indexOf(':'))}: a PIF has one IPv4 address, aliases are not modelled`;
  for (const [name, text] of texts) {
    if (!name.startsWith('ifcfg-') || name === 'ifcfg-lo') continue;
    if (name.includes(':')) aliases.set(name, parseVars(text));
    else vars.set(name, parseVars(text));
  }
  const dev = (name: string) => vars.get(name)?.DEVICE || name.slice('ifcfg-'.length);
  const owned = new Map<string, string>(); // file → bridge
  const bridges = bridgeMap();
  const hasIp = (v: Record<string, string>) => !!v.IPADDR || (v.BOOTPROTO ?? '').toLowerCase() === 'dhcp';

  for (const [name, v] of vars) {
    if (v.TYPE !== 'Bridge') continue;
    const b: Bridge = { name: dev(name), MTU: Number(v.MTU) > 0 ? Number(v.MTU) : 1500, vifs: [] };
    // A XenAPI network's bridge has one port (its PIF's NIC, bond, tunnel or VLAN device).
    const ports = [...vars].filter(([, p]) => p.BRIDGE === b.name && p.TYPE !== 'Bridge').map(([n]) => n);
    if (ports.length > 1) {
      skip(name, `bridge ${b.name} has ${ports.length} ports (${ports.join(', ')}): a XenAPI network's bridge has one`);
      for (const p of ports) skip(p, `a port of bridge ${b.name}, which has several`);
      continue;
    }
    const boot = (v.BOOTPROTO ?? 'none').toLowerCase();
    const dns = Object.keys(v)
      .filter((k) => /^DNS\d+$/.test(k))
      .sort((a, c) => Number(a.slice(3)) - Number(c.slice(3)))
      .map((k) => v[k])
      .join(',');
    const fields = { address: v.IPADDR ?? '', netmask: v.NETMASK ?? '', gateway: v.GATEWAY ?? '', dns };
    if (boot === 'dhcp') b.ip = { mode: 'DHCP', ...fields };
    else if (v.IPADDR) b.ip = { mode: 'Static', ...fields };
    const mine = [...aliases].filter(([n]) => n.slice(6, n.indexOf(':')) === b.name);
    const [aname, av] = mine[0] ?? [];
    const aboot = (av?.BOOTPROTO ?? 'none').toLowerCase();
    const amask = av?.NETMASK ?? (av && isPrefix4(av.PREFIX ?? '') ? netmaskOf(Number(av.PREFIX)) : '');
    if (!b.ip && mine.length === 1 && av!.IPADDR && amask && (aboot === 'static' || aboot === 'none')) {
      b.ip = { mode: 'Static', address: av!.IPADDR, netmask: amask, gateway: av!.GATEWAY ?? fields.gateway, dns };
      owned.set(aname!, b.name); // rewritten into the bridge's own file, and removed, at the bridge's next change
    } else if (!b.ip && boot === 'static') b.ip = { mode: 'Static', ...fields };
    bridges[b.name] = b;
    owned.set(name, b.name);
  }
  const members = (bond: string) => [...vars].filter(([, v]) => v.MASTER === bond && v.SLAVE === 'yes');
  const isBond = (v: Record<string, string>) => v.TYPE === 'Bond' || v.BONDING_MASTER === 'yes' || v.BONDING_OPTS !== undefined;

  /** The uplink a file describes, the files it takes, or why it cannot be one. */
  const uplinkOf = (name: string, v: Record<string, string>): { uplink: Uplink; files: string[] } | { reason: string } | undefined => {
    const device = dev(name);
    if (isBond(v)) {
      const mode = xenMode(v.BONDING_OPTS ?? '');
      const ms = members(device);
      if (!mode) return { reason: `bond ${device}: BONDING_OPTS mode is not a Linux bonding mode` };
      if (!ms.length) return { reason: `bond ${device} has no member (MASTER=${device} SLAVE=yes)` };
      const order = (v.XENAPI_BOND_MEMBERS ?? '').split(/\s+/).filter(Boolean);
      const names = ms
        .map(([n]) => dev(n))
        .sort((a, c) => {
          const ia = order.indexOf(a),
            ic = order.indexOf(c);
          return (ia < 0 ? 1e9 : ia) - (ic < 0 ? 1e9 : ic) || naturalCmp(a, c);
        });
      let properties: Record<string, string> = {};
      let mac = v.MACADDR ?? '';
      if (opts.host && v.XENAPI_BOND_MEMBERS === undefined) {
        const p = handMadeProperties(mode, v.BONDING_OPTS ?? '');
        if (typeof p === 'string') return { reason: `bond ${device}: ${p}` };
        properties = p;
        // The bonding driver takes its first member's MAC when none is given.
        mac = (mac || opts.host.macs.get(names[0]) || '').toLowerCase();
      } else if (v.XENAPI_BOND_PROPERTIES !== undefined) {
        for (const kv of v.XENAPI_BOND_PROPERTIES.split(/\s+/).filter(Boolean)) {
          const i = kv.indexOf('=');
          properties[dec(kv.slice(0, i))] = dec(kv.slice(i + 1));
        }
      } else if (mode === 'lacp') {
        const rate = /lacp_rate=(\S+)/.exec(v.BONDING_OPTS ?? '')?.[1];
        const hash = /xmit_hash_policy=(\S+)/.exec(v.BONDING_OPTS ?? '')?.[1];
        if (rate) properties['lacp-time'] = rate === 'fast' || rate === '1' ? 'fast' : 'slow';
        if (hash) properties.hashing_algorithm = hash.startsWith('layer2') ? 'src_mac' : 'tcpudp_ports';
      }
      properties = Object.fromEntries(Object.entries(properties).sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0)));
      return { uplink: { kind: 'bond', name: device, members: names, mode, properties, mac }, files: [name, ...ms.map(([n]) => n)] };
    }
    if (v.TYPE === 'GRE' || v.TYPE === 'VXLAN') {
      return {
        uplink: {
          kind: 'tunnel',
          name: device,
          protocol: v.TYPE === 'VXLAN' ? 'vxlan' : 'gre',
          remote: v.PEER_OUTER_IPADDR ?? '',
          key: v.KEY ?? '',
          transport: v.XENAPI_TUNNEL_TRANSPORT ?? '',
        },
        files: [name],
      };
    }
    if ((v.TYPE ?? 'Ethernet') === 'Ethernet' && !v.MASTER) return { uplink: { kind: 'nic', device }, files: [name] };
    return undefined;
  };

  // The devices VLAN files sit on: an uplink on no bridge that only VLANs use is a bridgeless one.
  const vlanBases = new Set<string>();
  for (const [name, v] of vars) {
    const m = /^(.+)\.(\d+)$/.exec(dev(name));
    if (v.VLAN === 'yes' && m && v.BRIDGE && bridges[v.BRIDGE]) vlanBases.add(m[1]);
  }
  const taken = new Set(Object.keys(bridges));
  const bare: [string, Record<string, string>, Uplink, string[]][] = [];
  for (const [name, v] of vars) {
    if (v.VLAN === 'yes' || v.TYPE === 'Bridge' || (v.MASTER && v.SLAVE === 'yes')) continue;
    const up = uplinkOf(name, v);
    if (up && 'reason' in up) {
      skip(name, up.reason);
      continue;
    }
    if (!up) continue;
    if (v.BRIDGE) {
      const b = bridges[v.BRIDGE];
      if (!b || b.uplink || b.vlan) continue;
      if (hasIp(v)) {
        skip(name, `holds an IP on ${dev(name)} itself as well as being a port of ${b.name}`);
        continue;
      }
      b.uplink = up.uplink;
      for (const f of up.files) owned.set(f, b.name);
    } else if (vlanBases.has(dev(name)) && !hasIp(v) && up.uplink.kind !== 'tunnel') {
      bare.push([name, v, up.uplink, up.files]);
      if (v.XENAPI_BRIDGE && NAME_RE.test(v.XENAPI_BRIDGE)) taken.add(v.XENAPI_BRIDGE);
    }
  }
  // Bridgeless uplinks (see bridgeless()): the bridge is named by XENAPI_BRIDGE, or for a hand-made
  // file the first free xapi<N> in device order (what first start records as the network's bridge).
  bare.sort(([a], [c]) => naturalCmp(dev(a), dev(c)));
  for (const [, v, uplink, files] of bare) {
    let bname = v.XENAPI_BRIDGE && NAME_RE.test(v.XENAPI_BRIDGE) && !bridges[v.XENAPI_BRIDGE] ? v.XENAPI_BRIDGE : '';
    for (let n = 0; !bname; n++) if (!taken.has(`xapi${n}`)) bname = `xapi${n}`;
    taken.add(bname);
    bridges[bname] = { name: bname, MTU: Number(v.MTU) > 0 ? Number(v.MTU) : 1500, uplink, vifs: [] };
    for (const f of files) owned.set(f, bname);
  }

  // VLAN devices <base>.<tag>: the parent is the bridge whose uplink device is <base> (or the bridge <base>)
  for (const [name, v] of vars) {
    if (v.VLAN !== 'yes' || !v.BRIDGE || !bridges[v.BRIDGE]) continue;
    const m = /^(.+)\.(\d+)$/.exec(dev(name));
    if (!m) continue;
    const parent =
      Object.values(bridges).find((b) => b.uplink && (b.uplink.kind === 'nic' ? b.uplink.device : b.uplink.name) === m[1])?.name ??
      (bridges[m[1]] ? m[1] : undefined);
    if (!parent || parent === v.BRIDGE || bridges[v.BRIDGE].uplink || bridges[v.BRIDGE].vlan) continue;
    bridges[v.BRIDGE].vlan = { parent, tag: Number(m[2]) };
    owned.set(name, v.BRIDGE);
  }

  // A bridge with no port is owned only when it is exactly what this backend writes (an internal
  // network's bridge); a hand-made one is someone else's. What hangs on a dropped bridge goes with it.
  for (let changed = true; changed;) {
    changed = false;
    for (const b of Object.values(bridges)) {
      if (b.uplink || b.vlan) continue;
      const file = [...owned].find(([f, br]) => br === b.name && vars.get(f)?.TYPE === 'Bridge')?.[0];
      let ours = false;
      try {
        ours = file !== undefined && texts.get(file) === fileText({ name: file, bridge: b.name, lines: bridgeLines(b) });
      } catch {
        ours = false;
      }
      if (ours) continue;
      delete bridges[b.name];
      for (const [f, br] of [...owned]) if (br === b.name && aliases.has(f)) owned.delete(f);
      if (file) {
        owned.delete(file);
        skip(file, `bridge ${b.name} has no port, bond or VLAN: not a XenAPI network's bridge`);
      }
      for (const x of Object.values(bridges)) {
        if (x.vlan?.parent !== b.name) continue;
        delete x.vlan;
        for (const [f, br] of [...owned])
          if (br === x.name && vars.get(f)?.VLAN === 'yes') {
            owned.delete(f);
            skip(f, `a VLAN on ${b.name}, which was not adopted`);
          }
      }
      changed = true;
    }
  }

  // Why the rest is left alone.
  for (const name of aliases.keys()) if (!owned.has(name)) skip(name, aliasReason(name));
  for (const [name, v] of vars) {
    if (owned.has(name)) continue;
    const d = dev(name);
    const known = ['Ethernet', 'Bridge', 'Bond', 'GRE', 'VXLAN'];
    if (v.TYPE !== undefined && !known.includes(v.TYPE)) skip(name, `TYPE=${v.TYPE} is not modelled (${known.join(', ')} are)`);
    else if (v.MASTER) skip(name, `a member of bond ${v.MASTER}, which was not adopted`);
    else if (v.VLAN === 'yes')
      skip(
        name,
        v.BRIDGE && bridges[v.BRIDGE] ? `a VLAN on ${d.replace(/\.\d+$/, '')}, which was not adopted` : `VLAN ${d} is on no bridge (BRIDGE=${v.BRIDGE ?? ''})`,
      );
    else if (v.BRIDGE && !bridges[v.BRIDGE]) skip(name, `BRIDGE=${v.BRIDGE} names no bridge this backend adopted`);
    else if (hasIp(v)) skip(name, `holds an IP on ${d} itself: XenAPI puts a PIF's IP on its bridge`);
    else skip(name, `no bridge, bond or VLAN uses ${d}`);
  }
  skipped.sort((a, c) => naturalCmp(a.file, c.file));

  const sorted = bridgeMap();
  for (const k of Object.keys(bridges).sort()) {
    const b = bridges[k];
    const o = { name: b.name, MTU: b.MTU } as Bridge;
    if (b.vlan) o.vlan = b.vlan;
    if (b.uplink) o.uplink = b.uplink;
    if (b.ip) o.ip = b.ip;
    o.vifs = [];
    sorted[k] = o;
  }
  return { state: { bridges: sorted }, owned, skipped };
}

// ------------------------------------------------------------------------------ the backend

/** What a host without augtool is told (at start, and if it vanishes later). */
export const AUGTOOL_MISSING = 'augeas-tools is not installed (no augtool on PATH): the ifcfg backend writes its files with it';

/** Each `Error in FILE[:L.C] [at node N] (KIND)` block of augtool's `errors` output as "FILE: KIND: first message line". */
export function augeasErrors(out: string): string[] {
  const lines = out.split('\n');
  const res: string[] = [];
  lines.forEach((l, i) => {
    const m = /^Error in (\S+?)(?::(\d+)\.(\d+))?(?: at node \S+)? \((\w+)\)/.exec(l);
    if (!m) return;
    const msg = (lines[i + 1] ?? '').trim();
    res.push(`${m[1]}${m[2] ? ` line ${m[2]}` : ''}: ${m[4]}${msg && !msg.startsWith('Error in') ? `: ${msg}` : ''}`);
  });
  return [...new Set(res)];
}

/** Refuses to start the ifcfg backend without augtool (the message an operator can act on). */
export async function checkAugtool(augtool = 'augtool'): Promise<void> {
  try {
    await new Augtool(augtool).tool.run(['--version']);
  } catch (e) {
    if (e instanceof ToolError && (e.code === 'ENOENT' || e.exitCode === 127)) throw new Error(AUGTOOL_MISSING);
  }
}

/** The ifcfg backend (see the head of this file). */
export class IfcfgBackend implements Backend {
  readonly name = 'ifcfg';
  readonly root: string;
  readonly dir: string;
  /** augtool runs (tests, benchmarks). */
  augtoolRuns = 0;
  /** VIF ports by bridge: runtime state, not in any file. */
  private vifs = new Map<string, string[]>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: IfcfgOptions = {}) {
    this.root = opts.root ?? '/';
    this.dir = join(this.root, SCRIPTS_DIR);
  }

  /**
   * The configured inventory, or the devices of <root>/sys/class/net that have a `device` link.
   * With an `ip` runner given (a test's netns), each NIC's carrier is its link's LOWER_UP.
   */
  async nics(): Promise<Nic[]> {
    if (this.opts.nics) {
      const out = this.opts.nics.map((n) => ({ ...n }));
      if (this.opts.ip) {
        const links = await this.ipTool().links();
        for (const n of out) {
          const l = links.find((x) => x.ifname === n.device);
          if (l) n.carrier = l.flags.includes('LOWER_UP');
        }
      }
      return out;
    }
    const sys = join(this.root, 'sys/class/net');
    const out: Nic[] = [];
    for (const d of (await readdir(sys).catch(() => [] as string[])).sort()) {
      if (!(await readlink(join(sys, d, 'device')).catch(() => ''))) continue;
      const rd = (f: string) =>
        readFile(join(sys, d, f), 'utf8')
          .then((s) => s.trim())
          .catch(() => '');
      out.push({ device: d, MAC: await rd('address'), MTU: Number(await rd('mtu')) || 1500, carrier: (await rd('carrier')) === '1' });
    }
    return out;
  }

  /** The host as found (see hostnet.ts); NIC drivers from <root>/sys/class/net. Needs an `ip` (the local one when root is '/'). */
  async discover(): Promise<HostNetwork> {
    const ip = this.opts.ip ?? (this.root === '/' ? localRunner('ip') : undefined);
    const nics = await this.nics();
    if (!ip) return { nics: nics.map((n) => ({ ...n, driver: '' })), foreign: [] };
    return discoverHost(new IpTool(new Tool('ip', ip, this.opts.log)), {
      nics,
      sysfs: join(this.root, 'sys/class/net'),
      resolvConf: join(this.root, 'etc/resolv.conf'),
    });
  }

  /** Every ifcfg-* file of the directory: name → text. */
  private async files(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const n of names.sort()) {
      if (!n.startsWith('ifcfg-')) continue;
      const t = await readFile(join(this.dir, n), 'utf8').catch(() => undefined);
      if (t !== undefined) out.set(n, t);
    }
    return out;
  }

  private withVifs(state: NetState): NetState {
    for (const [br, vs] of this.vifs) if (state.bridges[br]) state.bridges[br].vifs = [...vs];
    return state;
  }

  /** parseFiles as the host has it (hand-made bonds with their effective properties and MAC). */
  private async parse(texts: Map<string, string>): Promise<ReturnType<typeof parseFiles>> {
    this.macsCache = new Map((await this.nics()).map((n) => [n.device, n.MAC]));
    return parseFiles(texts, { host: { macs: this.macsCache } });
  }
  /** The NICs' MACs as the last parse saw them. */
  private macsCache = new Map<string, string>();

  /** The state the files describe, plus the VIF ports this daemon put on the bridges. */
  async read(): Promise<NetState> {
    return this.withVifs((await this.parse(await this.files())).state);
  }

  /**
   * What first start adopts (docs/backends.md, "Taking over a host"): the state the files
   * describe, and each file left alone with the reason.
   */
  async adopt(): Promise<Adoption> {
    const { state, skipped } = await this.parse(await this.files());
    return { state, skipped };
  }

  /** The files the state renders to (for the node controller and tests). */
  async render(state: NetState): Promise<IfcfgFile[]> {
    return renderFiles(state, new Map((await this.nics()).map((n) => [n.device, n.MAC])), { nm: this.opts.control?.kind === 'networkmanager' });
  }

  /** Applies the plan all or nothing (see the head of this file). */
  apply(plan: Step[]): Promise<void> {
    const run = this.queue.then(() => this.applyNow(plan));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(plan: Step[]): Promise<void> {
    if (!plan.length) return;
    const before = await this.files();
    const { state: current, owned } = await this.parse(before);
    let target: NetState;
    try {
      target = applyPlan(this.withVifs(current), plan);
    } catch (e) {
      if (e instanceof PlanStepError) throw new BackendError(e.index, `step ${e.index} failed: ${e.message}`);
      throw e;
    }
    // The first step that touches a bridge: where a failure on that bridge's files is reported.
    const stepOf = (bridges: Iterable<string>): number => {
      const set = new Set(bridges);
      const i = plan.findIndex((s) => set.has(s.bridge) && !s.op.startsWith('vif.'));
      return i >= 0
        ? i
        : Math.max(
            0,
            plan.findIndex((s) => !s.op.startsWith('vif.')),
          );
    };
    let files: IfcfgFile[];
    try {
      files = await this.render(target);
    } catch (e) {
      if (e instanceof RenderError) throw new BackendError(stepOf([e.bridge]), `cannot render ${e.bridge}: ${e.message}`);
      throw e;
    }
    // Only the files of bridges whose rendering changes are written: a file written by hand for a
    // bridge the plan leaves as it is stays byte for byte (first start adopted it as it is).
    const changed = this.changedBridges(current, target, files);
    const write = files.filter((f) => changed(f.bridge) && before.get(f.name) !== fileText(f));
    const gone = [...owned.keys()].filter((n) => changed(owned.get(n)!) && !files.some((f) => f.name === n));
    // A file this backend does not own that is a port or member of something else (a bridge or
    // bond first start left alone) is not overwritten: that would break what uses it.
    for (const f of write) {
      const old = before.get(f.name);
      if (old === undefined || owned.has(f.name)) continue;
      const v = parseVars(old);
      if (v.BRIDGE || v.MASTER)
        throw new BackendError(
          stepOf([f.bridge]),
          `${f.name} is not this backend's: it is ${v.BRIDGE ? `a port of bridge ${v.BRIDGE}` : `a member of bond ${v.MASTER}`}, left alone (docs/backends.md, "Taking over a host")`,
        );
    }
    if (write.length || gone.length) {
      const touched = new Map<string, string>(); // file → bridge, for the step a failure names
      for (const f of write) touched.set(f.name, f.bridge);
      for (const n of gone) touched.set(n, owned.get(n)!);
      // Live apply: every device of the bridges that change goes down with its old file and comes
      // up with its new one (a bridge taken down loses its ports, so they are part of it).
      const ctl = this.opts.control;
      const oldFiles = [...before]
        .filter(([n]) => touched.has(n) || (owned.has(n) && changed(owned.get(n)!)))
        .map(([n, t]): [string, string, string] => [n, t, owned.get(n) ?? touched.get(n) ?? '']);
      const downs = ctl ? liveDevices(oldFiles, 'down') : [];
      const ups = ctl
        ? liveDevices(
            files.filter((f) => changed(f.bridge)).map((f): [string, string, string] => [f.name, fileText(f), f.bridge]),
            'up',
          ).filter((d) => d.onboot)
        : [];
      const downed: LiveDevice[] = [];
      const upped: LiveDevice[] = [];
      let wrote = false;
      let failedDevice: LiveDevice | undefined;
      try {
        for (const d of downs) {
          downed.push(d);
          failedDevice = d;
          await ctl!.down(d.device);
        }
        failedDevice = undefined;
        wrote = true;
        await mkdir(this.dir, { recursive: true });
        await this.runAugtool(augtoolScript(write, gone, { transform: true }));
        const bad = await this.verify(write, gone, target);
        if (bad.length) throw Object.assign(new Error(`files differ from the rendering after augtool: ${bad.join(', ')}`), { files: bad });
        if (ctl) {
          await ctl.reload();
          for (const d of ups) {
            upped.push(d);
            failedDevice = d;
            await ctl.up(d.device);
          }
        }
      } catch (e) {
        // Back as it was: the new devices down, the old files back, the old devices up.
        const problems: string[] = [];
        for (const d of [...upped].reverse()) await ctl!.down(d.device).catch((x: unknown) => problems.push(`down ${d.device}: ${errText(x)}`));
        const restoreProblem = wrote ? await this.restore(before, [...touched.keys()]) : '';
        if (ctl && downed.length) {
          if (upped.length) await ctl.reload().catch((x: unknown) => problems.push(`reload: ${errText(x)}`));
          for (const d of [...downed].reverse().filter((x) => x.onboot))
            await ctl.up(d.device).catch((x: unknown) => problems.push(`up ${d.device}: ${errText(x)}`));
        }
        if (problems.length) this.opts.log?.warn(`ifcfg: rollback of devices incomplete: ${problems.join('; ')}`);
        const failed: string[] = (e as { files?: string[] }).files ?? [...touched.keys()];
        const step = failedDevice ? stepOf([failedDevice.bridge]) : stepOf(failed.map((n) => touched.get(n) ?? '').filter(Boolean));
        const what = failedDevice
          ? `${ctl!.kind === 'networkmanager' ? 'nmcli' : 'if'}${upped.includes(failedDevice) ? 'up' : 'down'} ${failedDevice.device} failed`
          : 'ifcfg apply failed';
        const devs = downed.length
          ? `, devices ${downed.map((d) => d.device).join(' ')} brought back up${problems.length ? ` (except: ${problems.join('; ')})` : ''}`
          : '';
        throw new BackendError(step, `${what}, previous files restored${restoreProblem}${devs}: ${(e as Error).message}`);
      }
    }
    this.vifs = new Map(
      Object.values(target.bridges)
        .filter((b) => b.vifs.length)
        .map((b) => [b.name, [...b.vifs]]),
    );
  }

  /** Which bridges' files differ between the renderings of `current` and `target` (all of them when `current` cannot be rendered). */
  private changedBridges(current: NetState, target: NetState, files: IfcfgFile[]): (bridge: string) => boolean {
    const key = (fs: IfcfgFile[]) => {
      const m = new Map<string, string>();
      for (const f of fs) m.set(f.bridge, `${m.get(f.bridge) ?? ''}${f.name}\0${fileText(f)}\0`);
      return m;
    };
    let now: Map<string, string>;
    try {
      now = key(renderFiles(current, new Map(this.macsCache), { nm: this.opts.control?.kind === 'networkmanager' }));
    } catch {
      return () => true;
    }
    const then = key(files);
    return (b) => !(b in current.bridges) || !(b in target.bridges) || now.get(b) !== then.get(b);
  }

  private async runAugtool(script: string): Promise<void> {
    const lines = script.replace(/\n$/, '').split('\n');
    // `errors` last: when save fails, augtool goes on and lists each file's error (file, kind, message).
    const text = [...(this.opts.editCommands ? this.opts.editCommands(lines) : lines), 'errors'].join('\n') + '\n';
    this.augtoolRuns++;
    try {
      await this.augtool.run(this.root, text);
    } catch (e) {
      if (!(e instanceof ToolError)) throw e;
      if (e.code === 'ENOENT') throw new Error(AUGTOOL_MISSING);
      const all = e.stderr;
      const files = augeasErrors(all);
      const out = all.trim().split('\n');
      const errs = out.filter((l) => /^error|fail/i.test(l) && !/^\s/.test(l) && !/^Error in /.test(l));
      const what = files.length ? files.join('; ') : (errs.length ? errs : out.slice(-3)).join(' / ');
      throw new Error(`augtool exited ${e.exitCode ?? e.signal}: ${what}`);
    }
  }

  /** augtool, through its wrapper (tools/augtool.ts: the Tool choke point, every command logged). */
  private get augtool(): Augtool {
    return (this.augtoolCache ??= new Augtool(this.opts.augtool ?? 'augtool', this.opts.log));
  }
  private augtoolCache?: Augtool;

  /** Files that are not what was rendered (or still there though they should be gone), and a state check. */
  private async verify(files: IfcfgFile[], gone: string[], target: NetState): Promise<string[]> {
    const now = await this.files();
    const bad: string[] = [];
    for (const f of files) if (now.get(f.name) !== fileText(f)) bad.push(f.name);
    for (const n of gone) if (now.has(n)) bad.push(n);
    if (!bad.length) {
      const noVifs = (s: NetState) => Object.values(s.bridges).map((b) => ({ ...b, vifs: [] }));
      if (!sameValue(noVifs((await this.parse(now)).state), noVifs(target))) bad.push(...files.map((f) => f.name));
    }
    return bad;
  }

  /** Puts back the previous content of `names` (deleting the ones that did not exist); '' or a note. */
  private async restore(before: Map<string, string>, names: string[]): Promise<string> {
    const problems: string[] = [];
    for (const n of names) {
      const p = join(this.dir, n);
      try {
        const old = before.get(n);
        if (old === undefined) {
          // only a file we wrote goes; anything else in the way (a directory) was there before
          if ((await lstat(p).catch(() => undefined))?.isFile()) await unlink(p);
        } else {
          const cur = await readFile(p, 'utf8').catch(() => undefined);
          if (cur !== old) await writeFile(p, old);
        }
      } catch (e) {
        problems.push(`${n}: ${(e as Error).message}`);
      }
    }
    if (problems.length) this.opts.log?.warn(`ifcfg: restore incomplete: ${problems.join('; ')}`);
    return problems.length ? ` (except ${problems.join('; ')})` : '';
  }

  private ipToolCache?: IpTool;
  private ipTool(): IpTool {
    this.ipToolCache ??= new IpTool(new Tool('ip', this.opts.ip!, this.opts.log));
    return this.ipToolCache;
  }

  /**
   * Members with MII status up in <root>/proc/net/bonding/<bond>; without that file and with an
   * `ip` runner given, the links enslaved to <bond> that have LOWER_UP; else 0.
   */
  async bondLinksUp(bond: string): Promise<number> {
    const text = await readFile(join(this.root, 'proc/net/bonding', bond), 'utf8').catch(() => '');
    if (!text && this.opts.ip) return (await this.ipTool().links()).filter((l) => l.master === bond && l.flags.includes('LOWER_UP')).length;
    let n = 0;
    for (const sec of text.split(/^Slave Interface:/m).slice(1)) if (/^MII Status:\s*up\s*$/m.test(sec)) n++;
    return n;
  }

  async close(): Promise<void> {
    await this.queue;
  }
}
