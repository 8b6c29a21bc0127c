// Creating the records of a physical NIC as xapi's PIF.introduce_internal does: a
// PIF_metrics, the PIF, and the network of its bridge (xenbr<position>), reusing a network
// that already has that bridge.
import type { Ref } from '../../schema/index.js';
import type { Patch, Txn } from '../store/store.js';

/** A NIC as the host or the inventory reports it. */
export interface NicInfo {
  device: string;
  MAC: string;
  MTU: number;
  carrier?: boolean;
}

/** The bridge xapi names for a NIC: xenbr<position>, position from the device's number, else br<device>. */
export function bridgeForDevice(device: string): string {
  const m = /^eth(\d+)$/.exec(device);
  return m ? `xenbr${m[1]}` : `br${device}`;
}

/**
 * A new PIF's row for tx.create: the fields its maker gives, `device_name` = `device`, not
 * attached (making a PIF plugs nothing), `IPv6` as xapi's makers give it (below), and every field
 * left out is the datamodel's default, filled by the store (schema/classes/pif.ts: no IP
 * configuration, no bond or VLAN, managed, IGMP snooping unknown...). xapi's Db.PIF.create calls
 * spell every field out; only what differs from those defaults is spelled out here, by each maker.
 *
 * IPv6: xapi_pif.ml introduce_internal makes a physical PIF with `[]`; xapi_bond.ml, xapi_vlan.ml
 * and xapi_tunnel.ml make their (non-physical) PIFs with `[""]`, which clients read back as is.
 * PIF.db_introduce passes the caller's value.
 */
export function newPifRow(
  f: Pick<Required<Patch<'PIF'>>, 'device' | 'network' | 'host' | 'MAC' | 'MTU' | 'VLAN' | 'metrics' | 'physical'> & Patch<'PIF'>,
): Patch<'PIF'> {
  return { device_name: f.device, currently_attached: false, IPv6: f.physical ? [] : [''], ...f };
}

/** A fresh PIF_metrics as xapi_pif.ml creates them. */
export function newPifMetrics(tx: Txn, carrier = false): string {
  return tx.create('PIF_metrics', {
    io_read_kbs: 0,
    io_write_kbs: 0,
    carrier,
    vendor_id: '',
    vendor_name: '',
    device_id: '',
    device_name: '',
    speed: 0,
    duplex: false,
    pci_bus_path: '',
    last_updated: '19700101T00:00:00Z',
    other_config: Object.create(null),
  });
}

/** Deletes a PIF and its PIF_metrics unless another PIF shares them (VLAN and tunnel PIFs share their base's). */
export function destroyPif(tx: Txn, pif: Ref<'PIF'>): void {
  const metrics = tx.get('PIF', pif).metrics;
  tx.destroy('PIF', pif);
  if (tx.find('PIF_metrics', metrics) && !tx.where('PIF', (p) => p.metrics === metrics).length) tx.destroy('PIF_metrics', metrics);
}

/** The networks of the transaction by bridge (introduceInternal's `networks`: many NICs introduced at once scan the networks once). */
export function networksByBridge(tx: Txn): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [ref, n] of tx.rows('network')) {
    const l = m.get(n.bridge);
    if (l) l.push(ref);
    else m.set(n.bridge, [ref]);
  }
  return m;
}

/**
 * Creates the PIF_metrics, network (if needed) and PIF of a physical NIC; returns the PIF ref.
 * `networks`: networksByBridge of this transaction, kept up to date here (no network may be
 * created or changed meanwhile by anything else).
 */
export function introduceInternal(
  tx: Txn,
  host: string,
  nic: NicInfo,
  opts: { managed?: boolean; disallowUnplug?: boolean; managementBridge?: string; bridge?: string; networkMTU?: number; networks?: Map<string, string[]> } = {},
): string {
  const managed = opts.managed ?? true;
  const bridge = managed ? (opts.bridge ?? bridgeForDevice(nic.device)) : '';
  const same = !bridge ? [] : opts.networks ? (opts.networks.get(bridge) ?? []) : tx.where('network', (n) => n.bridge === bridge);
  // Exactly one network with that bridge is reused; none or several: a new one (as xapi).
  const network =
    same.length === 1
      ? same[0]
      : tx.create('network', {
          name_label: `Pool-wide network associated with ${nic.device}`,
          name_description: '',
          MTU: opts.networkMTU ?? 1500,
          other_config: Object.create(null),
          bridge,
          managed,
        });
  if (opts.networks && bridge && same.length !== 1) opts.networks.set(bridge, [...same, network]);
  const metrics = newPifMetrics(tx, nic.carrier ?? false);
  const management = bridge !== '' && bridge === opts.managementBridge;
  return tx.create(
    'PIF',
    newPifRow({
      device: nic.device,
      network,
      host,
      MAC: nic.MAC.toLowerCase(),
      MTU: nic.MTU,
      VLAN: -1,
      metrics,
      physical: true,
      currently_attached: management,
      management,
      disallow_unplug: opts.disallowUnplug ?? false,
      managed,
      properties: Object.assign(Object.create(null), { gro: 'on' }),
    }),
  );
}
