// First start: an empty database gets what a freshly installed xapi host has — exactly one
// pool, this host with its metrics, a PIF + PIF_metrics + network per NIC, the management
// PIF configured and plugged, and the control domain.
import os from 'node:os';
import { API_VERSION, SCHEMA_VERSION } from '../../schema/index.js';
import { now } from '../api/context.js';
import { NULL_REF, type Txn } from '../store/store.js';
import { checkProperties } from './bond.js';
import { bridgeForDevice, introduceInternal, newPifMetrics, newPifRow, type NicInfo } from './introduce.js';
import { vlanCreateInternal } from './vlan.js';
import { isVlanTagged } from '../../schema/values.js';

/** IPv4 configuration of the management interface in an inventory. */
export interface InventoryIp {
  mode: 'Static' | 'DHCP';
  address?: string;
  netmask?: string;
  gateway?: string;
  dns?: string;
}

/**
 * A NIC in the daemon's inventory file; the management NIC carries its IPv4 configuration.
 * `bridge` names the bridge its network uses when the host already has one (default xenbr<N>).
 */
export interface InventoryNic extends NicInfo {
  management?: boolean;
  ip?: InventoryIp;
  bridge?: string;
  /** The MTU of its network, so of its bridge (default 1500; first start adopting a bridge whose files say otherwise). */
  networkMTU?: number;
  /** false: the management NIC is recorded but not plugged (its address sits on the NIC itself and stays there); true: plugged though not management (a bridge first start adopts). */
  plugged?: boolean;
}

/** A bond the host boots with (docs/install.md, "Inventory"): members are NIC devices of the inventory. */
export interface InventoryBond {
  bond: string;
  members: string[];
  mode: 'balance-slb' | 'active-backup' | 'lacp';
  properties?: Record<string, string>;
  /** The bridge of the bond's network (default: the next xapi<N>). */
  bridge?: string;
  /** The bond's MAC (default its first member's, with auto_update_mac as Bond.create without a MAC). */
  MAC?: string;
  /** The MTU of the bond's network (default 1500); the bond master PIF gets it, as Bond.create. */
  networkMTU?: number;
  management?: boolean;
  ip?: InventoryIp;
}

/** A VLAN the host boots with: `on` is a NIC or a bond of the inventory. */
export interface InventoryVlan {
  vlan: number;
  on: string;
  bridge?: string;
  /** The MTU of the VLAN's network (default 1500). */
  networkMTU?: number;
  management?: boolean;
  ip?: InventoryIp;
}

/** One entry of --inventory: a NIC (has MAC), a bond (has bond) or a VLAN (has vlan). */
export type InventoryEntry = InventoryNic | InventoryBond | InventoryVlan;

/** Splits an inventory into NICs, bonds and VLANs, checking what refers to what (throws Error with the entry at fault). */
export function splitInventory(entries: InventoryEntry[]): { nics: InventoryNic[]; bonds: InventoryBond[]; vlans: InventoryVlan[] } {
  const nics: InventoryNic[] = [];
  const bonds: InventoryBond[] = [];
  const vlans: InventoryVlan[] = [];
  for (const e of entries) {
    if ('bond' in e) bonds.push(e);
    else if ('vlan' in e) vlans.push(e);
    else nics.push(e);
  }
  const devs = new Set(nics.map((n) => n.device));
  const bad = (e: unknown, why: string) => new Error(`inventory entry ${JSON.stringify(e)}: ${why}`);
  const used = new Set<string>();
  for (const b of bonds) {
    if (!/^[A-Za-z0-9_-]{1,15}$/.test(b.bond) || devs.has(b.bond)) throw bad(b, 'bond needs a device name of its own');
    if (!['balance-slb', 'active-backup', 'lacp'].includes(b.mode)) throw bad(b, 'mode is balance-slb, active-backup or lacp');
    if (!Array.isArray(b.members) || b.members.length < 1 || b.members.some((m) => !devs.has(m) || used.has(m)))
      throw bad(b, 'members must be NICs of the inventory, each in one bond');
    b.members.forEach((m) => used.add(m));
  }
  for (const v of vlans) {
    if (!isVlanTagged(v.vlan)) throw bad(v, 'vlan is a tag 0..4094');
    if (!devs.has(v.on) && !bonds.some((b) => b.bond === v.on)) throw bad(v, '"on" must be a NIC or bond of the inventory');
    if (used.has(v.on)) throw bad(v, `${v.on} is a bond member`);
  }
  const mgmt = [...nics, ...bonds, ...vlans].filter((e) => e.management);
  if (mgmt.length > 1) throw bad(mgmt[1], 'only one management interface');
  if (mgmt.length === 1 && 'device' in mgmt[0] && used.has(mgmt[0].device)) throw bad(mgmt[0], 'a bond member cannot carry management');
  return { nics, bonds, vlans };
}

/** What first start needs to know about this host. */
export interface FirstStartOptions {
  hostname?: string;
  inventory: InventoryNic[];
  /** Bonds and VLANs the host boots with (management may sit on one of them). */
  bonds?: InventoryBond[];
  vlans?: InventoryVlan[];
  /** `openvswitch` or `bridge`: host.software_version:network_backend (tunnel.create needs openvswitch). */
  networkBackend: string;
  version: string;
  /** 'linux' when bonds are Linux bonding devices (ifcfg): software_version:bond_driver, which opens Bond.properties to the bonding options. */
  bondDriver?: string;
}

/**
 * The release this daemon answers as, in host.software_version (docs/clients.md,
 * "host.software_version"): the XenServer 8 line whose API it implements. Clients choose code
 * paths by these numbers: Ansible's xenserver module utils parse product_version as integers
 * (anything else counts as 0.0.0) and use VIF.configure_ipv4/6 only from major 7 on; Xen
 * Orchestra reads product_version as a semver and platform_version for platform features.
 */
export const PRODUCT = {
  version: '8.4.0',
  versionText: '8.4',
  platformName: 'XCP',
  platformVersion: '3.4.0',
  /** xapi's own major.minor (the xapi release read as the reference), not the API version. */
  xapi: '26.17',
} as const;

/**
 * The software_version map of this daemon, with the keys xapi publishes (create_misc.ml
 * make_software_version) whose values do not depend on the machine: xapi's `hostname` and `date`
 * (of its build) and `linux` (the running kernel) are left out, so that two hosts of one release
 * answer alike (the contract recordings replay anywhere).
 */
export function softwareVersion(o: FirstStartOptions): Record<string, string> {
  return Object.assign(Object.create(null), {
    product_version: PRODUCT.version,
    product_version_text: PRODUCT.versionText,
    product_version_text_short: PRODUCT.versionText,
    platform_name: PRODUCT.platformName,
    platform_version: PRODUCT.platformVersion,
    product_brand: 'xenapi-netd',
    xapi: PRODUCT.xapi,
    build_number: o.version,
    xapi_build: o.version,
    xen: '(unknown)',
    xencenter_min: `${API_VERSION.major}.${API_VERSION.minor}`,
    xencenter_max: `${API_VERSION.major}.${API_VERSION.minor}`,
    network_backend: o.networkBackend,
    db_schema: `${SCHEMA_VERSION}.0`,
    ...(o.bondDriver ? { bond_driver: o.bondDriver } : {}),
  });
}

/** True if the database has never been initialised. */
export function isEmpty(tx: Txn): boolean {
  return tx.count('pool') === 0;
}

/** Creates the pool, host, NIC records and control domain; returns the host ref. */
export function firstStart(tx: Txn, o: FirstStartOptions): string {
  const hostname = o.hostname ?? os.hostname();
  const mgmt = o.inventory.find((n) => n.management);
  const metrics = tx.create('host_metrics', {
    memory_total: os.totalmem(),
    memory_free: os.freemem(),
    live: true,
    last_updated: now(),
  });
  const host = tx.create('host', {
    name_label: hostname,
    name_description: 'Default install',
    hostname,
    address: mgmt?.ip?.address ?? '',
    API_version_major: API_VERSION.major,
    API_version_minor: API_VERSION.minor,
    API_version_vendor: API_VERSION.vendor,
    enabled: true,
    software_version: softwareVersion(o),
    metrics,
  });
  tx.create('pool', { name_label: '', name_description: '', master: host });
  const setIp = (pif: string, ip: InventoryIp) =>
    tx.set('PIF', pif, {
      ip_configuration_mode: ip.mode,
      IP: ip.address ?? '',
      netmask: ip.netmask ?? '',
      gateway: ip.gateway ?? '',
      DNS: ip.dns ?? '',
    });
  const mgmtBridge = mgmt ? (mgmt.bridge ?? bridgeForDevice(mgmt.device)) : undefined;
  const byDevice = new Map<string, string>();
  for (const nic of o.inventory) {
    const pif = introduceInternal(tx, host, nic, { managementBridge: mgmtBridge, bridge: nic.bridge, networkMTU: nic.networkMTU });
    byDevice.set(nic.device, pif);
    // An IP on a NIC that is not management is recorded too (first start adopting a host's files).
    if (nic.ip && (nic === mgmt || nic.plugged === true)) setIp(pif, nic.ip);
    if (nic === mgmt && nic.plugged === false) tx.set('PIF', pif, { currently_attached: false });
    if (nic.plugged === true) tx.set('PIF', pif, { currently_attached: true });
  }
  const network = (bridge: string | undefined, label: string, MTU = 1500) => {
    const taken = new Set([...tx.rows('network')].map(([, r]) => r.bridge));
    let name = bridge ?? '';
    for (let n = 0; name === '' || (bridge === undefined && taken.has(name)); n++) name = `xapi${n}`;
    return tx.create('network', { name_label: label, name_description: '', MTU, other_config: Object.create(null), bridge: name, managed: true });
  };
  const manage = (pif: string, e: { management?: boolean; ip?: InventoryIp }) => {
    // A bond master or VLAN PIF is plugged at first start; its IP configuration is recorded, management or not.
    if (e.ip) setIp(pif, e.ip);
    if (e.management) tx.set('PIF', pif, { management: true, currently_attached: true });
  };
  for (const b of o.bonds ?? []) {
    const members = b.members.map((m) => byDevice.get(m)!);
    const first = tx.get('PIF', members[0]);
    const net = network(b.bridge, `Pool-wide network associated with ${b.bond}`, b.networkMTU);
    const master = tx.create(
      'PIF',
      newPifRow({
        device: b.bond,
        network: net,
        host,
        MAC: b.MAC?.toLowerCase() ?? first.MAC,
        MTU: b.networkMTU ?? 1500,
        VLAN: -1,
        metrics: newPifMetrics(tx),
        physical: false,
        currently_attached: true,
        properties: Object.assign(Object.create(null), { gro: 'on' }),
      }),
    );
    const bond = tx.create('Bond', {
      master,
      other_config: Object.create(null),
      primary_slave: members[0],
      mode: b.mode,
      properties: checkProperties(b.mode, b.properties ?? {}, o.bondDriver === 'linux'),
      links_up: 0,
      // As Bond.create: a MAC chosen for the bond is kept when members change.
      auto_update_mac: b.MAC === undefined || b.MAC.toLowerCase() === first.MAC,
    });
    for (const m of members) tx.set('PIF', m, { bond_slave_of: bond, currently_attached: false });
    byDevice.set(b.bond, master);
    manage(master, b);
  }
  for (const v of o.vlans ?? []) {
    const tagged = byDevice.get(v.on)!;
    const net = network(v.bridge, `VLAN ${v.vlan} on ${v.on}`, v.networkMTU);
    const { untagged } = vlanCreateInternal(tx, host, tagged, v.vlan, net, v.on);
    tx.set('PIF', untagged, { currently_attached: true });
    manage(untagged, v);
  }
  const m = tx.where('PIF', (p) => p.management === true && p.host === host)[0];
  if (m) tx.set('host', host, { address: tx.get('PIF', m).IP });
  const vmMetrics = tx.create('VM_metrics', {});
  const dom0 = tx.create('VM', {
    name_label: `Control domain on host: ${hostname}`,
    name_description: 'The domain which manages physical devices and manages other domains',
    power_state: 'Running',
    is_control_domain: true,
    resident_on: host,
    affinity: host,
    domid: 0,
    metrics: vmMetrics,
    guest_metrics: NULL_REF,
  });
  tx.set('host', host, { control_domain: dom0 });
  return host;
}
