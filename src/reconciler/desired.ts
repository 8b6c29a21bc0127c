// The host networking the database asks for: one bridge per attached PIF's network, its
// uplink (NIC, bond, tunnel; VLANs as bridges on their parent), the IP configuration of
// attached PIFs, and the VIF ports of running guests resident on the host.
import type { Bridge, BondMode, NetState, Uplink } from '../backends/backend.js';
import { bridgeMap } from '../backends/state.js';
import { determineMtu, isIPv4, isMac, isTunnelKey } from '../../schema/values.js';
import { NULL_REF, type Row, type Txn, type View } from '../store/store.js';
import { plainCompare } from '../collate.js';

const RUNNING = new Set(['Running', 'Paused']);

/** The MTU a PIF's bridge gets (schema/values.ts determineMtu). */
function mtuOf(db: View, pif: Row): number {
  const net = db.find('network', String(pif.network));
  return determineMtu(pif.other_config as Record<string, string>, net ? Number(net.MTU) : 1500);
}

/** The uplink a (non-VLAN) PIF puts on its bridge, or undefined for none. */
function uplinkOf(db: View, ref: string, pif: Row): Uplink | undefined {
  const masterOf = db.children('PIF', ref, 'bond_master_of');
  if (masterOf.length) {
    const bond = db.get('Bond', masterOf[0]);
    const members = db
      .children('Bond', masterOf[0], 'slaves')
      .map((s) => String(db.get('PIF', s).device))
      .sort();
    return {
      kind: 'bond',
      name: String(pif.device),
      members,
      mode: bond.mode as BondMode,
      properties: { ...(bond.properties as Record<string, string>) },
      mac: String(pif.MAC),
    };
  }
  const access = db.children('PIF', ref, 'tunnel_access_PIF_of');
  if (access.length) {
    const t = db.get('tunnel', access[0]);
    const transport = db.find('PIF', String(t.transport_PIF));
    const tnet = transport ? db.find('network', String(transport.network)) : undefined;
    const oc = t.other_config as Record<string, string>;
    // As nm.ml, a tunnel is only its bridge: the remote end is the network controller's business.
    // A static tunnel names its remote in other_config:remote_ip (and optionally key): then the
    // bridge gets that GRE/VXLAN port. Values that are not an IPv4 address / a key never reach the host.
    const remote = oc.remote_ip ?? '';
    const key = oc.key ?? '';
    if (!isIPv4(remote) || !(key === '' || isTunnelKey(key))) return undefined;
    return {
      kind: 'tunnel',
      name: String(pif.device),
      protocol: t.protocol === 'vxlan' ? 'vxlan' : 'gre',
      remote,
      key,
      transport: tnet ? String(tnet.bridge) : '',
    };
  }
  if (pif.physical && pif.bond_slave_of === NULL_REF) return { kind: 'nic', device: String(pif.device) };
  return undefined;
}

/**
 * The host's default-gateway and DNS interfaces as xapi's Helpers.determine_gateway_and_dns_ifs
 * chooses them: among the PIFs configured for their primary address family, the first with
 * other_config:defaultroute=true (peerdns=true for DNS), else the management PIF, else the first.
 */
export function gatewayAndDnsPifs(pifs: [string, Row][]): { gateway?: string; dns?: string } {
  const candidates = pifs.filter(([, p]) => (p.primary_address_type === 'IPv6' ? p.ipv6_configuration_mode : p.ip_configuration_mode) !== 'None');
  const pick = (key: string): string | undefined =>
    (candidates.find(([, p]) => (p.other_config as Record<string, string>)?.[key] === 'true') ??
      candidates.find(([, p]) => p.management) ??
      candidates[0])?.[0];
  return { gateway: pick('defaultroute'), dns: pick('peerdns') };
}

/**
 * The classes desiredState reads (rows, and the relation indexes their fields feed): a commit that
 * changes none of them changes no host's desired state (the forwarder's cache of committed states
 * outlives it). test/pool/forward-cache.test.ts checks every read against this list.
 */
export const DESIRED_CLASSES: ReadonlySet<string> = new Set(['host', 'PIF', 'network', 'Bond', 'VLAN', 'tunnel', 'VM', 'VIF']);

/** The desired NetState of `host` according to `db`. */
export function desiredState(db: View, host: string): NetState {
  const bridges = bridgeMap();
  const bridgeFor = (ref: string, pif: Row): Bridge => {
    const net = db.get('network', String(pif.network));
    const name = String(net.bridge);
    let b = bridges[name];
    if (!b) {
      b = { name, MTU: mtuOf(db, pif), vifs: [] };
      const vlanOf = String(pif.VLAN_master_of);
      if (vlanOf !== NULL_REF && db.find('VLAN', vlanOf)) {
        const vlan = db.get('VLAN', vlanOf);
        const tagged = db.get('PIF', String(vlan.tagged_PIF));
        // A VLAN's parent bridge exists whenever the VLAN is up, even if its PIF is not plugged (xapi's nm.ml).
        const parent = bridgeFor(String(vlan.tagged_PIF), tagged);
        b.vlan = { parent: parent.name, tag: Number(vlan.tag) };
      } else {
        const up = uplinkOf(db, ref, pif);
        if (up) b.uplink = up;
        // A tunnel's bridge has its access PIF's MAC (nm.ml create_bridges: bridge_mac), whether or not a static remote gives it a port.
        if (db.children('PIF', ref, 'tunnel_access_PIF_of').length && isMac(String(pif.MAC))) b.mac = String(pif.MAC);
      }
      bridges[name] = b;
    }
    return b;
  };
  // The host's PIFs and resident VMs come from the relation indexes, not a scan of the pool.
  const pifs = db
    .children('host', host, 'PIFs')
    .map((ref): [string, Row] => [ref, db.get('PIF', ref)])
    .sort(([, a], [, b]) => plainCompare(String(a.device), String(b.device)));
  const { gateway, dns } = gatewayAndDnsPifs(pifs);
  for (const [ref, pif] of pifs) {
    if (!pif.currently_attached || pif.bond_slave_of !== NULL_REF) continue;
    const b = bridgeFor(ref, pif);
    if (pif.ip_configuration_mode === 'Static' || pif.ip_configuration_mode === 'DHCP') {
      // A DHCP PIF's address is what its client obtains (the host's, written back by the host monitor, xapi/monitor.ts): not a desire.
      const dhcp = pif.ip_configuration_mode === 'DHCP';
      b.ip = {
        mode: pif.ip_configuration_mode,
        address: dhcp ? '' : String(pif.IP),
        netmask: dhcp ? '' : String(pif.netmask),
        // Only the chosen default-gateway / DNS interface applies its gateway / DNS servers (xapi's nm.ml).
        gateway: ref === gateway && !dhcp ? String(pif.gateway) : '',
        dns: ref === dns && !dhcp ? String(pif.DNS) : '',
      };
    }
  }
  for (const vmRef of db.children('host', host, 'resident_VMs')) {
    const vm = db.get('VM', vmRef);
    if (!RUNNING.has(String(vm.power_state))) continue;
    for (const vifRef of db.children('VM', vmRef, 'VIFs')) {
      const vif = db.get('VIF', vifRef);
      if (!vif.currently_attached) continue;
      const net = db.find('network', String(vif.network));
      if (!net) continue;
      const name = String(net.bridge);
      // A network with no PIF here gets an internal bridge for its VIFs.
      bridges[name] ??= { name, MTU: Number(net.MTU), vifs: [] };
      bridges[name].vifs.push(`vif${vm.domid}.${vif.device}`);
    }
  }
  for (const b of Object.values(bridges)) b.vifs.sort();
  const sorted = bridgeMap();
  for (const k of Object.keys(bridges).sort()) sorted[k] = bridges[k];
  return { bridges: sorted };
}

/**
 * Hosts whose desired state the transaction may change: from every touched PIF, bond, VLAN,
 * tunnel, network, VIF, VM (every class desiredState reads). With `only`, it stops as soon as that
 * host is found (the reconciler asking whether a transaction concerns its own host at all).
 */
export function affectedHosts(tx: Txn, store: View, only?: string): Set<string> {
  const hosts = new Set<string>();
  const views = [tx, store] as const;
  // A PIF the transaction wrote adds its hosts (new and committed row) as a PIF of the overlay:
  // a VLAN's or bond's PIFs need a look only when they are not there (a slave sync writes 1,300 PIFs, VLANs and bonds together).
  const pifsWritten = tx.overlay.get('PIF');
  const pifHost = (ref: unknown) => {
    if (pifsWritten?.has(String(ref))) return;
    for (const v of views) {
      const r = v.find('PIF', String(ref));
      if (r) hosts.add(String(r.host));
    }
  };
  const vmHost = (ref: unknown) => {
    for (const v of views) {
      const r = v.find('VM', String(ref));
      if (r) hosts.add(String(r.resident_on));
    }
  };
  for (const [cls, m] of tx.overlay) {
    if (only !== undefined && hosts.has(only)) break;
    for (const [ref, row] of m) {
      if (only !== undefined && hosts.has(only)) break;
      const committed = store.find(cls, ref);
      for (const r of [row, committed]) {
        if (!r) continue;
        switch (cls) {
          case 'PIF':
            hosts.add(String(r.host));
            break;
          case 'Bond':
            pifHost(r.master);
            break;
          case 'VLAN':
            pifHost(r.tagged_PIF);
            pifHost(r.untagged_PIF);
            break;
          case 'tunnel':
            pifHost(r.access_PIF);
            pifHost(r.transport_PIF);
            break;
          case 'VIF':
            vmHost(r.VM);
            break;
          case 'VM':
            hosts.add(String(r.resident_on));
            break;
          case 'host':
            hosts.add(ref);
            break;
          case 'network':
            for (const v of views) {
              for (const p of v.children('network', ref, 'PIFs')) pifHost(p);
              for (const vif of v.children('network', ref, 'VIFs')) vmHost(v.find('VIF', vif)?.VM);
            }
            break;
        }
      }
    }
  }
  return hosts;
}
