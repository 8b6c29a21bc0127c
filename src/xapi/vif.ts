// VIF: create/destroy/plug/unplug/move as xapi_vif.ml and xapi_vif_helpers.ml. Plugging
// marks the VIF attached and attaches the networks of the VM's VIFs on its host; the
// reconciler then puts the port vif<domid>.<device> on the network's bridge.
import { createHash } from 'node:crypto';
import type { Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type Txn, type View } from '../store/store.js';
import { isValidCidr6, isValidIPv4, isValidIPv6 } from './pif_helpers.js';
import { assertCanSeeNetworks, assertNetworkCompatibleWithTrunksOnPif, attachInternal } from './network.js';

/** The MAC xapi derives from a seed and a device number (xapi_vif_helpers.gen_mac). */
export function genMac(device: number, seed: string): string {
  const md5 = (b: Buffer) => createHash('md5').update(b).digest();
  let h = Buffer.from(seed, 'latin1');
  for (let i = 0; i < 2 * device + 1; i++) h = md5(h);
  const d = md5(h);
  const bytes = [h[0], h[1], h[2], h[3], d[1], d[2]];
  bytes[0] = (bytes[0] | 0x2) & ~0x1;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** xapi's Helpers.is_valid_MAC: six colon-separated pairs of hex digits (the `mac` value type). */
export { isMac as isValidMac } from '../../schema/values.js';
import { isMac as isValidMac, isVlanTagged } from '../../schema/values.js';
import type { CtorOf, EnumValue, Int, Ref } from '../../schema/index.js';

/** The domain type xapi's Helpers.domain_type reports: VM_metrics' current type while a domain exists. */
export function domainType(db: View, vm: Ref<'VM'>): string {
  const row = db.get('VM', vm);
  let t = row.domain_type;
  if (row.power_state !== 'Halted') {
    const m = db.find('VM_metrics', row.metrics);
    if (m && m.current_domain_type !== 'unspecified') t = m.current_domain_type;
  }
  if (t === 'unspecified') t = row.HVM_boot_policy === '' ? 'pv' : 'hvm';
  return t;
}

/**
 * The error xapi_vif_helpers.valid_operations records for plug/unplug, in its order
 * (the first recorded wins): OTHER_OPERATION_IN_PROGRESS, control domain (plug), power
 * state (DEVICE_ALREADY_ATTACHED / DEVICE_ALREADY_DETACHED / VM_BAD_POWER_STATE), VM
 * shutdown/suspend/pause in progress, HVM hotplug support; undefined if allowed.
 */
export function vifOperationError(tx: View, vif: Ref<'VIF'>, op: 'plug' | 'unplug'): ApiError | undefined {
  const row = tx.get('VIF', vif);
  const vm = row.VM;
  const vmRow = tx.get('VM', vm);
  const ops = Object.entries(row.current_operations as Record<string, string>);
  if (ops.length) {
    const fmt = (x: string[]) => `{${x.join('; ')}}`;
    return new ApiError('OTHER_OPERATION_IN_PROGRESS', ['VIF', vif, fmt(ops.map(([, o]) => o).reverse()), fmt(ops.map(([t]) => t).reverse())]);
  }
  if (op === 'plug' && vmRow.is_control_domain) return new ApiError('OPERATION_NOT_ALLOWED', ['Control domain does not support hotplug']);
  const ps = vmRow.power_state;
  const plugged = row.currently_attached || row.reserved;
  if (ps === 'Running') {
    if (plugged && op === 'plug') return new ApiError('DEVICE_ALREADY_ATTACHED', [vif]);
    if (!plugged && op === 'unplug') return new ApiError('DEVICE_ALREADY_DETACHED', [vif]);
  } else {
    return new ApiError('VM_BAD_POWER_STATE', [vm, 'running', ps.toLowerCase()]);
  }
  for (const o of Object.values(vmRow.current_operations as Record<string, string>)) {
    if (['clean_shutdown', 'hard_shutdown', 'suspend', 'pause'].includes(o)) {
      return new ApiError('OPERATION_NOT_ALLOWED', [`Current operation on VM:${vm} is ${o}`]);
    }
  }
  if (domainType(tx, vm) === 'hvm') {
    const gm = tx.find('VM_guest_metrics', vmRow.guest_metrics);
    const hotplug = gm ? gm.can_use_hotplug_vif : 'unspecified';
    if (hotplug === 'no') return new ApiError('OPERATION_NOT_ALLOWED', ['VM states it does not support VIF hotplug.']);
    if (hotplug === 'unspecified' && !(gm && gm.PV_drivers_detected)) return new ApiError('VM_MISSING_PV_DRIVERS', [vm]);
  }
  return undefined;
}

/** Active: attached and the VM not Suspended (xapi_vif.is_active). */
export function vifActive(db: View, vif: Ref<'VIF'>): boolean {
  const row = db.get('VIF', vif);
  return !!row.currently_attached && db.get('VM', row.VM).power_state !== 'Suspended';
}

/** The host a VIF's VM lives on, or `fallback` (xapi runs VIF calls locally when the VM is nowhere). */
function vmHost(db: View, vif: Ref<'VIF'>, fallback: string): string {
  const h = db.get('VM', db.get('VIF', vif).VM).resident_on;
  return h !== NULL_REF && db.find('host', h) ? h : fallback;
}

/**
 * xapi_vif.move_internal: points the VIF at `network`; if it is active, the network is
 * attached on the VM's host (CANNOT_PLUG_BOND_SLAVE for a needed bond slave) and the
 * reconciler moves the port to the new bridge, with no guest involvement.
 */
export function moveVifInternal(tx: Txn, vif: Ref<'VIF'>, network: Ref<'network'>): void {
  tx.set('VIF', vif, { network });
  if (vifActive(tx, vif)) {
    const vm = tx.get('VM', tx.get('VIF', vif).VM);
    attachInternal(tx, network, vm.resident_on);
  }
}

/** Attaches the networks of all the VM's VIFs on `host` (xapi's attach_for_vm, no forced bring-up). */
export function attachNetworksForVm(tx: Txn, vm: Ref<'VM'>, host: Ref<'host'>): void {
  for (const v of tx.children('VM', vm, 'VIFs')) {
    const n = tx.get('VIF', v).network;
    if (tx.find('network', n)) attachInternal(tx, n, host);
  }
}

/** VIF.create: xapi_vif_helpers.create's checks and records. */
function create(tx: Txn, rec: CtorOf<'VIF'>): string {
  const vm = rec.VM;
  const vmRow = tx.get('VM', vm);
  tx.get('network', rec.network);
  // xapi_vif.create: currently_attached only honoured for a Suspended VM.
  const attached = vmRow.power_state === 'Suspended' ? !!rec.currently_attached : false;
  const device = rec.device;
  if (!/^\d+$/.test(device)) throw new ApiError('INVALID_DEVICE', [device]);
  const seed = vmRow.other_config.mac_seed;
  let mac = rec.MAC;
  let auto = false;
  if (seed !== undefined && mac === '') {
    mac = genMac(Number(device), seed);
    auto = true;
  }
  if (!isValidMac(mac)) throw new ApiError('MAC_INVALID', [mac]);
  if (rec.trunks.length) assertNetworkCompatibleWithTrunksOnPif(tx, rec.network);
  // (HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED needs HA, which this daemon never enables.)
  const n = Number(device);
  if (tx.children('VM', vm, 'VIFs').some((v) => Number(tx.get('VIF', v).device) === n)) throw new ApiError('DEVICE_ALREADY_EXISTS', [device]);
  const metrics = tx.create('VIF_metrics', { io_read_kbs: 0, io_write_kbs: 0, last_updated: '19700101T00:00:00Z', other_config: Object.create(null) });
  const ref = tx.create('VIF', {
    ...rec,
    MAC: mac,
    MAC_autogenerated: auto,
    currently_attached: attached,
    metrics,
    current_operations: Object.create(null),
    allowed_operations: [],
    reserved: false,
    qos_supported_algorithms: [],
    status_code: 0,
    status_detail: '',
    runtime_properties: Object.create(null),
    reserved_pci: NULL_REF,
  });
  updateAllowedOperations(tx, ref);
  return ref;
}

/** Recomputes VIF.allowed_operations (attach, plug, unplug) as xapi does after each operation. */
export function updateAllowedOperations(tx: Txn, vif: Ref<'VIF'>): void {
  const allowed: EnumValue<'vif_operations'>[] = [];
  for (const op of ['attach', 'plug', 'unplug'] as const) {
    if (op === 'attach' ? Object.keys(tx.get('VIF', vif).current_operations as object).length === 0 : !vifOperationError(tx, vif, op)) allowed.push(op);
  }
  const cur = tx.get('VIF', vif).allowed_operations;
  if (cur.join() !== allowed.join()) tx.set('VIF', vif, { allowed_operations: allowed });
}

/** Recomputes allowed_operations of every VIF of a VM (after a power-state change). */
export function updateVmVifsAllowedOperations(tx: Txn, vm: Ref<'VM'>): void {
  for (const v of tx.children('VM', vm, 'VIFs')) updateAllowedOperations(tx, v);
}

/** VIF.destroy: OPERATION_NOT_ALLOWED while attached to a running VM; metrics go too. */
function destroy(tx: Txn, self: string): void {
  const row = tx.get('VIF', self);
  const vm = tx.find('VM', row.VM);
  // Helpers.is_running: a domain exists (domid ≠ -1).
  if (vm && Number(vm.domid) !== -1 && row.currently_attached) {
    throw new ApiError('OPERATION_NOT_ALLOWED', ['VIF currently attached to a running VM']);
  }
  const m = row.metrics;
  if (tx.find('VIF_metrics', m)) tx.destroy('VIF_metrics', m);
  tx.destroy('VIF', self);
}

/** VIF.plug: validity, currently_attached first, then the networks of all the VM's VIFs attached. */
export function plugVif(tx: Txn, self: string, localHost: Ref<'host'>): void {
  const err = vifOperationError(tx, self, 'plug');
  if (err) throw err;
  tx.set('VIF', self, { currently_attached: true });
  attachNetworksForVm(tx, tx.get('VIF', self).VM, vmHost(tx, self, localHost));
  updateAllowedOperations(tx, self);
}

/** VIF.unplug / unplug_force: validity, then the port is removed (currently_attached = false). */
export function unplugVif(tx: Txn, self: string): void {
  const err = vifOperationError(tx, self, 'unplug');
  if (err) throw err;
  tx.set('VIF', self, { currently_attached: false });
  updateAllowedOperations(tx, self);
}

/** VIF.move: reachability of the new network from the VM's host if active, trunks, then move_internal. */
function move(tx: Txn, self: string, network: Ref<'network'>, localHost: Ref<'host'>): void {
  const row = tx.get('VIF', self);
  tx.get('network', network);
  if (vifActive(tx, self)) {
    const host = vmHost(tx, self, localHost);
    try {
      assertCanSeeNetworks(tx, row.VM, host, [network]);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'VM_REQUIRES_NETWORK') throw new ApiError('HOST_CANNOT_ATTACH_NETWORK', [host, network]);
      throw e;
    }
  }
  if (row.trunks.length) assertNetworkCompatibleWithTrunksOnPif(tx, network);
  moveVifInternal(tx, self, network);
}

/** VLAN_TAG_INVALID [tag] outside 0..4094 (xapi_vlan.assert_valid_VLAN_tag). */
function assertValidTag(tag: Int): void {
  if (!isVlanTagged(tag)) throw new ApiError('VLAN_TAG_INVALID', [String(tag)]);
}

/** VIF.add_trunks / remove_trunks / set_trunks, as xapi_vif.ml (tag check and network check orders differ). */
function trunks(tx: Txn, self: string, op: 'add' | 'remove' | 'set', value: Int | readonly Int[]): void {
  const row = tx.get('VIF', self);
  const cur = row.trunks as Int[];
  const network = row.network;
  if (op === 'add') {
    assertValidTag(value as Int);
    assertNetworkCompatibleWithTrunksOnPif(tx, network);
    if (!cur.includes(value as Int)) tx.set('VIF', self, { trunks: [value as Int, ...cur] });
  } else if (op === 'remove') {
    if (cur.includes(value as Int)) tx.set('VIF', self, { trunks: cur.filter((t) => t !== value) });
  } else {
    const v = value as readonly Int[];
    if (v.length) assertNetworkCompatibleWithTrunksOnPif(tx, network);
    const set = [...new Set(v)];
    set.forEach(assertValidTag);
    tx.set('VIF', self, { trunks: set });
  }
}

/** Implementations of VIF.create/destroy/plug/unplug/unplug_force/move and the trunk setters. */
/** The VIF's locking mode with network_default resolved (xapi_vif_helpers get_effective_locking_mode). */
function effectiveLockingMode(db: View, vif: Ref<'VIF'>): string {
  const v = db.get('VIF', vif);
  return v.locking_mode === 'network_default' ? db.get('network', v.network).default_locking_mode : v.locking_mode;
}

/** `a.b.c.d/n` with n in 0..32 (Ipaddr.V4.Prefix.of_string). */
function isValidCidr4(s: string): boolean {
  const i = s.indexOf('/');
  return i > 0 && isValidIPv4(s.slice(0, i)) && /^\d{1,2}$/.test(s.slice(i + 1)) && Number(s.slice(i + 1)) <= 32;
}

/**
 * VIF.configure_ipv4 / configure_ipv6 (xapi_vif.ml), checks in xapi's order: for Static mode a
 * CIDR address (INVALID_CIDR_ADDRESS_SPECIFIED [address]), allowed by a locked VIF
 * (ADDRESS_VIOLATES_LOCKING_CONSTRAINT [address]), a valid gateway if any
 * (INVALID_IP_ADDRESS_SPECIFIED [gateway]); then, whatever the mode, a guest agent that can set
 * addresses (guest metrics other:feature-static-ip-setting = 1, else VM_LACKS_FEATURE [vm]).
 * The fields are stored as given (xapi stores [address] even when it is empty); the guest agent
 * applies them, so the host's networking does not change.
 */
function configureIp(tx: Txn, self: string, v: 4 | 6, mode: string, address: string, gateway: string): void {
  const vif = tx.get('VIF', self);
  if (mode === 'Static') {
    if (!(v === 4 ? isValidCidr4(address) : isValidCidr6(address))) throw new ApiError('INVALID_CIDR_ADDRESS_SPECIFIED', ['address']);
    if (effectiveLockingMode(tx, self) === 'locked' && !(vif[`ipv${v}_allowed`] as string[]).includes(address.slice(0, address.indexOf('/')))) {
      throw new ApiError('ADDRESS_VIOLATES_LOCKING_CONSTRAINT', [address]);
    }
    if (gateway !== '' && !(v === 4 ? isValidIPv4(gateway) : isValidIPv6(gateway))) throw new ApiError('INVALID_IP_ADDRESS_SPECIFIED', ['gateway']);
  }
  const vm = vif.VM;
  const gm = tx.find('VM_guest_metrics', tx.find('VM', vm)?.guest_metrics ?? NULL_REF);
  if (gm?.other?.['feature-static-ip-setting'] !== '1') throw new ApiError('VM_LACKS_FEATURE', [vm]);
  tx.set('VIF', self, { [`ipv${v}_configuration_mode`]: mode, [`ipv${v}_addresses`]: [address], [`ipv${v}_gateway`]: gateway });
}

/**
 * VIF.set_/add_/remove_ipv4_allowed and the IPv6 ones (xapi_vif.ml): an address must be an IP
 * address or a CIDR of its family (Helpers.assert_is_valid_ip_addr: INVALID_IP_ADDRESS_SPECIFIED
 * [ipvN_allowed]); `set` drops duplicates; removing an absent address is no error. Like the
 * locking mode, stored and used by configure_ipv4/6's check; the daemon installs no filtering
 * rules on the host (docs/compat.md).
 */
function allowed(tx: Txn, self: string, v: 4 | 6, op: 'set' | 'add' | 'remove', value: string | readonly string[]): void {
  const field = `ipv${v}_allowed` as const;
  const cur = tx.get('VIF', self)[field] as string[];
  const valid = (a: string) => (v === 4 ? isValidIPv4(a) || isValidCidr4(a) : isValidIPv6(a) || isValidCidr6(a));
  let next: string[];
  if (op === 'remove') next = cur.filter((a) => a !== value);
  else {
    const given = op === 'set' ? [...new Set(value as readonly string[])] : [value as string];
    for (const a of given) if (!valid(a)) throw new ApiError('INVALID_IP_ADDRESS_SPECIFIED', [field]);
    next = op === 'set' ? given : cur.includes(value as string) ? cur : [...cur, value as string];
  }
  if (next.length !== cur.length || next.some((a, i) => a !== cur[i])) tx.set('VIF', self, { [field]: next });
}

export const vifImpls: Impls = {
  'VIF.set_locking_mode': (ctx, { self, value }) => {
    if (ctx.tx.get('VIF', self).locking_mode !== value) ctx.tx.set('VIF', self, { locking_mode: value });
  },
  'VIF.set_ipv4_allowed': (ctx, { self, value }) => allowed(ctx.tx, self, 4, 'set', value),
  'VIF.add_ipv4_allowed': (ctx, { self, value }) => allowed(ctx.tx, self, 4, 'add', value),
  'VIF.remove_ipv4_allowed': (ctx, { self, value }) => allowed(ctx.tx, self, 4, 'remove', value),
  'VIF.set_ipv6_allowed': (ctx, { self, value }) => allowed(ctx.tx, self, 6, 'set', value),
  'VIF.add_ipv6_allowed': (ctx, { self, value }) => allowed(ctx.tx, self, 6, 'add', value),
  'VIF.remove_ipv6_allowed': (ctx, { self, value }) => allowed(ctx.tx, self, 6, 'remove', value),
  'VIF.configure_ipv4': (ctx, { self, mode, address, gateway }) => {
    configureIp(ctx.tx, self, 4, mode, address, gateway);
  },
  'VIF.configure_ipv6': (ctx, { self, mode, address, gateway }) => {
    configureIp(ctx.tx, self, 6, mode, address, gateway);
  },
  'VIF.create': (ctx, { args: rec }) => create(ctx.tx, rec),
  'VIF.destroy': (ctx, { self }) => {
    destroy(ctx.tx, self);
  },
  'VIF.plug': (ctx, { self }) => {
    plugVif(ctx.tx, self, ctx.d.hostRef);
  },
  'VIF.unplug': (ctx, { self }) => {
    unplugVif(ctx.tx, self);
  },
  'VIF.unplug_force': (ctx, { self }) => {
    unplugVif(ctx.tx, self);
  },
  'VIF.move': (ctx, { self, network }) => {
    move(ctx.tx, self, network, ctx.d.hostRef);
  },
  'VIF.add_trunks': (ctx, { self, value }) => {
    trunks(ctx.tx, self, 'add', value);
  },
  'VIF.remove_trunks': (ctx, { self, value }) => {
    trunks(ctx.tx, self, 'remove', value);
  },
  'VIF.set_trunks': (ctx, { self, value }) => {
    trunks(ctx.tx, self, 'set', value);
  },
};
