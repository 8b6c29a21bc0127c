// The Open vSwitch backend: realises a NetState with ovs-vsctl and ip, the way xcp-networkd does,
// but transactionally. It composes parse.ts (OVSDB → NetState), render.ts (plan → commands) and
// the tool wrappers (../tools/: argv only, one logging choke point):
//  - ovs-vsctl's exit code is not trusted: every touched Interface's `error`/`ofport` is checked,
//    and a write that timed out (rc 142, DB committed anyway) is judged by re-reading;
//  - on failure the state read before apply() is restored by one inverse plan (plan.ts diff from
//    what the host has now back to it), and BackendError names the failing step.

import { discoverHost } from '../hostnet.js';
import { BackendError, type Backend, type HostNetwork, type IpConfig, type NetState, type Nic, type Step } from '../backend.js';
import { diff, normalize, PlanStepError } from '../plan.js';
import { bridgeMap, sameValue } from '../state.js';
import { errText, localRunner, Tool, ToolError, type Runner, type ToolLog } from '../tools/exec.js';
import { DhcpClients } from '../tools/dhclient.js';
import { IpTool, type LinkWatch } from '../tools/ip.js';
import { Appctl, Vsctl } from '../tools/ovs.js';
import { netmaskOf, prefixOf } from '../../../schema/values.js';
import { natural } from './bond.js';
import { parseTables, stateOf, VIF_RE, type RawDb } from './parse.js';
import { render, stepOfVsctlError, type Rendered } from './render.js';

export type { Runner } from '../tools/exec.js';

/** The command runners and settings of an Open vSwitch backend. */
export interface OpenvswitchOptions {
  /** ovs-vsctl for this host's database (the sandbox's, or the system one). */
  vsctl: Runner;
  /** ovs-appctl -t ovs-vswitchd. */
  appctl: Runner;
  /** ip in the namespace whose NICs and bridge devices we manage. */
  ip: Runner;
  /** Only these devices are NICs (default: every ethernet/veth device that is not an OVS port device). */
  nics?: string[];
  /** datapath_type of every real bridge (default 'netdev': the userspace datapath; 'system' needs the kernel module). */
  datapathType?: string;
  /** VIF ports as OVS internal ports (default, no guests here) or as existing system devices. */
  vifType?: 'internal' | 'system';
  /** false: skip the pre-check of devices and names (the tests of the after-commit verification use it). Default true. */
  precheck?: boolean;
  /** --timeout for every ovs-vsctl write, seconds (networkd uses 20). */
  timeoutSeconds?: number;
  /** Where every command is logged (debug) and every failure (warn). */
  log?: ToolLog;
  /** discover(): where NIC drivers are read (the local host: /sys/class/net). */
  sysfs?: string;
  /** dhclient in the namespace of the devices (DHCP bridges get a client; absent: none runs). */
  dhclient?: Runner;
  /** Where dhclient keeps its pid and lease files. */
  dhcpDir?: string;
  /** discover(): the resolv.conf whose nameservers are the management DNS (the local host: /etc/resolv.conf). */
  resolvConf?: string;
}

/** Invocation counters, for the benchmark. */
export interface OvsStats {
  vsctlCalls: number;
  vsctlWrites: number;
  appctlCalls: number;
  ipCalls: number;
}

function isTimeout(e: unknown): boolean {
  const o = e as { signal?: unknown; exitCode?: unknown };
  return o?.signal === 'SIGALRM' || o?.exitCode === 142 || /SIGALRM|Alarm clock|timed out/i.test(errText(e));
}

/** The OVS part of a state (no IPs): what one ovs-vsctl transaction decides. */
function ovsPart(s: NetState): NetState {
  const bridges = bridgeMap();
  for (const [n, b] of Object.entries(s.bridges)) bridges[n] = { ...b, ip: undefined };
  return normalize({ bridges });
}

/**
 * What can be known to fail before anything is written (so a doomed plan costs no outage): every
 * NIC and bond member the plan attaches, and every system-type VIF, exists as a kernel device; every
 * bridge and internal VIF the plan creates is not already a kernel device Open vSwitch does not own
 * (a foreign Linux bridge or veth of that name would make OVS fail to open it after the commit).
 * Throws BackendError(step) flagged nothingApplied.
 */
export function precheck(before: NetState, plan: Step[], kernel: Set<string>, vifType: 'internal' | 'system'): void {
  const owned = new Set<string>();
  for (const [n, b] of Object.entries(before.bridges)) {
    owned.add(n);
    for (const v of b.vifs) owned.add(v);
    const u = b.uplink;
    if (u?.kind === 'nic') owned.add(u.device);
    else if (u) owned.add(u.name);
  }
  const refuse = (i: number, why: string): never => {
    throw Object.assign(new BackendError(i, `step ${i} refused before touching the host: ${why}`), { nothingApplied: true });
  };
  plan.forEach((st, i) => {
    if (st.op === 'bridge.add' && kernel.has(st.bridge) && !owned.has(st.bridge))
      refuse(i, `device ${st.bridge} already exists on the host and is not an Open vSwitch bridge`);
    if (st.op === 'uplink.add' && st.uplink.kind !== 'tunnel') {
      const need = st.uplink.kind === 'nic' ? [st.uplink.device] : st.uplink.members;
      const missing = need.filter((d) => !kernel.has(d));
      if (missing.length) refuse(i, `NIC ${missing.join(', ')} does not exist on the host`);
    }
    if (st.op === 'vif.add') {
      if (vifType === 'system' && !kernel.has(st.vif)) refuse(i, `VIF device ${st.vif} does not exist on the host`);
      if (vifType === 'internal' && kernel.has(st.vif) && !owned.has(st.vif))
        refuse(i, `device ${st.vif} already exists on the host and is not an Open vSwitch port`);
    }
  });
}

/** The openvswitch backend; see the header comment for how it applies a plan. */
export class OpenvswitchBackend implements Backend {
  readonly name = 'openvswitch';
  readonly bridgeMacs = true;
  private readonly o: Required<Omit<OpenvswitchOptions, 'nics' | 'log' | 'sysfs' | 'resolvConf' | 'precheck' | 'dhclient' | 'dhcpDir'>> &
    Pick<OpenvswitchOptions, 'nics' | 'sysfs' | 'resolvConf' | 'precheck'>;
  /** The DHCP clients of DHCP bridges (tools/dhclient.ts). */
  readonly dhcp?: DhcpClients;
  private readonly vsctl: Vsctl;
  private readonly appctl: Appctl;
  private readonly ip: IpTool;

  constructor(opts: OpenvswitchOptions) {
    this.o = { datapathType: 'netdev', vifType: 'internal', timeoutSeconds: 20, ...opts };
    this.vsctl = new Vsctl(new Tool('ovs-vsctl', opts.vsctl, opts.log));
    this.appctl = new Appctl(new Tool('ovs-appctl', opts.appctl, opts.log));
    this.ip = new IpTool(new Tool('ip', opts.ip, opts.log));
    if (opts.dhclient && opts.dhcpDir) this.dhcp = new DhcpClients(new Tool('dhclient', opts.dhclient, opts.log), opts.dhcpDir);
  }

  /** The address on a DHCP bridge and the default route through it (what dhclient-script set). */
  async dhcpLease(bridge: string): Promise<{ address: string; netmask: string; gateway: string } | undefined> {
    const a = (await this.ip.addrs4Of(bridge).catch(() => []))[0]?.addr_info?.find((x) => (x.family ?? 'inet') === 'inet' && !x.secondary);
    if (!a) return undefined;
    const gw = (await this.ip.defaultRoutes4()).find((r) => r.dev === bridge)?.gateway ?? '';
    return { address: a.local, netmask: netmaskOf(a.prefixlen), gateway: gw };
  }

  /** DHCP clients follow the plan: started on bridges that become DHCP (or were re-created), released on those that stop being DHCP. */
  private async followDhcp(before: NetState, target: NetState, plan: Step[]): Promise<void> {
    if (!this.dhcp) return;
    for (const [n, b] of Object.entries(before.bridges)) {
      if (b.ip?.mode === 'DHCP' && target.bridges[n]?.ip?.mode !== 'DHCP') await this.dhcp.stop(n);
    }
    for (const [n, b] of Object.entries(target.bridges)) {
      if (b.ip?.mode !== 'DHCP') continue;
      const fresh = before.bridges[n]?.ip?.mode !== 'DHCP' || plan.some((s) => s.op === 'bridge.add' && s.bridge === n);
      if (fresh || !(await this.dhcp.running(n))) await this.dhcp.start(n);
    }
  }

  /** Commands run so far, by tool. */
  get stats(): OvsStats {
    return { vsctlCalls: this.vsctl.calls, vsctlWrites: this.vsctl.writes, appctlCalls: this.appctl.calls, ipCalls: this.ip.calls };
  }

  /** A backend for the local host's system OVS and root netns. */
  static local(opts: Partial<OpenvswitchOptions> = {}): OpenvswitchBackend {
    return new OpenvswitchBackend({
      vsctl: localRunner('ovs-vsctl'),
      appctl: localRunner('ovs-appctl', ['-t', 'ovs-vswitchd']),
      ip: localRunner('ip'),
      sysfs: '/sys/class/net',
      resolvConf: '/etc/resolv.conf',
      ...opts,
    });
  }

  /** The host as found: NICs (drivers from `sysfs` when set), foreign devices, the default-route interface (hostnet.ts). */
  async discover(): Promise<HostNetwork> {
    return discoverHost(this.ip, { nics: await this.nics(), sysfs: this.o.sysfs, resolvConf: this.o.resolvConf, state: await this.read() });
  }

  async nics(): Promise<Nic[]> {
    const links = await this.ip.links();
    const allow = this.o.nics ? new Set(this.o.nics) : undefined;
    return links
      .filter((l) => l.link_type === 'ether' && l.ifname !== 'lo')
      .filter((l) => (allow ? allow.has(l.ifname) : l.linkinfo?.info_kind === undefined || l.linkinfo.info_kind === 'veth'))
      .filter((l) => allow || !(VIF_RE.test(l.ifname) || l.ifname.startsWith('ovs-')))
      .map((l) => ({ device: l.ifname, MAC: l.address ?? '', MTU: l.mtu, carrier: l.flags.includes('LOWER_UP') }))
      .sort((a, b) => natural(a.device, b.device));
  }

  private async readDb(): Promise<RawDb> {
    return parseTables(await this.vsctl.listTables(this.o.timeoutSeconds));
  }

  async read(): Promise<NetState> {
    const { state, storedIp } = stateOf(await this.readDb());
    return this.withIps(state, storedIp);
  }

  /** Adds each bridge's IpConfig: the stored one while the device still carries it, else what the kernel has. */
  private async withIps(state: NetState, storedIp: Map<string, IpConfig>): Promise<NetState> {
    const names = new Set(Object.keys(state.bridges));
    if (names.size === 0) return state;
    const addrs = await this.ip.addrs4();
    let routes: { dst: string; gateway?: string; dev?: string }[] | undefined;
    for (const a of addrs) {
      if (!names.has(a.ifname)) continue;
      const inet = (a.addr_info ?? []).filter((x) => x.family === undefined || x.family === 'inet');
      const stored = storedIp.get(a.ifname);
      const b = state.bridges[a.ifname];
      if (stored && (stored.mode === 'DHCP' || inet.some((x) => x.local === stored.address && x.prefixlen === prefixOf(stored.netmask)))) {
        b.ip = stored;
      } else if (inet.length) {
        routes ??= await this.ip.defaultRoutes4();
        const gw = routes.find((r) => r.dev === a.ifname)?.gateway ?? '';
        b.ip = { mode: 'Static', address: inet[0].local, netmask: netmaskOf(inet[0].prefixlen), gateway: gw, dns: '' };
      }
    }
    for (const [n, ip] of storedIp) if (ip.mode === 'DHCP' && state.bridges[n] && !state.bridges[n].ip) state.bridges[n].ip = ip;
    return normalize(state);
  }

  async bondLinksUp(bond: string): Promise<number> {
    const out = await this.appctl.bondShow(bond);
    return out.split('\n').filter((l) => /^member \S+: enabled\b/.test(l.trim())).length;
  }

  async close(): Promise<void> {
    /* no processes or handles held: every call is a short-lived command */
  }

  async apply(plan: Step[]): Promise<void> {
    if (plan.length === 0) return;
    const s0 = stateOf(await this.readDb());
    const before = await this.withIps(s0.state, s0.storedIp);
    try {
      await this.execute(before, plan);
    } catch (e) {
      const err = e instanceof BackendError ? e : new BackendError(0, errText(e));
      if ((e as { nothingApplied?: boolean }).nothingApplied) throw err;
      try {
        const now = await this.read();
        const undo = diff(now, before);
        if (undo.length) await this.execute(now, undo);
      } catch (re) {
        throw new BackendError(err.step, `${err.message}; restoring the previous state also failed: ${errText(re)}`);
      }
      throw err;
    }
  }

  /** Runs one rendered plan; throws BackendError (flagged nothingApplied when nothing reached the host). */
  private async execute(before: NetState, plan: Step[]): Promise<void> {
    const needLinks = plan.some((st) => st.op === 'uplink.add' || st.op === 'bridge.add' || st.op === 'vif.add');
    const checked = needLinks && this.o.precheck !== false;
    // A plan that creates bridges watches the kernel's links from before it reads them, so the
    // monitor has subscribed when the transaction makes the new bridge devices (see below).
    const watch = checked && plan.some((st) => st.op === 'bridge.add') ? this.ip.watchLinks() : undefined;
    try {
      await this.executeWatched(before, plan, needLinks, checked, watch);
    } finally {
      await watch?.stop();
    }
  }

  private async executeWatched(before: NetState, plan: Step[], needLinks: boolean, checked: boolean, watch: LinkWatch | undefined): Promise<void> {
    // One read of the kernel's links: the NICs' MACs (bridge hwaddr) and the pre-check below; with
    // it, when an address goes onto a bridge made anew, the neighbours to carry over (render.ts).
    const added = new Set(plan.flatMap((st) => (st.op === 'bridge.add' ? [st.bridge] : [])));
    const needNeigh = plan.some((st) => st.op === 'ip.set' && st.ip.mode === 'Static' && added.has(st.bridge));
    const [links, neigh] = await Promise.all([needLinks ? this.ip.links() : [], needNeigh ? this.ip.neigh4() : []]);
    const kernel = new Set(links.map((l) => l.ifname));
    const nicMacs = new Map(links.map((l) => [l.ifname, l.address ?? ''] as const));
    if (checked) precheck(before, plan, kernel, this.o.vifType);
    let r: Rendered;
    try {
      r = render(before, plan, this.o, nicMacs, neigh);
    } catch (e) {
      // A plan that does not fit, or a value a tool wrapper refuses: nothing has run.
      const step = e instanceof PlanStepError ? e.index : 0;
      throw Object.assign(new BackendError(step, errText(e)), { nothingApplied: true });
    }
    if (r.nicsUp.length) {
      const failed = await this.ip.batch(r.nicsUp.map((dev) => ({ op: 'link.up' as const, dev })));
      if (failed) {
        const n = r.nicsUp[failed.line];
        throw Object.assign(new BackendError(r.touched.get(n) ?? 0, `${n}: ${failed.text}`), { nothingApplied: true });
      }
    }
    const argvs = r.txn.argvs(this.o.timeoutSeconds);
    let ipFailed: { line: number; text: string } | undefined;
    let ipDone = false;
    // The batch file is written before the transaction: after it, only ip's exec is in the outage.
    const early = argvs.length && checked ? await this.ip.prepare(r.ip) : undefined;
    // The devices the batch waits for: bridges this one transaction creates that the kernel did not
    // have (a name deleted and made again, or a plan of two transactions, waits for ovs-vsctl).
    const created = new Set(plan.flatMap((st) => (st.op === 'bridge.add' ? [st.bridge] : [])));
    const devs = [...new Set(r.ip.map((c) => c.dev))];
    const awaited = devs.filter((d) => created.has(d));
    const byDevice = watch && early && argvs.length === 1 && awaited.length > 0 && awaited.every((d) => !kernel.has(d));
    let writing = true;
    let fed: Promise<{ line: number; text: string } | undefined> | undefined;
    // The management IP is off the host from the transaction until the batch puts it on the new
    // bridge. That bridge's device is made by ovs-vswitchd inside its reconfiguration; ovs-vsctl
    // returns only after vswitchd has finished and written cur_cfg, and after ovsdb-server has told
    // it: the batch goes the moment the kernel reports the device with the MAC the transaction
    // gives it (not before: the kernel's first ARP from the device's interim random MAC would point
    // the peers at a MAC about to vanish, a second-long outage), and the call still waits for
    // ovs-vsctl and the checks below before it succeeds.
    if (byDevice)
      void watch.present(awaited, r.deviceMacs).then((ok) => {
        if (ok && writing) fed = early.run();
      });
    try {
      if (argvs.length) {
        let timedOut = false;
        for (const [k, argv] of argvs.entries()) {
          try {
            await this.vsctl.write(argv);
          } catch (e) {
            if (!isTimeout(e)) {
              writing = false;
              const text = e instanceof ToolError ? errText(e).replace(/^ovs-vsctl: /, '') : errText(e);
              const err = new BackendError(stepOfVsctlError(r.txn, text), `ovs-vsctl: ${text}`);
              // A device the transaction made means it was committed: undone by apply().
              throw k === 0 && !fed ? Object.assign(err, { nothingApplied: true }) : err;
            }
            timedOut = true;
          }
        }
        writing = false;
        // ovs-vsctl returns once ovs-vswitchd has reconfigured, so the new bridge devices exist,
        // and the pre-check found none of their names held by a foreign device: the addresses go on
        // at once (if the device watch has not put them on already) and OVSDB and the ports are
        // checked after (the check, an ovs-vsctl read, used to sit inside the outage). Without the
        // pre-check, or after a write that timed out (it may not have committed), the check comes
        // first. If the check fails, the addresses just added come off again (a device that appeared
        // since the pre-check keeps nothing of ours) before apply() restores the state before; if
        // both fail, the check's error names the step.
        if (checked && !timedOut) {
          ipFailed = await (fed ?? early!.run());
          // A device deleted after the batch configured it (made again within the reconfiguration)
          // lost what was put on it: once more, on the device that is there now.
          if (fed && awaited.some((d) => watch!.deletions(d) > 0)) ipFailed = await this.ip.batch(r.ip);
          ipDone = true;
          try {
            await this.verify(before, r, false);
          } catch (e) {
            for (const c of r.ip) if (c.op === 'addr.replace') await this.ip.batch([{ ...c, op: 'addr.del' }]).catch(() => undefined);
            throw e;
          }
        } else await this.verify(before, r, timedOut && argvs.length === 1 && !fed);
      }
    } finally {
      writing = false;
      // A batch the device watch started ends before its input goes and before any undo runs.
      await fed?.catch(() => undefined);
      await early?.dispose();
    }
    const failed = ipDone ? ipFailed : await this.ip.batch(r.ip);
    if (failed) throw new BackendError(r.ipStep[failed.line] ?? r.ipStep[0], `ip: ${failed.text.replace(/^ip: /, '')}`);
    try {
      await this.followDhcp(before, r.target, plan);
    } catch (e) {
      const missing = (e as { code?: string }).code === 'ENOENT' || /ENOENT/.test(errText(e));
      const step = Math.max(
        0,
        plan.findIndex((s) => s.op === 'ip.set' || s.op === 'ip.clear'),
      );
      throw new BackendError(step, missing ? 'dhclient is not installed (isc-dhcp-client): a DHCP PIF needs it' : `dhclient: ${errText(e)}`);
    }
  }

  /** After the write: the DB must hold the target and every touched Interface must be up in vswitchd. */
  private async verify(before: NetState, r: Rendered, timedOut: boolean): Promise<void> {
    const deadline = Date.now() + this.o.timeoutSeconds * 1000;
    const want = ovsPart(r.target);
    for (;;) {
      const db = await this.readDb();
      const now = ovsPart(stateOf(db).state);
      if (!sameValue(now, want)) {
        if (timedOut && sameValue(now, ovsPart(before))) {
          throw Object.assign(new BackendError(0, 'ovs-vsctl timed out and the transaction was not committed'), { nothingApplied: true });
        }
        const bad = Object.keys({ ...now.bridges, ...want.bridges }).find((n) => !sameValue(now.bridges[n] ?? null, want.bridges[n] ?? null));
        const idx = Math.max(0, r.txn.cmdStep[r.txn.cmds.findIndex((w) => w.includes(bad ?? ''))] ?? 0);
        throw new BackendError(idx, `OVSDB does not hold the planned state for bridge ${bad}`);
      }
      const byName = new Map([...db.ifaces.values()].map((i) => [i.name, i]));
      let pending = false;
      for (const [name, idx] of r.touched) {
        const i = byName.get(name);
        if (!i) throw new BackendError(idx, `interface ${name} is missing from OVSDB`);
        if (i.error) throw new BackendError(idx, `interface ${name}: ${i.error}`);
        if (i.ofport === -1) throw new BackendError(idx, `interface ${name} has no OpenFlow port (ofport -1)`);
        if (i.ofport === undefined) pending = true;
      }
      if (!pending) return;
      if (Date.now() > deadline) {
        const name = [...r.touched.keys()].find((n) => byName.get(n)?.ofport === undefined)!;
        throw new BackendError(r.touched.get(name)!, `interface ${name} was not set up by ovs-vswitchd in ${this.o.timeoutSeconds} s`);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}
