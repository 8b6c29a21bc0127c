// initscripts' ifup/ifdown and NetworkManager's nmcli, wrapped: the ifcfg backend brings the
// devices whose files it changed down (old files) and up (new files) with them. argv only, each
// device name checked before anything runs, every command through the one Tool choke point.
// Bounded: these run under the daemon's write lock, and bringing up a DHCP device waits for a
// lease (nmcli's own default wait is 90 s, initscripts' dhclient tries for a minute), so nmcli
// is given an explicit --wait and every program a time limit after which its process group is
// killed (exec.ts): the step fails and the backend rolls back.
import { isIfName } from '../../../schema/values.js';
import { RefusedValue, Tool } from './exec.js';

/** How long one ifup or ifdown may run before it is killed (ms). */
export const IF_TIMEOUT_MS = 30_000;

/** nmcli --wait: the seconds NetworkManager may take to activate or deactivate a device before nmcli gives up. */
export const NMCLI_WAIT_S = 20;

/** nmcli's own time limit for a given --wait: past it, so that nmcli reports its timeout itself (ms). */
export function nmcliTimeoutMs(waitS: number): number {
  return (waitS + 10) * 1000;
}

function dev(tool: string, d: string): string {
  if (!isIfName(d)) throw new RefusedValue(tool, 'device name', d);
  return d;
}

/** How the host brings ifcfg devices up and down. */
export interface IfControl {
  /** 'initscripts' (ifup/ifdown) or 'networkmanager' (nmcli, ifcfg-rh plugin). */
  readonly kind: 'initscripts' | 'networkmanager';
  /** Called once after the files changed and before any up (nmcli re-reads the files). */
  reload(): Promise<void>;
  up(device: string): Promise<void>;
  down(device: string): Promise<void>;
}

/** `ifup DEV` / `ifdown DEV` (initscripts). */
export class Initscripts implements IfControl {
  readonly kind = 'initscripts';
  constructor(
    private readonly ifup: Tool,
    private readonly ifdown: Tool,
  ) {}
  async reload(): Promise<void> {}
  async up(device: string): Promise<void> {
    await this.ifup.run([dev('ifup', device)]);
  }
  async down(device: string): Promise<void> {
    await this.ifdown.run([dev('ifdown', device)]);
  }
}

/** `nmcli connection reload`, `nmcli --wait N connection up ifname DEV`, `nmcli --wait N device disconnect DEV`. */
export class NetworkManager implements IfControl {
  readonly kind = 'networkmanager';
  constructor(
    private readonly nmcli: Tool,
    /** --wait of up and disconnect, in seconds (whole: nmcli takes no fraction). */
    private readonly waitS = NMCLI_WAIT_S,
  ) {
    if (!Number.isInteger(waitS) || waitS < 1) throw new RefusedValue('nmcli', '--wait', waitS);
  }
  async reload(): Promise<void> {
    await this.nmcli.run(['connection', 'reload']);
  }
  async up(device: string): Promise<void> {
    await this.nmcli.run(['--wait', String(this.waitS), 'connection', 'up', 'ifname', dev('nmcli', device)]);
  }
  async down(device: string): Promise<void> {
    await this.nmcli.run(['--wait', String(this.waitS), 'device', 'disconnect', dev('nmcli', device)]);
  }
  /** True when NetworkManager runs (`nmcli -t -f RUNNING general` says "running"); false when nmcli is missing or says otherwise. */
  static async running(nmcli: Tool): Promise<boolean> {
    try {
      return (await nmcli.run(['-t', '-f', 'RUNNING', 'general'])).trim() === 'running';
    } catch {
      return false;
    }
  }
}
