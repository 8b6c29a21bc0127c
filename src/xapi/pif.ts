// PIF: plug, unplug, IP (re)configuration, properties, scan/introduce/forget and the
// database-only introduce/forget, as xapi_pif.ml. Semantics only change records
// (currently_attached, IP fields, flags); the reconciler makes the host follow.
//
// Surface (what other modules use):
//   isValidIPv4 / isValidIPv6 / isValidCidr6  — xapi's Helpers.is_valid_ip / parse_cidr
//   setCulprit(tx, pif)                       — the PIF a backend failure is reported against
//   moveIpConfig(tx, from, to) / resetIpConfig(tx, pif) — IP configuration moves (bonds, VLANs)
//   pifImpls                                  — PIF.* implementations
import type { EnumValue, ParamsOf, Ref } from '../../schema/index.js';
import type { CallCtx, Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import type { Txn, View } from '../store/store.js';
import { destroyPif, introduceInternal, newPifMetrics, newPifRow, type NicInfo } from './introduce.js';
import { assertNetworkCompatibleWithTrunksOnVif, assertNoProtectionEnabled, bringPifDown, bringPifUp, plugPif, unplugPif } from './network.js';
import { isBondSlave, isValidIPv4, isValidIPv6, isValidCidr6, pifKind } from './pif_helpers.js';
import { isValidMac } from './vif.js';

export { isValidCidr6, isValidIPv4, isValidIPv6 } from './pif_helpers.js';

/** Marks the PIF whose bring-up a backend failure is reported against (PIF_CONFIGURATION_ERROR [pif, msg]). */
export function setCulprit(tx: Txn, pif: Ref<'PIF'>): void {
  tx.ctx.culprit = pif;
}

/** Every IP configuration field that moves with a PIF's configuration. */
const IPV4_FIELDS = ['ip_configuration_mode', 'IP', 'netmask', 'gateway', 'DNS'] as const;
const IPV6_FIELDS = ['ipv6_configuration_mode', 'IPv6', 'ipv6_gateway'] as const;

/**
 * Moves the IP configuration of `from` to `to` and resets it on `from` (xapi_bond.move_configuration,
 * extended to IPv6 as the seed's "IP configuration" reads: see docs/compat.md). IPv6 fields move only
 * when `from` has an IPv6 mode, so unconfigured PIFs keep their own IPv6 placeholders.
 */
export function moveIpConfig(tx: Txn, from: string, to: string): void {
  const f = tx.get('PIF', from);
  const patch: Record<string, unknown> = {};
  for (const k of IPV4_FIELDS) patch[k] = f[k];
  if (f.ipv6_configuration_mode !== 'None') for (const k of IPV6_FIELDS) patch[k] = Array.isArray(f[k]) ? [...(f[k] as string[])] : f[k];
  tx.set('PIF', to, patch);
  resetIpConfig(tx, from);
}

/** Resets a PIF's IPv4 configuration (and IPv6, if it has one) to None. */
export function resetIpConfig(tx: Txn, pif: Ref<'PIF'>): void {
  const p = tx.get('PIF', pif);
  const patch: Record<string, unknown> = {};
  if (p.ip_configuration_mode !== 'None' || p.IP !== '' || p.netmask !== '' || p.gateway !== '' || p.DNS !== '') {
    Object.assign(patch, { ip_configuration_mode: 'None', IP: '', netmask: '', gateway: '', DNS: '' });
  }
  if (p.ipv6_configuration_mode !== 'None') Object.assign(patch, { ipv6_configuration_mode: 'None', IPv6: [], ipv6_gateway: '' });
  if (Object.keys(patch).length) tx.set('PIF', pif, patch);
}

/** Physical PIFs of `host` named `device`. */
function physicalPifs(db: View, host: Ref<'host'>, device: string): string[] {
  return db.children('host', host, 'PIFs').filter((p) => {
    const r = db.get('PIF', p);
    return r.physical === true && r.device === device;
  });
}

/** PIF.plug: xapi_pif.plug's checks (PIF_UNMANAGED, TRANSPORT_PIF_NOT_CONFIGURED, CANNOT_PLUG_BOND_SLAVE), then bring-up. */
function plug(tx: Txn, self: string): void {
  setCulprit(tx, self);
  plugPif(tx, self);
}

/** PIF.reconfigure_ip (Xapi_pif.reconfigure_ip), checks in xapi's order. */
function reconfigureIp(tx: Txn, self: string, mode: EnumValue<'ip_configuration_mode'>, IP: string, netmask: string, gateway: string, DNS: string): void {
  const row = tx.get('PIF', self);
  if (!row.managed) throw new ApiError('PIF_UNMANAGED', [self]);
  const dnsOnly = mode === 'Static' && row.ip_configuration_mode === 'Static' && row.IP === IP && row.netmask === netmask && row.gateway === gateway;
  if (!dnsOnly) assertNoProtectionEnabled(tx, self); // (no clustering: CLUSTERING_ENABLED cannot arise)
  if (mode === 'Static') {
    if (!isValidIPv4(IP)) throw new ApiError('INVALID_IP_ADDRESS_SPECIFIED', ['IP']);
    if (!isValidIPv4(netmask)) throw new ApiError('INVALID_IP_ADDRESS_SPECIFIED', ['netmask']);
  }
  for (const [v, name] of [
    [IP, 'IP'],
    [netmask, 'netmask'],
    [gateway, 'gateway'],
  ] as const) {
    if (v !== '' && !isValidIPv4(v)) throw new ApiError('INVALID_IP_ADDRESS_SPECIFIED', [name]);
  }
  const v4dns = DNS.split(',').filter(isValidIPv4);
  if (row.management && mode === 'None' && row.primary_address_type === 'IPv4') throw new ApiError('PIF_IS_MANAGEMENT_INTERFACE', [self]);
  const v6dns = row.DNS.split(',').filter(isValidIPv6);
  tx.set('PIF', self, { ip_configuration_mode: mode, IP, netmask, gateway, DNS: [...v4dns, ...v6dns].join(',') });
  if (row.currently_attached) {
    setCulprit(tx, self);
    tx.set('PIF', self, { currently_attached: false });
    bringPifUp(tx, self);
  }
}

/** PIF.reconfigure_ipv6 (Xapi_pif.reconfigure_ipv6), checks in xapi's order. */
function reconfigureIpv6(tx: Txn, self: string, mode: EnumValue<'ipv6_configuration_mode'>, IPv6: string, gateway: string, DNS: string): void {
  const row = tx.get('PIF', self);
  if (!row.managed) throw new ApiError('PIF_UNMANAGED', [self]);
  const cur = row.IPv6;
  const dnsOnly = mode === 'Static' && row.ipv6_configuration_mode === 'Static' && cur.length === 1 && cur[0] === IPv6 && row.ipv6_gateway === gateway;
  if (!dnsOnly) assertNoProtectionEnabled(tx, self);
  if (gateway !== '' && !isValidIPv6(gateway)) throw new ApiError('INVALID_IP_ADDRESS_SPECIFIED', ['gateway']);
  if (IPv6 !== '' && !isValidCidr6(IPv6)) throw new ApiError('INVALID_CIDR_ADDRESS_SPECIFIED', ['IPv6']);
  const v6dns = DNS.split(',').filter(isValidIPv6);
  if (row.management && mode === 'None' && row.primary_address_type === 'IPv6') throw new ApiError('PIF_IS_MANAGEMENT_INTERFACE', [self]);
  const v4dns = row.DNS.split(',').filter(isValidIPv4);
  tx.set('PIF', self, { ipv6_configuration_mode: mode, ipv6_gateway: gateway, IPv6: [IPv6], DNS: [...v6dns, ...v4dns].join(',') });
  if (row.currently_attached) {
    setCulprit(tx, self);
    tx.set('PIF', self, { currently_attached: false });
    bringPifUp(tx, self);
  }
}

/** PIF.set_property (Xapi_pif.set_property): only gro=on|off, on physical non-slave or bond master PIFs. */
function setProperty(tx: Txn, self: string, name: string, value: string): void {
  if (name !== 'gro' || (value !== 'on' && value !== 'off')) throw new ApiError('INVALID_VALUE', ['properties', `${name} = ${value}`]);
  const row = tx.get('PIF', self);
  const kind = pifKind(tx, self);
  if (!(kind === 'Bond_master' || (kind === 'Physical' && !isBondSlave(tx, self)))) throw new ApiError('CANNOT_CHANGE_PIF_PROPERTIES', [self]);
  const props = Object.assign(Object.create(null), row.properties, { [name]: value });
  tx.set('PIF', self, { properties: props });
  if (kind === 'Bond_master') {
    for (const s of tx.children('Bond', tx.children('PIF', self, 'bond_master_of')[0], 'slaves')) {
      tx.set('PIF', s, { properties: Object.assign(Object.create(null), props) });
    }
  }
  // xapi re-applies the PIF and every VLAN on it when the *base* PIF is attached (so an unplugged VLAN gets plugged).
  if (row.currently_attached) {
    setCulprit(tx, self);
    bringPifUp(tx, self);
    for (const v of tx.children('PIF', self, 'VLAN_slave_of')) {
      const u = tx.get('VLAN', v).untagged_PIF;
      if (tx.find('PIF', u)) bringPifUp(tx, u);
    }
  }
}

/** PIF.scan: refresh physical PIFs' MACs from the host, and introduce NICs that have no PIF yet. */
async function scan(ctx: CallCtx, host: string): Promise<void> {
  const tx = ctx.tx;
  tx.get('host', host);
  // The reconciler's NIC list is refreshed too: this call's plan (and later ones) see the NICs just read.
  const nics = await ctx.facts.scanNics();
  for (const nic of nics) {
    const have = physicalPifs(tx, host, nic.device);
    for (const p of have) {
      const mac = nic.MAC.toLowerCase();
      if (tx.get('PIF', p).MAC !== mac) tx.set('PIF', p, { MAC: mac });
    }
    if (have.length === 0) introduceInternal(tx, host, { device: nic.device, MAC: nic.MAC, MTU: nic.MTU, carrier: nic.carrier });
  }
}

/** PIF.introduce (Xapi_pif.introduce). */
async function introduce(ctx: CallCtx, host: string, MAC: string, device: string, managed: boolean): Promise<string> {
  const tx = ctx.tx;
  tx.get('host', host);
  const nics = await ctx.facts.nics();
  let mac = MAC.toLowerCase();
  if (mac === '') mac = nics.find((n) => n.device === device)?.MAC.toLowerCase() ?? '';
  if (!isValidMac(mac)) throw new ApiError('MAC_INVALID', [mac]);
  if (physicalPifs(tx, host, device).length) throw new ApiError('DUPLICATE_PIF_DEVICE_NAME', [device]);
  const nic = nics.find((n) => n.device === device && n.MAC.toLowerCase() === mac);
  if (!nic) throw new ApiError('COULD_NOT_FIND_NETWORK_INTERFACE_WITH_SPECIFIED_DEVICE_NAME_AND_MAC_ADDRESS', [device, mac]);
  const info: NicInfo = { device, MAC: mac, MTU: nic.MTU, carrier: nic.carrier };
  return introduceInternal(tx, host, info, { managed });
}

/** PIF.forget (Xapi_pif.forget, forget_internal), checks in xapi's order. */
function forget(tx: Txn, self: string): void {
  const row = tx.get('PIF', self);
  if (row.management) throw new ApiError('PIF_IS_MANAGEMENT_INTERFACE', [self]);
  if (isBondSlave(tx, self) || tx.children('PIF', self, 'bond_master_of').length) throw new ApiError('PIF_ALREADY_BONDED', [self]);
  if (tx.children('PIF', self, 'VLAN_slave_of').length || Number(row.VLAN) !== -1) throw new ApiError('PIF_VLAN_STILL_EXISTS', [self]);
  if (tx.children('PIF', self, 'tunnel_transport_PIF_of').length || tx.children('PIF', self, 'tunnel_access_PIF_of').length) {
    throw new ApiError('PIF_TUNNEL_STILL_EXISTS', [self]);
  }
  assertNoProtectionEnabled(tx, self);
  if (row.managed) {
    setCulprit(tx, self);
    bringPifDown(tx, self);
  }
  destroyPif(tx, self);
}

/** PIF.db_introduce (Xapi_pif.db_introduce): a record from the given values; bond_slave_of is ignored (as xapi). */
function dbIntroduce(tx: Txn, a: ParamsOf<'PIF.db_introduce'>): string {
  const { bond_slave_of: _ignored, ...fields } = a;
  tx.get('network', fields.network);
  tx.get('host', fields.host);
  if (Number(fields.VLAN) !== -1) assertNetworkCompatibleWithTrunksOnVif(tx, fields.network);
  return tx.create('PIF', newPifRow({ ...fields, metrics: newPifMetrics(tx) }));
}

/** Implementations of the PIF class's messages (create_VLAN/destroy live in vlan.ts). */
export const pifImpls: Impls = {
  'PIF.plug': (ctx, { self }) => {
    plug(ctx.tx, self);
  },
  'PIF.unplug': (ctx, { self }) => {
    setCulprit(ctx.tx, self);
    unplugPif(ctx.tx, self, ctx.tx.get('PIF', self).host);
  },
  'PIF.reconfigure_ip': (ctx, { self, mode, IP, netmask, gateway, DNS }) => {
    reconfigureIp(ctx.tx, self, mode, IP, netmask, gateway, DNS);
  },
  'PIF.reconfigure_ipv6': (ctx, { self, mode, IPv6, gateway, DNS }) => {
    reconfigureIpv6(ctx.tx, self, mode, IPv6, gateway, DNS);
  },
  'PIF.set_primary_address_type': (ctx, { self, primary_address_type: value }) => {
    const row = ctx.tx.get('PIF', self);
    assertNoProtectionEnabled(ctx.tx, self);
    if (row.management) throw new ApiError('PIF_IS_MANAGEMENT_INTERFACE', [self]);
    if (row.primary_address_type !== value) ctx.tx.set('PIF', self, { primary_address_type: value });
  },
  'PIF.set_disallow_unplug': (ctx, { self, value }) => {
    // (No clustering here: CLUSTERING_ENABLED / OTHER_OPERATION_IN_PROGRESS on a Cluster cannot arise.)
    if (ctx.tx.get('PIF', self).disallow_unplug !== value) ctx.tx.set('PIF', self, { disallow_unplug: value });
  },
  'PIF.set_property': (ctx, { self, name, value }) => {
    setProperty(ctx.tx, self, name, value);
  },
  'PIF.scan': (ctx, { host }) => scan(ctx, host),
  'PIF.introduce': (ctx, { host, MAC, device, managed }) => introduce(ctx, host, MAC, device, managed),
  'PIF.forget': (ctx, { self }) => {
    forget(ctx.tx, self);
  },
  'PIF.db_introduce': (ctx, args) => dbIntroduce(ctx.tx, args),
  'PIF.db_forget': (ctx, { self }) => {
    ctx.tx.destroy('PIF', self);
  },
};
