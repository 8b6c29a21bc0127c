// Backend selection by name (--backend). The ifcfg and Open vSwitch backends are loaded by the
// daemon that uses one: a simulated daemon does not keep their code (~0.3 MB of an idle daemon).
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from './backend.js';
import { localRunner, Tool, type Runner } from './tools/exec.js';
import { DHCLIENT_TIMEOUT_MS } from './tools/dhclient.js';
import { IF_TIMEOUT_MS, Initscripts, NetworkManager, NMCLI_WAIT_S, nmcliTimeoutMs, type IfControl } from './tools/ifupdown.js';
import { SimulatedBackend } from './simulated.js';

/** Options every backend may use. */
export interface BackendOptions {
  /** NICs of the simulated host (the inventory). */
  inventory: { device: string; MAC: string; MTU: number; carrier?: boolean }[];
  log?: { debug?(m: string): void; info(m: string): void; warn(m: string): void };
  /** openvswitch: a sandbox directory (its sandbox.json names the netns; its run/ holds the OVS sockets). */
  ovsSandbox?: string;
  /** ifcfg: the root the network-scripts files are written under; with it, the NICs are the inventory; without it, '/' and /sys/class/net. */
  ifcfgRoot?: string;
  /** ifcfg live apply programs (--ifup/--ifdown/--nmcli). */
  ifup?: string;
  ifdown?: string;
  nmcli?: string;
  /** ifcfg live apply: the time limit of one ifup/ifdown (ms; default IF_TIMEOUT_MS) and nmcli's --wait (s; default NMCLI_WAIT_S). */
  ifTimeoutMs?: number;
  nmcliWaitS?: number;
  /** Where DHCP clients keep pid and lease files (default: a directory under the system's temporary one). */
  dhcpDir?: string;
}

/** Runners for an OVS started by scripts/ovs-sandbox.ts: sockets under DIR, devices in its netns. */
function sandboxRunners(dir: string): { vsctl: Runner; appctl: Runner; ip: Runner; dhclient: Runner; dhcpDir: string } {
  const rec = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as { netns: string };
  const env = { OVS_RUNDIR: join(dir, 'run'), OVS_DBDIR: join(dir, 'db'), OVS_LOGDIR: join(dir, 'log'), OVS_SYSCONFDIR: join(dir, 'etc') };
  return {
    vsctl: localRunner('ovs-vsctl', [], env),
    appctl: localRunner('ovs-appctl', ['-t', 'ovs-vswitchd'], env),
    ip: localRunner('ip', ['-n', rec.netns]),
    dhclient: localRunner('ip', ['netns', 'exec', rec.netns, 'dhclient'], undefined, DHCLIENT_TIMEOUT_MS),
    dhcpDir: join(dir, 'dhcp'),
  };
}

/**
 * How the ifcfg backend applies files to the running host: nmcli when NetworkManager runs (nmcli
 * answers `running`), else ifup/ifdown. With the real root the programs come from PATH; with
 * --ifcfg-root only when given (a file sandbox is not the host).
 */
export async function ifControl(
  o: Pick<BackendOptions, 'ifcfgRoot' | 'ifup' | 'ifdown' | 'nmcli' | 'log' | 'ifTimeoutMs' | 'nmcliWaitS'>,
): Promise<IfControl | undefined> {
  const real = !o.ifcfgRoot || o.ifcfgRoot === '/';
  const nmcli = o.nmcli ?? (real ? 'nmcli' : undefined);
  if (nmcli) {
    const wait = o.nmcliWaitS ?? NMCLI_WAIT_S;
    const tool = new Tool('nmcli', localRunner(nmcli, [], undefined, nmcliTimeoutMs(wait)), o.log);
    if (await NetworkManager.running(tool)) return new NetworkManager(tool, wait);
  }
  // initscripts' own ifup/ifdown (Debian's ifupdown has the same names and reads /etc/network/interfaces instead).
  const own = (p: string) => (real && existsSync(p) ? p : undefined);
  const ifup = o.ifup ?? own('/etc/sysconfig/network-scripts/ifup');
  const ifdown = o.ifdown ?? own('/etc/sysconfig/network-scripts/ifdown');
  if (!ifup || !ifdown) {
    if (real)
      o.log?.warn(
        'ifcfg: neither NetworkManager nor initscripts (/etc/sysconfig/network-scripts/ifup) found: files are written, not applied (--ifup/--ifdown/--nmcli)',
      );
    return undefined;
  }
  const limit = o.ifTimeoutMs ?? IF_TIMEOUT_MS;
  return new Initscripts(
    new Tool('ifup', localRunner(ifup, [], undefined, limit), o.log),
    new Tool('ifdown', localRunner(ifdown, [], undefined, limit), o.log),
  );
}

/** Creates the backend called `name`. */
export async function createBackend(name: string, o: BackendOptions): Promise<Backend> {
  switch (name) {
    case 'simulated':
      return new SimulatedBackend({ nics: o.inventory.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: n.carrier ?? true })) });
    case 'openvswitch': {
      const { OpenvswitchBackend } = await import('./ovs/backend.js');
      return o.ovsSandbox
        ? new OpenvswitchBackend({ ...sandboxRunners(o.ovsSandbox), log: o.log })
        : OpenvswitchBackend.local({
            log: o.log,
            dhclient: localRunner('dhclient', [], undefined, DHCLIENT_TIMEOUT_MS),
            dhcpDir: o.dhcpDir ?? join(tmpdir(), 'xenapi-netd-dhcp'),
          });
    }
    case 'ifcfg': {
      const { checkAugtool, IfcfgBackend } = await import('./ifcfg.js');
      await checkAugtool();
      const control = await ifControl(o);
      if (control)
        o.log?.info(
          `ifcfg: changes are applied live with ${control.kind === 'networkmanager' ? 'nmcli (NetworkManager runs; files say NM_CONTROLLED=yes)' : 'ifup/ifdown'}`,
        );
      // A sandbox root with an inventory: those NICs; else <root>/sys/class/net.
      return o.ifcfgRoot && o.inventory.length
        ? new IfcfgBackend({
            root: o.ifcfgRoot,
            log: o.log,
            control,
            nics: o.inventory.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: n.carrier ?? true })),
          })
        : new IfcfgBackend({ root: o.ifcfgRoot ?? '/', log: o.log, control });
    }
    default:
      throw new Error(`unknown backend ${name} (known: simulated, openvswitch, ifcfg)`);
  }
}
