// Backend selection by name (--backend).
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from './backend.js';
import { checkAugtool, IfcfgBackend } from './ifcfg.js';
import { OpenvswitchBackend } from './ovs/backend.js';
import { localRunner, type Runner } from './tools/exec.js';
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
  /** Where DHCP clients keep pid and lease files (default: a directory under the system's temporary one). */
  dhcpDir?: string;
}

/** Runners for an OVS started by scripts/ovs-sandbox.ts: sockets under DIR, devices in its netns. */
function sandboxRunners(dir: string): { vsctl: Runner; appctl: Runner; ip: Runner; dhclient: Runner; dhcpDir: string } {
  const rec = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as { netns: string };
  const env = { OVS_RUNDIR: join(dir, 'run'), OVS_DBDIR: join(dir, 'db'), OVS_LOGDIR: join(dir, 'log'), OVS_SYSCONFDIR: join(dir, 'etc') };
  return { vsctl: localRunner('ovs-vsctl', [], env), appctl: localRunner('ovs-appctl', ['-t', 'ovs-vswitchd'], env), ip: localRunner('ip', ['-n', rec.netns]),
    dhclient: localRunner('ip', ['netns', 'exec', rec.netns, 'dhclient']), dhcpDir: join(dir, 'dhcp') };
}

/** Creates the backend called `name`. */
export async function createBackend(name: string, o: BackendOptions): Promise<Backend> {
  switch (name) {
    case 'simulated':
      return new SimulatedBackend({ nics: o.inventory.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: n.carrier ?? true })) });
    case 'openvswitch':
      return o.ovsSandbox ? new OpenvswitchBackend({ ...sandboxRunners(o.ovsSandbox), log: o.log }) : OpenvswitchBackend.local({ log: o.log, dhclient: localRunner('dhclient'), dhcpDir: o.dhcpDir ?? join(tmpdir(), 'xenapi-netd-dhcp') });
    case 'ifcfg':
      await checkAugtool();
      // A sandbox root with an inventory: those NICs; else <root>/sys/class/net.
      return o.ifcfgRoot && o.inventory.length
        ? new IfcfgBackend({ root: o.ifcfgRoot, log: o.log, nics: o.inventory.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: n.carrier ?? true })) })
        : new IfcfgBackend({ root: o.ifcfgRoot ?? '/', log: o.log });
    default:
      throw new Error(`unknown backend ${name} (known: simulated, openvswitch, ifcfg)`);
  }
}
