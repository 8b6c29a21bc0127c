// First start: an empty database gets what a freshly installed xapi host has — exactly one
// pool, this host with its metrics, a PIF + PIF_metrics + network per NIC, the management
// PIF configured and plugged, and the control domain.
import os from 'node:os';
import { API_VERSION } from '../../schema/index.js';
import { now } from '../api/context.js';
import { NULL_REF, type Txn } from '../store/store.js';
import { bridgeForDevice, introduceInternal, type NicInfo } from './introduce.js';

/** A NIC in the daemon's inventory file; the management NIC carries its IPv4 configuration. */
export interface InventoryNic extends NicInfo {
  management?: boolean;
  ip?: { mode: 'Static' | 'DHCP'; address?: string; netmask?: string; gateway?: string; dns?: string };
}

/** What first start needs to know about this host. */
export interface FirstStartOptions {
  hostname?: string;
  inventory: InventoryNic[];
  /** `openvswitch` or `bridge`: host.software_version:network_backend (tunnel.create needs openvswitch). */
  networkBackend: string;
  version: string;
}

/** The software_version map of this daemon. */
export function softwareVersion(o: FirstStartOptions): Record<string, string> {
  return Object.assign(Object.create(null), {
    product_version: o.version,
    product_brand: 'xenapi-netd',
    platform_name: 'XCP',
    xapi: `${API_VERSION.major}.${API_VERSION.minor}`,
    xapi_build: o.version,
    network_backend: o.networkBackend,
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
  const mgmtBridge = mgmt ? bridgeForDevice(mgmt.device) : undefined;
  for (const nic of o.inventory) {
    const pif = introduceInternal(tx, host, nic, { managementBridge: mgmtBridge });
    if (nic === mgmt && nic.ip) {
      tx.set('PIF', pif, {
        ip_configuration_mode: nic.ip.mode,
        IP: nic.ip.address ?? '',
        netmask: nic.ip.netmask ?? '',
        gateway: nic.ip.gateway ?? '',
        DNS: nic.ip.dns ?? '',
      });
    }
  }
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
