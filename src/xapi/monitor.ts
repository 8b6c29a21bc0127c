// The host monitor: one periodic loop that keeps the records that follow the host in step with
// it, reading the host only through the host-facts port (reconciler.ts HostFacts):
//   - Bond.links_up and PIF_metrics carrier/speed/duplex: xapi's monitor thread reads link stats
//     from the network daemon and writes the bonds' links_up and the PIF_metrics of physical PIFs
//     and bond masters when they change; here bondLinksUp (`ovs-appctl bond/show` for openvswitch,
//     the NICs' carrier for the simulated host) and nics() (each NIC's carrier). A master that is
//     not plugged has 0 links up.
//   - a plugged DHCP PIF's IP, netmask and gateway: what its client obtained (xapi's
//     Helpers.update_pif_address reads the address networkd reports for DHCP PIFs): dhcpLease of
//     its bridge — '' while there is no lease, never the values the caller passed to
//     PIF.reconfigure_ip — and host.address follows the management PIF. Skipped when the backend
//     cannot tell (the simulated one).
// Every `intervalMs` it reads, then writes only what changed, in one transaction.
//
// The daemon runs it every second with a real backend; with the simulated backend it is off
// unless asked for (startDaemon's monitorIntervalMs): the simulated carrier only changes when a
// test pulls a cable, and tests that do can call refresh() themselves.
import type { RowOf } from '../../schema/index.js';
import type { Daemon } from '../api/context.js';
import { now } from '../api/context.js';
import type { Nic } from '../backends/backend.js';
import type { HostFacts } from '../reconciler/reconciler.js';
import { refreshHostAddress } from './network.js';

/** What PIF_metrics says of a link: carrier always, speed and duplex when the backend knows them. */
interface LinkStat {
  carrier: boolean;
  speed?: number;
  duplex?: boolean;
}

/**
 * Link state by device as xcp-networkd's monitor computes it: a NIC's own carrier (speed and
 * duplex only with carrier); a bond carries if any member does, its speed is the sum of the
 * members' with carrier, its duplex full only if theirs all are.
 */
export function linkStats(nics: Nic[], bonds: Map<string, string[]>): Map<string, LinkStat> {
  const out = new Map<string, LinkStat>();
  for (const n of nics) out.set(n.device, { carrier: n.carrier, speed: n.carrier ? n.speed : 0, duplex: n.carrier ? n.duplex : false });
  for (const [bond, members] of bonds) {
    const up = members.map((m) => out.get(m)).filter((s): s is LinkStat => !!s?.carrier);
    const known = up.every((s) => s.speed !== undefined && s.duplex !== undefined);
    out.set(bond, {
      carrier: up.length > 0,
      speed: known ? up.reduce((a, s) => a + s.speed!, 0) : undefined,
      duplex: known ? up.length > 0 && up.every((s) => s.duplex) : undefined,
    });
  }
  return out;
}

declare module '../api/context.js' {
  interface Services {
    /** The link monitor (set once the daemon's start-up is done). */
    monitor?: HostMonitor;
  }
}

/** A running host monitor. */
export interface HostMonitor {
  /** Reads the host's links and leases and writes the changed records (one transaction); resolves to how many changed. */
  refresh(): Promise<number>;
  /** Stops the timer and waits for a refresh in progress. */
  stop(): Promise<void>;
}

/** Starts the host monitor (see the head of this file); `intervalMs` 0: only refresh() when asked. */
export function startHostMonitor(d: Daemon, facts: HostFacts, intervalMs: number): HostMonitor {
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** Bonds of this host whose links_up differs from the host's. */
  const linksUpChanges = async (): Promise<Map<string, number>> => {
    const store = d.store;
    const counts = new Map<string, number>();
    for (const [ref, bond] of store.rows('Bond')) {
      const master = store.find('PIF', bond.master);
      if (!master || master.host !== d.hostRef) continue;
      let n = 0;
      if (master.currently_attached) {
        try {
          n = await facts.bondLinksUp(master.device);
        } catch (e) {
          d.log.debug(`host monitor: bond ${master.device}: ${(e as Error).message}`);
          continue;
        }
      }
      if (Number(bond.links_up) !== n) counts.set(ref, n);
    }
    return counts;
  };

  /** This host's plugged DHCP PIFs whose IP/netmask/gateway differ from their bridge's lease. */
  const leaseChanges = async (): Promise<Map<string, { IP: string; netmask: string; gateway: string }>> => {
    const found = new Map<string, { IP: string; netmask: string; gateway: string }>();
    if (!facts.dhcpLease) return found;
    const store = d.store;
    for (const ref of store.children('host', d.hostRef, 'PIFs')) {
      const p = store.get('PIF', ref);
      if (p.ip_configuration_mode !== 'DHCP' || !p.currently_attached) continue;
      const net = store.find('network', p.network);
      if (!net) continue;
      const l = await facts.dhcpLease(net.bridge).catch(() => undefined);
      const now = { IP: l?.address ?? '', netmask: l?.netmask ?? '', gateway: l?.gateway ?? '' };
      if (p.IP !== now.IP || p.netmask !== now.netmask || p.gateway !== now.gateway) found.set(ref, now);
    }
    return found;
  };

  const once = async (): Promise<number> => {
    const store = d.store;
    const counts = await linksUpChanges();
    const metrics = await metricsChanges();
    const leases = await leaseChanges();
    if ((counts.size === 0 && metrics.size === 0 && leases.size === 0) || stopped) return 0;
    return store.write((tx) => {
      let changed = 0;
      for (const [ref, n] of counts) {
        const row = tx.find('Bond', ref);
        if (row && Number(row.links_up) !== n) {
          tx.set('Bond', ref, { links_up: n });
          changed++;
        }
      }
      for (const [ref, patch] of metrics) {
        if (!tx.find('PIF_metrics', ref)) continue;
        tx.set('PIF_metrics', ref, { ...patch, last_updated: now() });
        changed++;
      }
      let addresses = 0;
      for (const [ref, v] of leases) {
        const p = tx.find('PIF', ref);
        if (!p || p.ip_configuration_mode !== 'DHCP') continue;
        tx.set('PIF', ref, v);
        addresses++;
      }
      if (addresses) refreshHostAddress(tx, d.hostRef);
      return changed + addresses;
    });
  };

  /**
   * PIF_metrics carrier/speed/duplex of this host's physical PIFs and plugged bond masters that
   * differ from the link (monitor_master.update_pifs); an unplugged bond, like a NIC the host
   * lacks, has no link to read and its metrics stay as they are.
   */
  const metricsChanges = async (): Promise<Map<string, Record<string, unknown>>> => {
    const store = d.store;
    const out = new Map<string, Record<string, unknown>>();
    let nics: Nic[];
    try {
      nics = await facts.nics();
    } catch (e) {
      d.log.debug(`host monitor: NICs: ${(e as Error).message}`);
      return out;
    }
    const bonds = new Map<string, string[]>();
    const pifs: RowOf<'PIF'>[] = [];
    for (const p of store.children('host', d.hostRef, 'PIFs')) {
      const row = store.get('PIF', p);
      const masterOf = store.children('PIF', p, 'bond_master_of');
      if (masterOf.length && row.currently_attached) {
        bonds.set(
          row.device,
          store.children('Bond', masterOf[0], 'slaves').map((s) => store.get('PIF', s).device),
        );
        pifs.push(row);
      } else if (row.physical) pifs.push(row);
    }
    const stats = linkStats(nics, bonds);
    for (const row of pifs) {
      const m = store.find('PIF_metrics', row.metrics);
      if (!m) continue;
      const st = stats.get(row.device);
      if (!st) continue; // a NIC the host does not have: nothing known
      const patch: Record<string, unknown> = {};
      if (m.carrier !== st.carrier) patch.carrier = st.carrier;
      if (st.speed !== undefined && Number(m.speed) !== st.speed) patch.speed = st.speed;
      if (st.duplex !== undefined && m.duplex !== st.duplex) patch.duplex = st.duplex;
      if (Object.keys(patch).length) out.set(row.metrics, patch);
    }
    return out;
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
        .catch((e) => d.log.warn(`host monitor: ${(e as Error).message}`))
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
