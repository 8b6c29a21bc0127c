// The DHCP client of a bridge in DHCP mode, run as xcp-networkd runs it: ISC dhclient, one per
// interface, with its pid file and lease file in the daemon's state directory
// (dhclient -4 -nw -pf DIR/dhclient-<dev>.pid -lf DIR/dhclient-<dev>.leases <dev>); the system's
// dhclient-script puts the address and default route on the device. Stopping releases the lease
// (dhclient -r, which also ends the running client and removes the address). argv only; the
// device name is checked before anything runs.
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isIfName } from '../../../schema/values.js';
import { RefusedValue, Tool } from './exec.js';

/**
 * dhclient's time limit (ms): the client is started with -nw (it does not wait for a lease) and
 * released with -r (one DHCPRELEASE), so a run longer than this is a hang under the write lock.
 */
export const DHCLIENT_TIMEOUT_MS = 20_000;

/** The DHCP clients this daemon runs, by device. */
export class DhcpClients {
  constructor(
    private readonly tool: Tool,
    private readonly dir: string,
  ) {}

  private paths(dev: string): string[] {
    if (!isIfName(dev)) throw new RefusedValue('dhclient', 'device name', dev);
    return ['-pf', join(this.dir, `dhclient-${dev}.pid`), '-lf', join(this.dir, `dhclient-${dev}.leases`)];
  }

  /** True when the pid file names a live process. */
  async running(dev: string): Promise<boolean> {
    const pid = Number((await readFile(join(this.dir, `dhclient-${dev}.pid`), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Starts a client on `dev` (restarted when one runs: a re-created device needs a fresh one). */
  async start(dev: string): Promise<void> {
    const p = this.paths(dev);
    await mkdir(this.dir, { recursive: true });
    if (await this.running(dev)) await this.tool.run(['-4', '-x', ...p, dev]).catch(() => undefined);
    await this.tool.run(['-4', '-nw', ...p, dev]);
  }

  /** Releases the lease and ends the client on `dev` (nothing when none runs; a client whose device is gone is ended by its pid). */
  async stop(dev: string): Promise<void> {
    if (!(await this.running(dev))) return;
    try {
      await this.tool.run(['-4', '-r', ...this.paths(dev), dev]);
    } catch {
      const pid = Number((await readFile(join(this.dir, `dhclient-${dev}.pid`), 'utf8').catch(() => '')).trim());
      if (pid > 0 && (await this.running(dev))) process.kill(pid, 'SIGTERM');
    }
  }
}
