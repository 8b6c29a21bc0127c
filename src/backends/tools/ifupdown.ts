// initscripts' ifup/ifdown and NetworkManager's nmcli, wrapped: the ifcfg backend brings the
// devices whose files it changed down (old files) and up (new files) with them. argv only, each
// device name checked before anything runs, every command through the one Tool choke point.
import { isIfName } from '../../../schema/values.js';
import { RefusedValue, Tool } from './exec.js';

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

/** `nmcli connection reload`, `nmcli connection up ifname DEV`, `nmcli device disconnect DEV`. */
export class NetworkManager implements IfControl {
  readonly kind = 'networkmanager';
  constructor(private readonly nmcli: Tool) {}
  async reload(): Promise<void> {
    await this.nmcli.run(['connection', 'reload']);
  }
  async up(device: string): Promise<void> {
    await this.nmcli.run(['connection', 'up', 'ifname', dev('nmcli', device)]);
  }
  async down(device: string): Promise<void> {
    await this.nmcli.run(['device', 'disconnect', dev('nmcli', device)]);
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
