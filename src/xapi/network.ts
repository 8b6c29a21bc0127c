// network: create/destroy/attach/purposes/locking, as xapi_network.ml, plus the attach
// helpers (xapi_network_attach_helpers.ml) that VIF plug, VM start and placement share.
// Semantics only change records; the reconciler builds the bridges the records ask for.
import { determineMtu, isIfName } from '../../schema/values.js';
import type { CtorOf, EnumValue, Ref } from '../../schema/index.js';
import type { Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type Txn, type View, type Store } from '../store/store.js';
import { managementPif, pifKind } from './pif_helpers.js';

const BRIDGE_BLACKLIST = ['xen', 'xapi', 'vif', 'tap', 'eth'];

/** xapi's process-wide bridge counter, kept per daemon (per store) here. */
const bridgeCounter = new WeakMap<Store, number>();

/** NETWORK_UNMANAGED [network] unless the network is managed. */
export function assertNetworkManaged(db: View, network: Ref<'network'>): void {
  if (!db.get('network', network).managed) throw new ApiError('NETWORK_UNMANAGED', [network]);
}

/** NETWORK_ALREADY_CONNECTED [host, pif] if `host` already has a PIF on `network`. */
export function assertNoOtherLocalPifs(db: View, host: Ref<'host'>, network: Ref<'network'>): void {
  const local = localPifs(db, network, host);
  if (local.length) throw new ApiError('NETWORK_ALREADY_CONNECTED', [host, local[0]]);
}

/**
 * The PIFs of `network` on `host` (at most one by construction). A scoped read: a transaction of one
 * host (a slave's sync) does not conflict with another host's PIFs joining a pool-wide network.
 */
export function localPifs(db: View, network: Ref<'network'>, host: Ref<'host'>): string[] {
  return db.children('network', network, 'PIFs', { field: 'host', value: host });
}

/** NETWORK_INCOMPATIBLE_WITH_TRUNKS [network] if a VIF with trunks is on the network (before adding a VLAN PIF). */
export function assertNetworkCompatibleWithTrunksOnVif(db: View, network: Ref<'network'>): void {
  for (const v of db.children('network', network, 'VIFs')) {
    if ((db.get('VIF', v).trunks as unknown[]).length) throw new ApiError('NETWORK_INCOMPATIBLE_WITH_TRUNKS', [network]);
  }
}

/** NETWORK_INCOMPATIBLE_WITH_TRUNKS [network] if the network has a VLAN PIF (before adding a trunked VIF). */
export function assertNetworkCompatibleWithTrunksOnPif(db: View, network: Ref<'network'>): void {
  for (const p of db.children('network', network, 'PIFs')) {
    if (Number(db.get('PIF', p).VLAN) !== -1) throw new ApiError('NETWORK_INCOMPATIBLE_WITH_TRUNKS', [network]);
  }
}

/**
 * nm.ml bring_pif_up, database side: marks the PIF attached; a bond master's slaves and a
 * bond slave's master are marked detached; a bond master's slave networks take its MTU; a bond
 * master created with MAC "" (auto_update_mac) takes its primary slave's MAC; PIF.MTU becomes
 * its bridge's MTU; host.address follows the management interface (`refresh` false: the caller
 * refreshes it once after bringing up many PIFs, as a pool slave's sync does for its 500 VLANs).
 */
export function bringPifUp(tx: Txn, pif: Ref<'PIF'>, refresh = true): void {
  const row = tx.get('PIF', pif);
  const masterOf = tx.children('PIF', pif, 'bond_master_of');
  if (masterOf.length) {
    const mtu = tx.get('network', row.network).MTU;
    for (const s of tx.children('Bond', masterOf[0], 'slaves')) {
      tx.set('PIF', s, { currently_attached: false });
      const sn = tx.get('PIF', s).network;
      if (tx.find('network', sn) && tx.get('network', sn).MTU !== mtu) tx.set('network', sn, { MTU: mtu });
    }
    const bond = tx.get('Bond', masterOf[0]);
    const ps = bond.primary_slave;
    if (bond.auto_update_mac && ps !== NULL_REF && tx.find('PIF', ps)) {
      const mac = tx.get('PIF', ps).MAC;
      if (mac !== row.MAC) tx.set('PIF', pif, { MAC: mac });
    }
  }
  if (!row.currently_attached) tx.set('PIF', pif, { currently_attached: true });
  const bond = row.bond_slave_of;
  if (bond !== NULL_REF && tx.find('Bond', bond)) {
    const master = tx.get('Bond', bond).master;
    if (tx.find('PIF', master)) tx.set('PIF', master, { currently_attached: false });
  }
  // The MTU the host will give its bridge (the reconciler's rule, nm.ml determine_mtu).
  const net = tx.find('network', row.network);
  const mtu = determineMtu(row.other_config, net ? Number(net.MTU) : 1500);
  if (Number(row.MTU) !== mtu) tx.set('PIF', pif, { MTU: mtu });
  if (refresh) refreshHostAddress(tx, row.host);
}

/** host.address: the management PIF's primary address, or "" without one (on_dom0_networking_change). */
export function refreshHostAddress(tx: Txn, host: Ref<'host'>): void {
  const m = managementPif(tx, host);
  let addr = '';
  if (m) {
    const p = tx.get('PIF', m);
    if (p.primary_address_type === 'IPv6') {
      const first = p.IPv6.find((x) => x !== '') ?? '';
      addr = first.split('/')[0];
    } else addr = p.IP;
  }
  if (tx.get('host', host).address !== addr) tx.set('host', host, { address: addr });
}

/** nm.ml bring_pif_down, database side: marks the PIF detached. */
export function bringPifDown(tx: Txn, pif: Ref<'PIF'>): void {
  if (tx.get('PIF', pif).currently_attached) tx.set('PIF', pif, { currently_attached: false });
}

/**
 * xapi_pif.plug: PIF_UNMANAGED; a tunnel access PIF needs an IPv4-configured transport
 * (TRANSPORT_PIF_NOT_CONFIGURED) which is plugged first; a bond slave → CANNOT_PLUG_BOND_SLAVE;
 * then the PIF is brought up (`refresh` false: the caller refreshes host.address once after many, as bringPifUp).
 */
export function plugPif(tx: Txn, pif: Ref<'PIF'>, refresh = true): void {
  const row = tx.get('PIF', pif);
  if (!row.managed) throw new ApiError('PIF_UNMANAGED', [pif]);
  const kind = pifKind(tx, pif);
  if (kind === 'Tunnel_access') {
    const t = tx.children('PIF', pif, 'tunnel_access_PIF_of')[0];
    const transport = tx.get('tunnel', t).transport_PIF;
    if (tx.get('PIF', transport).ip_configuration_mode === 'None') throw new ApiError('TRANSPORT_PIF_NOT_CONFIGURED', [transport]);
    plugPif(tx, transport, refresh);
  } else if (kind === 'Physical' && row.bond_slave_of !== NULL_REF) {
    throw new ApiError('CANNOT_PLUG_BOND_SLAVE', [pif]);
  }
  if (row.bond_slave_of === NULL_REF) bringPifUp(tx, pif, refresh);
}

/**
 * xapi_pif.unplug's checks in xapi's order (PIF_UNMANAGED, HA/redo log,
 * PIF_IS_MANAGEMENT_INTERFACE, VIF_IN_USE, PIF_DOES_NOT_ALLOW_UNPLUG), then tunnels on it
 * are unplugged and the PIF brought down (bond slaves are left to their master).
 */
export function unplugPif(tx: Txn, pif: Ref<'PIF'>, host: Ref<'host'>): void {
  const row = tx.get('PIF', pif);
  if (!row.managed) throw new ApiError('PIF_UNMANAGED', [pif]);
  assertNoProtectionEnabled(tx, pif);
  if (row.management) throw new ApiError('PIF_IS_MANAGEMENT_INTERFACE', [pif]);
  assertNetworkHasNoVifsInUseOn(tx, host, row.network);
  if (row.disallow_unplug) throw new ApiError('PIF_DOES_NOT_ALLOW_UNPLUG', [pif]);
  for (const t of tx.children('PIF', pif, 'tunnel_transport_PIF_of')) unplugPif(tx, tx.get('tunnel', t).access_PIF, host);
  if (row.bond_slave_of === NULL_REF) bringPifDown(tx, pif);
}

/** HA_IS_ENABLED / REDO_LOG_IS_ENABLED for an attached PIF (xapi_pif.assert_no_protection_enabled). */
export function assertNoProtectionEnabled(db: View, pif: Ref<'PIF'>): void {
  if (!db.get('PIF', pif).currently_attached) return;
  for (const [, pool] of db.rows('pool')) {
    if (pool.ha_enabled) throw new ApiError('HA_IS_ENABLED', []);
    if (pool.redo_log_enabled) throw new ApiError('REDO_LOG_IS_ENABLED', []);
  }
}

/** VIF_IN_USE [network, vif] if an attached VIF of a live VM resident on `host` uses the network. */
export function assertNetworkHasNoVifsInUseOn(db: View, host: Ref<'host'>, network: Ref<'network'>): void {
  for (const v of db.children('network', network, 'VIFs')) {
    const vif = db.get('VIF', v);
    const vm = db.find('VM', vif.VM);
    if (!vm) continue;
    const ops = Object.values(vif.current_operations as Record<string, string>);
    if (ops.includes('attach') && (vm.resident_on === host || vm.scheduled_to_be_resident_on === host)) {
      throw new ApiError('VIF_IN_USE', [network, v]);
    }
    if (vif.currently_attached && vm.resident_on === host && isLive(vm.power_state)) throw new ApiError('VIF_IN_USE', [network, v]);
  }
}

/** Running, Paused (a domain exists). */
function isLive(ps: unknown): boolean {
  return ps === 'Running' || ps === 'Paused';
}

/**
 * xapi_network.attach_internal: an unmanaged network needs its bridge on the host
 * (BRIDGE_NOT_AVAILABLE); otherwise each local managed PIF that is not attached (all of
 * them with `force`) must not be a bond slave (CANNOT_PLUG_BOND_SLAVE) and is brought up.
 * A network without local PIFs gets an internal bridge from the reconciler when a VIF needs it.
 */
export function attachInternal(tx: Txn, network: Ref<'network'>, host: Ref<'host'>, opts: { force?: boolean; bridges?: readonly string[] } = {}): void {
  const net = tx.get('network', network);
  if (!net.managed) {
    if (opts.bridges && !opts.bridges.includes(net.bridge)) throw new ApiError('BRIDGE_NOT_AVAILABLE', [net.bridge]);
    return;
  }
  for (const pif of localPifs(tx, network, host)) {
    const row = tx.get('PIF', pif);
    if (!row.managed) continue;
    if (opts.force || !row.currently_attached) {
      if (row.bond_slave_of !== NULL_REF) throw new ApiError('CANNOT_PLUG_BOND_SLAVE', [pif]);
      bringPifUp(tx, pif);
    }
  }
}

/**
 * Whether `host` can see `network` (xapi_network_attach_helpers.assert_can_see_named_networks):
 * a network with PIFs iff one is on the host; a PIF-less one if assume_network_is_shared,
 * unmanaged, or no Running VM uses it or one of those is resident on the host.
 */
export function networkVisibleOn(db: View, network: Ref<'network'>, host: Ref<'host'>): boolean {
  const net = db.get('network', network);
  const pifs = db.children('network', network, 'PIFs');
  if (pifs.length) return pifs.some((p) => db.get('PIF', p).host === host);
  if (net.other_config.assume_network_is_shared === 'true') return true;
  if (!net.managed) return true;
  const hosts = db
    .children('network', network, 'VIFs')
    .map((v) => db.find('VM', db.get('VIF', v).VM))
    .filter((vm) => vm && vm.power_state === 'Running')
    .map((vm) => vm!.resident_on);
  return hosts.length === 0 || hosts.includes(host);
}

/**
 * VM_REQUIRES_NETWORK [vm, first unseen network], then HOST_CANNOT_ATTACH_NETWORK
 * [host, network] for a visible network that has a bond-slave PIF on the host.
 */
export function assertCanSeeNetworks(db: View, vm: Ref<'VM'>, host: Ref<'host'>, networks: string[]): void {
  const unseen = networks.filter((n) => !networkVisibleOn(db, n, host));
  if (unseen.length) throw new ApiError('VM_REQUIRES_NETWORK', [vm, unseen[0]]);
  for (const n of networks) {
    if (localPifs(db, n, host).some((p) => db.get('PIF', p).bond_slave_of !== NULL_REF)) {
      throw new ApiError('HOST_CANNOT_ATTACH_NETWORK', [host, n]);
    }
  }
}

/** The distinct networks of a VM's VIFs, in VIF order. */
export function vmNetworks(db: View, vm: Ref<'VM'>): string[] {
  const out: string[] = [];
  for (const v of db.children('VM', vm, 'VIFs')) {
    const n = db.get('VIF', v).network;
    if (!out.includes(n) && db.find('network', n)) out.push(n);
  }
  return out;
}

/** network.create: MTU ≤ 0 → 1500, bridge "" → xapiN, reserved names refused, names unique. */
function create(tx: Txn, rec: CtorOf<'network'>): string {
  const bridges = new Set([...tx.rows('network')].map(([, r]) => r.bridge));
  const mtu = Number(rec.MTU) <= 0 ? 1500 : Number(rec.MTU);
  let bridge = rec.bridge;
  if (bridge === '') {
    let n = bridgeCounter.get(tx.store) ?? 0;
    do bridge = `xapi${n++}`;
    while (bridges.has(bridge));
    bridgeCounter.set(tx.store, n);
  } else {
    // xapi: at most 15 bytes and no reserved prefix; we also require an interface name every host
    // tool takes as a name (schema/values.ts isIfName), even on pool-internal sessions.
    if (bridge.length > 15 || BRIDGE_BLACKLIST.some((s) => bridge.startsWith(s)) || !isIfName(bridge)) throw new ApiError('INVALID_VALUE', ['bridge', bridge]);
    if (bridges.has(bridge)) throw new ApiError('BRIDGE_NAME_EXISTS', [bridge]);
  }
  return tx.create('network', {
    name_label: rec.name_label,
    name_description: rec.name_description,
    MTU: mtu,
    other_config: rec.other_config,
    bridge,
    managed: rec.managed,
    tags: rec.tags,
    purpose: [],
    default_locking_mode: 'unlocked',
    assigned_ips: Object.create(null),
    blobs: Object.create(null),
  });
}

/** network.destroy: NETWORK_CONTAINS_VIF, NETWORK_CONTAINS_PIF, CANNOT_DESTROY_SYSTEM_NETWORK; detached VIFs go with it. */
function destroy(tx: Txn, self: string): void {
  tx.get('network', self);
  const vifs = tx.children('network', self, 'VIFs');
  const connected = vifs.filter((v) => tx.get('VIF', v).currently_attached || tx.get('VIF', v).reserved);
  if (connected.length) throw new ApiError('NETWORK_CONTAINS_VIF', connected);
  const pifs = tx.children('network', self, 'PIFs');
  if (pifs.length) throw new ApiError('NETWORK_CONTAINS_PIF', pifs);
  const oc = tx.get('network', self).other_config as Record<string, string>;
  if (oc.is_host_internal_management_network === 'true') throw new ApiError('CANNOT_DESTROY_SYSTEM_NETWORK', [self]);
  for (const v of vifs) {
    const m = tx.get('VIF', v).metrics;
    if (tx.find('VIF_metrics', m)) tx.destroy('VIF_metrics', m);
    tx.destroy('VIF', v);
  }
  tx.destroy('network', self);
}

/** network.add_purpose: NETWORK_UNMANAGED; nbd and insecure_nbd exclude each other pool-wide. */
function addPurpose(tx: Txn, self: string, value: EnumValue<'network_purpose'>): void {
  assertNetworkManaged(tx, self);
  const cur = tx.get('network', self).purpose;
  if (cur.includes(value)) return;
  const bad = value === 'nbd' ? 'insecure_nbd' : 'nbd';
  for (const [, n] of tx.rows('network')) {
    if (n.purpose.includes(bad)) throw new ApiError('NETWORK_INCOMPATIBLE_PURPOSES', [value, bad]);
  }
  tx.set('network', self, { purpose: [value, ...cur] });
}

/** Implementations of the network class's messages. */
export const networkImpls: Impls = {
  'network.create': (ctx, { args: rec }) => create(ctx.tx, rec),
  'network.destroy': (ctx, { self }) => {
    destroy(ctx.tx, self);
  },
  'network.attach': async (ctx, { network, host }) => {
    ctx.tx.get('host', host);
    // An unmanaged network's bridge must already exist on the host (read, never changed, here).
    const bridges = ctx.tx.get('network', network).managed ? undefined : await ctx.facts.bridges();
    attachInternal(ctx.tx, network, host, { force: true, bridges });
  },
  'network.add_purpose': (ctx, { self, value }) => {
    addPurpose(ctx.tx, self, value);
  },
  'network.remove_purpose': (ctx, { self, value }) => {
    const cur = ctx.tx.get('network', self).purpose;
    if (cur.includes(value)) ctx.tx.set('network', self, { purpose: cur.filter((p) => p !== value) });
  },
  'network.set_default_locking_mode': (ctx, { network, value }) => {
    ctx.tx.get('network', network);
    const attached = ctx.tx.children('network', network, 'VIFs').find((v) => ctx.tx.get('VIF', v).currently_attached);
    if (attached) throw new ApiError('VIF_IN_USE', [network, attached]);
    ctx.tx.set('network', network, { default_locking_mode: value });
  },
};
