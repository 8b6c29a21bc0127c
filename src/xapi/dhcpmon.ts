// The DHCP address monitor: a plugged PIF in DHCP mode shows what its client obtained (xapi's
// Helpers.update_pif_address reads the address networkd reports for DHCP PIFs). Every `intervalMs`
// the backend is asked for the address on each such PIF's bridge (dhcpLease) and PIF.IP,
// netmask and gateway are written when they differ — '' while there is no lease, never the
// values the caller passed to PIF.reconfigure_ip — and host.address follows the management PIF.
// Off for backends without dhcpLease (the simulated one) and when intervalMs is 0.
import type { Daemon } from '../api/context.js';
import type { Backend } from '../backends/backend.js';
import { refreshHostAddress } from './network.js';

/** A running DHCP monitor. */
export interface DhcpMonitor {
  /** Reads every local plugged DHCP PIF's lease and writes the changed ones; resolves to how many changed. */
  refresh(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the DHCP monitor (see the head of this file). */
export function startDhcpMonitor(d: Daemon, backend: Backend, intervalMs: number): DhcpMonitor {
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const once = async (): Promise<number> => {
    if (!backend.dhcpLease) return 0;
    const store = d.store;
    const found = new Map<string, { IP: string; netmask: string; gateway: string }>();
    for (const ref of store.children('host', d.hostRef, 'PIFs')) {
      const p = store.get('PIF', ref);
      if (p.ip_configuration_mode !== 'DHCP' || !p.currently_attached) continue;
      const net = store.find('network', p.network);
      if (!net) continue;
      const l = await backend.dhcpLease(net.bridge).catch(() => undefined);
      const now = { IP: l?.address ?? '', netmask: l?.netmask ?? '', gateway: l?.gateway ?? '' };
      if (p.IP !== now.IP || p.netmask !== now.netmask || p.gateway !== now.gateway) found.set(ref, now);
    }
    if (!found.size || stopped) return 0;
    return store.write((tx) => {
      let n = 0;
      for (const [ref, v] of found) {
        const p = tx.find('PIF', ref);
        if (!p || p.ip_configuration_mode !== 'DHCP') continue;
        tx.set('PIF', ref, v);
        n++;
      }
      if (n) refreshHostAddress(tx, d.hostRef);
      return n;
    });
  };
  const refresh = (): Promise<number> => {
    running ??= once().finally(() => {
      running = undefined;
    });
    return running;
  };
  const tick = () => {
    timer = setTimeout(() => {
      refresh()
        .catch((e) => d.log.warn(`DHCP monitor: ${(e as Error).message}`))
        .finally(() => {
          if (!stopped) tick();
        });
    }, intervalMs);
    timer.unref();
  };
  if (intervalMs > 0 && backend.dhcpLease) tick();
  return {
    refresh,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
