// The bond monitor: keeps Bond.links_up following the host. xapi's monitor thread reads the
// bonds' member links from the network daemon and writes Bond.links_up when it changes; here a
// timer asks the backend (bondLinksUp: `ovs-appctl bond/show` for openvswitch, the NICs' carrier
// for the simulated host) every `intervalMs` and writes only the bonds whose count changed, in
// one transaction. A master that is not plugged has 0 links up.
//
// The daemon runs it every second with a real backend; with the simulated backend it is off
// unless asked for (startDaemon's monitorIntervalMs): the simulated carrier only changes when a
// test pulls a cable, and tests that do can call refresh() themselves.
import type { Daemon } from '../api/context.js';
import type { Backend } from '../backends/backend.js';

export interface BondMonitor {
  /** Reads every local bond's links up and writes the changed ones; resolves to how many changed. */
  refresh(): Promise<number>;
  /** Stops the timer and waits for a refresh in progress. */
  stop(): Promise<void>;
}

export function startBondMonitor(d: Daemon, backend: Backend, intervalMs: number): BondMonitor {
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const once = async (): Promise<number> => {
    const store = d.store;
    const counts = new Map<string, number>();
    for (const [ref, bond] of store.rows('Bond')) {
      const master = store.find('PIF', String(bond.master));
      if (!master || master.host !== d.hostRef) continue;
      let n = 0;
      if (master.currently_attached) {
        try {
          n = await backend.bondLinksUp(String(master.device));
        } catch (e) {
          d.log.debug(`bond monitor: ${String(master.device)}: ${(e as Error).message}`);
          continue;
        }
      }
      if (Number(bond.links_up) !== n) counts.set(ref, n);
    }
    if (counts.size === 0 || stopped) return 0;
    return store.write((tx) => {
      let changed = 0;
      for (const [ref, n] of counts) {
        const row = tx.find('Bond', ref);
        if (row && Number(row.links_up) !== n) {
          tx.set('Bond', ref, { links_up: n });
          changed++;
        }
      }
      return changed;
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
        .catch((e) => d.log.warn(`bond monitor: ${(e as Error).message}`))
        .finally(() => {
          if (!stopped) tick();
        });
    }, intervalMs);
    timer.unref();
  };
  if (intervalMs > 0) tick();

  return {
    refresh,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
