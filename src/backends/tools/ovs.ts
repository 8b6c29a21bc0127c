// ovs-vsctl and ovs-appctl, wrapped: commands are built by typed methods from validated values
// (interface names by the Linux/OVS rules, MACs, MTUs, VLAN tags, IPv4 addresses; free text only
// as a JSON-quoted OVSDB string atom), so no caller value can become an option, a command or a
// second column. A transaction is the `--`-joined chain of those commands: one argv, atomic in OVSDB.

import { isIfName, isIPv4, isMac, isMtu, isTunnelKey, isVlanTagged } from '../../../schema/values.js';
import { RefusedValue, Tool } from './exec.js';

const VSCTL = 'ovs-vsctl';

/** An OVSDB string atom, quoted for ovs-vsctl (JSON escapes are what ovs-vsctl parses). */
export function ovsString(s: string): string {
  if (typeof s !== 'string') throw new RefusedValue(VSCTL, 'string', s);
  return JSON.stringify(s);
}

/** An OVSDB map {k=v,...} with keys sorted and every key and value quoted. */
export function ovsMap(m: Record<string, string>): string {
  const keys = Object.keys(m).sort();
  return `{${keys.map((k) => `${ovsString(k)}=${ovsString(m[k])}`).join(',')}}`;
}

/** An interface, port or bridge name, checked. */
export function ifName(n: string): string {
  if (!isIfName(n)) throw new RefusedValue(VSCTL, 'interface name', n);
  return n;
}
function mtu(n: number): string {
  if (!isMtu(n)) throw new RefusedValue(VSCTL, 'MTU', n);
  return String(n);
}
function tag(n: number): string {
  if (!isVlanTagged(n)) throw new RefusedValue(VSCTL, 'VLAN tag', n);
  return String(n);
}
function mac(m: string): string {
  if (!isMac(m)) throw new RefusedValue(VSCTL, 'MAC', m);
  return m.toLowerCase();
}
function word(w: string, re: RegExp, what: string): string {
  if (!re.test(w)) throw new RefusedValue(VSCTL, what, w);
  return w;
}
const ATOM = /^[a-z0-9_-]+$/;

/** Bond columns of a Port, typed (what bond rendering decides). */
export interface BondPortCols {
  mac?: string;
  lacp: 'active' | 'off';
  bondMode: 'balance-slb' | 'balance-tcp' | 'active-backup';
  updelay: number;
  downdelay: number;
  otherConfig: Record<string, string>;
  externalIds: Record<string, string>;
}

/** A chain of ovs-vsctl commands, each tagged with the plan step it belongs to. */
export class VsctlTxn {
  /** The words of each command, in order. */
  readonly cmds: string[][] = [];
  /** The plan step of each command. */
  readonly cmdStep: number[] = [];
  /** Command indexes where the chain is cut into separate transactions. */
  readonly barriers = new Set<number>();
  private step = 0;

  /** Commands added next belong to plan step `i`. */
  at(i: number): this {
    this.step = i;
    return this;
  }
  private add(...words: string[]): void {
    this.cmds.push(words);
    this.cmdStep.push(this.step);
  }
  /** Ends the current transaction here (the next commands run in a new ovs-vsctl call). */
  cut(): void {
    this.barriers.add(this.cmds.length);
  }

  addBr(br: string, datapathType: string): void {
    const dp = word(datapathType, ATOM, 'datapath type');
    this.add('--may-exist', 'add-br', ifName(br));
    this.add('set', 'bridge', br, `datapath_type=${dp}`, 'fail_mode=standalone');
  }
  /** A VLAN (fake) bridge on `parent` with `vlanTag`. */
  addFakeBr(br: string, parent: string, vlanTag: number): void {
    this.add('--may-exist', 'add-br', ifName(br), ifName(parent), tag(vlanTag));
  }
  delBr(br: string): void {
    this.add('--if-exists', 'del-br', ifName(br));
  }
  setMtu(iface: string, n: number): void {
    this.add('set', 'interface', ifName(iface), `mtu_request=${mtu(n)}`);
  }
  /** The bridge device's MAC (networkd's other-config:hwaddr). */
  setBridgeHwaddr(br: string, hw: string): void {
    this.add('set', 'bridge', ifName(br), `other_config:hwaddr=${ovsString(mac(hw))}`);
  }
  /** An Interface's own MAC (a VLAN fake bridge's internal device: networkd's `set interface <br> MAC=`). */
  setInterfaceMac(iface: string, hw: string): void {
    this.add('set', 'interface', ifName(iface), `mac=${ovsString(mac(hw))}`);
  }
  addPort(br: string, port: string): void {
    this.add('--may-exist', 'add-port', ifName(br), ifName(port));
  }
  delPort(br: string, port: string): void {
    this.add('--if-exists', 'del-port', ifName(br), ifName(port));
  }
  addBond(br: string, bond: string, members: string[]): void {
    this.add('--may-exist', 'add-bond', ifName(br), ifName(bond), ...members.map(ifName));
  }
  /** A bond port with one member (add-bond needs two): Interface and Port rows created by hand. */
  addOneMemberBond(br: string, bond: string, member: string): void {
    const k = this.cmds.length;
    this.add(`--id=@if${k}`, 'create', 'interface', `name=${ovsString(ifName(member))}`);
    this.add(`--id=@p${k}`, 'create', 'port', `name=${ovsString(ifName(bond))}`, `interfaces=@if${k}`);
    this.add('add', 'bridge', ifName(br), 'ports', `@p${k}`);
  }
  setBondPort(bond: string, c: BondPortCols): void {
    const cols = [
      `lacp=${c.lacp}`,
      `bond_mode=${c.bondMode}`,
      `bond_updelay=${word(String(c.updelay), /^\d{1,9}$/, 'delay')}`,
      `bond_downdelay=${word(String(c.downdelay), /^\d{1,9}$/, 'delay')}`,
      `other_config=${ovsMap(c.otherConfig)}`,
      `external_ids=${ovsMap(c.externalIds)}`,
    ];
    if (c.mac) cols.unshift(`mac=${ovsString(mac(c.mac))}`);
    this.add('set', 'port', ifName(bond), ...cols);
  }
  /** Sets other_config keys (and the MTU, when given) of a member Interface. */
  setMember(iface: string, otherConfig: Record<string, string>, mtuReq?: number): void {
    const cols = Object.keys(otherConfig)
      .sort()
      .map((k) => `other_config:${ovsString(k)}=${ovsString(otherConfig[k])}`);
    if (mtuReq) cols.push(`mtu_request=${mtu(mtuReq)}`);
    if (cols.length) this.add('set', 'interface', ifName(iface), ...cols);
  }
  removeOtherConfig(iface: string, keys: string[]): void {
    this.add('remove', 'interface', ifName(iface), 'other_config', ...keys.map(ovsString));
  }
  /** A tunnel Interface: gre/vxlan to an IPv4 remote, optional key, the transport bridge noted in external_ids. */
  setTunnel(iface: string, protocol: 'gre' | 'vxlan', remote: string, key: string, externalIds: Record<string, string>): void {
    if (protocol !== 'gre' && protocol !== 'vxlan') throw new RefusedValue(VSCTL, 'tunnel protocol', protocol);
    if (remote !== '' && !isIPv4(remote)) throw new RefusedValue(VSCTL, 'tunnel remote IP', remote);
    if (key && !isTunnelKey(key)) throw new RefusedValue(VSCTL, 'tunnel key', key);
    this.add(
      'set',
      'interface',
      ifName(iface),
      `type=${protocol}`,
      `options=${ovsMap({ remote_ip: remote, ...(key ? { key } : {}) })}`,
      `external_ids=${ovsMap(externalIds)}`,
    );
  }
  setInternal(iface: string): void {
    this.add('set', 'interface', ifName(iface), 'type=internal');
  }
  setExternalId(iface: string, key: string, value: string): void {
    this.add('set', 'interface', ifName(iface), `external_ids:${word(key, /^[a-z0-9-]+$/, 'key')}=${ovsString(value)}`);
  }
  removeExternalId(iface: string, key: string): void {
    this.add('remove', 'interface', ifName(iface), 'external_ids', word(key, /^[a-z0-9-]+$/, 'key'));
  }

  /** The argv of each transaction (the chain cut at the barriers), with `--timeout`. */
  argvs(timeoutSeconds: number): string[][] {
    const cuts = [0, ...[...this.barriers].filter((b) => b > 0 && b < this.cmds.length).sort((x, y) => x - y), this.cmds.length];
    const out: string[][] = [];
    for (let k = 0; k + 1 < cuts.length; k++) {
      const part = this.cmds.slice(cuts[k], cuts[k + 1]);
      if (part.length) out.push([`--timeout=${Math.max(1, Math.floor(timeoutSeconds))}`, ...part.flatMap((c) => ['--', ...c])]);
    }
    return out;
  }
}

/** The Bridge, Port and Interface columns read() needs, as one read-only call. */
export function listTablesArgv(timeoutSeconds: number): string[] {
  return [
    `--timeout=${Math.max(1, Math.floor(timeoutSeconds))}`,
    '--format=json',
    '--',
    '--columns=name,ports',
    'list',
    'Bridge',
    '--',
    '--columns=_uuid,name,interfaces,tag,fake_bridge,bond_mode,lacp,bond_updelay,bond_downdelay,mac,other_config,external_ids',
    'list',
    'Port',
    '--',
    '--columns=_uuid,name,type,options,other_config,external_ids,mtu,mtu_request,error,ofport',
    'list',
    'Interface',
  ];
}

/** ovs-vsctl: counted writes and reads. */
export class Vsctl {
  writes = 0;
  constructor(readonly tool: Tool) {}
  get calls(): number {
    return this.tool.calls;
  }
  /** Reads the three tables (JSON lines). */
  async listTables(timeoutSeconds: number): Promise<string> {
    return this.tool.run(listTablesArgv(timeoutSeconds));
  }
  /** Runs one transaction built by VsctlTxn.argvs. */
  async write(argv: string[]): Promise<string> {
    this.writes++;
    return this.tool.run(argv);
  }
}

/** ovs-appctl -t ovs-vswitchd. */
export class Appctl {
  constructor(readonly tool: Tool) {}
  get calls(): number {
    return this.tool.calls;
  }
  /** `bond/show BOND` text. */
  async bondShow(bond: string): Promise<string> {
    if (!isIfName(bond)) throw new RefusedValue('ovs-appctl', 'bond name', bond);
    return this.tool.run(['bond/show', bond]);
  }
}
