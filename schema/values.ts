// Value types: what a string or int that can reach a host command may hold. The datamodel names
// them on fields (FieldDef.vt), on other_config keys that reach the host (OTHER_CONFIG_VT) and on
// message parameters; the API checks them where values enter (api/check.ts checkValue), and the
// host-tool wrappers (src/backends/tools/) check the same predicates again before building argv,
// so a value that slipped past one layer still cannot become a command.
//
// Each predicate is pure and shared; each type names the XenAPI error xapi raises for it.

import net from 'node:net';
import type { ErrorCode } from './errors.js';

/** The value types of the datamodel (docs/security.md "Validation types"). */
export type ValueType =
  /** Dotted-quad IPv4 address, or '' (PIF.IP, gateway; xapi Helpers.assert_is_valid_ip `ipv4). */
  | 'ipv4'
  /** IPv4 netmask or '' (dotted quad with contiguous ones; xapi accepts any IPv4 text here, we also take a prefix length 0-32). */
  | 'netmask'
  /** IPv6 address or ''. */
  | 'ipv6'
  /** IPv6 `addr/prefixlen` (0-128) — each element of PIF.IPv6. */
  | 'ipv6cidr'
  /** Comma separated IPv4/IPv6 addresses, or '' (PIF.DNS). */
  | 'dnslist'
  /** xx:xx:xx:xx:xx:xx (xapi Helpers.is_valid_MAC), or '' where the field allows (generated MACs). */
  | 'mac'
  /** A Linux/OVS interface name used as a bridge: 1-15 of [A-Za-z0-9_.-], not starting with '-' or '.'
   * (Linux refuses '/', ':' and whitespace; shell metacharacters are refused too because initscripts
   * source ifcfg files, and a leading '-' would read as an option to every tool). */
  | 'bridge'
  /** A device name (PIF.device, bond/VLAN/tunnel device): same rules as a bridge. */
  | 'device'
  /** A VLAN tag: -1 (none) or 0-4094 (xapi_vlan assert_valid_VLAN_tag). */
  | 'vlan'
  /** An MTU: 68-65535 octets (what Linux accepts on an Ethernet device). */
  | 'mtu'
  /** An other_config / properties key or value that reaches a host tool: printable, no newline or control character. */
  | 'hosttext'
  /** A boolean flag as xapi reads other_config ('true' / 'false'). */
  | 'flag';

/** Longest interface name Linux accepts (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/**
 * The numeric ranges of the value types, inclusive. The predicates below read them, and the
 * boundary tests (test/schema/boundaries.test.ts) probe every entry point at min-1, min, max, max+1.
 */
export const RANGES = {
  /** A VLAN tag on a VLAN or a VIF trunk (xapi_vlan assert_valid_VLAN_tag); PIF.VLAN adds -1 for "untagged". */
  vlanTag: { min: 0, max: 4094 },
  /** An MTU Linux accepts on an Ethernet device. */
  mtu: { min: 68, max: 65535 },
  /** An IPv4 prefix length. */
  prefix4: { min: 0, max: 32 },
  /** An IPv6 prefix length. */
  prefix6: { min: 0, max: 128 },
  /** Interface name length in bytes. */
  ifname: { min: 1, max: IFNAME_MAX },
} as const;

const CONTROL = /[\x00-\x1f\x7f]/;

/** An interface name Linux (dev_valid_name) and OVS accept, that no tool or shell can read as anything else. */
export function isIfName(s: string): boolean {
  return typeof s === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(s);
}

/** A dotted-quad IPv4 address (Node's parser: four decimal octets, no leading zeros). */
export function isIPv4(s: string): boolean {
  return typeof s === 'string' && net.isIPv4(s);
}

/** An IPv6 address (no zone id, which no host tool takes from us). */
export function isIPv6(s: string): boolean {
  return typeof s === 'string' && !s.includes('%') && net.isIPv6(s);
}

/** An IPv6 `addr/prefixlen` with 0 ≤ prefixlen ≤ 128 (xapi's parse_cidr `ipv6). */
export function isIPv6Cidr(s: string): boolean {
  if (typeof s !== 'string') return false;
  const i = s.lastIndexOf('/');
  if (i < 0) return false;
  const len = s.slice(i + 1);
  return isIPv6(s.slice(0, i)) && /^\d{1,3}$/.test(len) && Number(len) <= RANGES.prefix6.max;
}

/** A prefix length 0-32 as decimal text. */
export function isPrefix4(s: string): boolean {
  return typeof s === 'string' && /^(?:\d|[12]\d|3[0-2])$/.test(s);
}

/** A dotted-quad IPv4 address (checked by the caller) as a 32-bit number. */
export function ip4Number(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** The 32-bit mask of a prefix length 0-32. */
export function mask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** An IPv4 netmask: a dotted quad of contiguous ones, or a prefix length. */
export function isNetmask(s: string): boolean {
  if (isPrefix4(s)) return true;
  if (!isIPv4(s)) return false;
  const inv = ~ip4Number(s) >>> 0;
  return (inv & (inv + 1)) === 0;
}

/** The prefix length of a netmask (dotted quad or prefix text). */
export function prefixOf(netmask: string): number {
  if (isPrefix4(netmask)) return Number(netmask);
  return netmask.split('.').reduce(
    (n, o) =>
      n +
      (Number(o) >>> 0)
        .toString(2)
        .split('')
        .filter((c) => c === '1').length,
    0,
  );
}

/** The dotted-quad netmask of a prefix length. */
export function netmaskOf(prefix: number): string {
  const m = mask4(prefix);
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

/** xapi's Helpers.is_valid_MAC: six colon-separated pairs of hex digits. */
export function isMac(s: string): boolean {
  return typeof s === 'string' && /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s);
}

/** A comma separated list of IP addresses (either family), or ''. */
export function isDnsList(s: string): boolean {
  if (typeof s !== 'string') return false;
  if (s === '') return true;
  return s.split(',').every((x) => isIPv4(x.trim()) || isIPv6(x.trim()));
}

/** A VLAN tag: -1 (untagged) or 0-4094. */
export function isVlanTag(n: unknown): boolean {
  const v = typeof n === 'bigint' ? Number(n) : n;
  return v === -1 || isVlanTagged(v);
}

/** A tag a VLAN or a VIF trunk may carry: an integer 0-4094 (a bigint as XML-RPC ints may arrive). */
export function isVlanTagged(n: unknown): boolean {
  const v = typeof n === 'bigint' ? Number(n) : n;
  return typeof v === 'number' && Number.isInteger(v) && v >= RANGES.vlanTag.min && v <= RANGES.vlanTag.max;
}

/** An MTU Linux accepts on an Ethernet device. */
export function isMtu(n: unknown): boolean {
  const v = typeof n === 'bigint' ? Number(n) : typeof n === 'string' && /^\d{1,6}$/.test(n) ? Number(n) : n;
  return typeof v === 'number' && Number.isInteger(v) && v >= RANGES.mtu.min && v <= RANGES.mtu.max;
}

/**
 * The MTU a PIF's bridge gets (xapi's nm.ml determine_mtu): the PIF's other_config:mtu when it
 * is a valid MTU (anything else is ignored), else its network's MTU.
 */
export function determineMtu(otherConfig: Readonly<Record<string, string>> | undefined, networkMtu: number): number {
  const n = Number(otherConfig?.mtu);
  return isMtu(n) ? n : networkMtu;
}

/** Text that may travel as one argv element or one batch token's value: no newline or control character. */
export function isHostText(s: string): boolean {
  return typeof s === 'string' && !CONTROL.test(s);
}

/** Whether `v` is a valid value of `vt` ('' allowed for the string types: it means "not set"). */
export function isValid(vt: ValueType, v: unknown): boolean {
  switch (vt) {
    case 'ipv4':
      return v === '' || isIPv4(v as string);
    case 'netmask':
      return v === '' || isNetmask(v as string);
    case 'ipv6':
      return v === '' || isIPv6(v as string);
    case 'ipv6cidr':
      return v === '' || isIPv6Cidr(v as string);
    case 'dnslist':
      return isDnsList(v as string);
    case 'mac':
      return v === '' || isMac(v as string);
    case 'bridge':
    case 'device':
      return v === '' || isIfName(v as string);
    case 'vlan':
      return isVlanTag(v);
    case 'mtu':
      return isMtu(v);
    case 'hosttext':
      return isHostText(v as string);
    case 'flag':
      return v === 'true' || v === 'false';
  }
}

/**
 * The XenAPI error for a bad value of `vt` in `field`, as xapi raises it:
 * INVALID_IP_ADDRESS_SPECIFIED [field], INVALID_CIDR_ADDRESS_SPECIFIED [field], MAC_INVALID [mac],
 * VLAN_TAG_INVALID [tag], otherwise INVALID_VALUE [field, value].
 */
export function errorFor(vt: ValueType, field: string, v: unknown): [ErrorCode, string[]] {
  switch (vt) {
    case 'ipv4':
    case 'netmask':
    case 'ipv6':
      return ['INVALID_IP_ADDRESS_SPECIFIED', [field]];
    case 'ipv6cidr':
      return ['INVALID_CIDR_ADDRESS_SPECIFIED', [field]];
    case 'mac':
      return ['MAC_INVALID', [String(v)]];
    case 'vlan':
      return ['VLAN_TAG_INVALID', [String(v)]];
    default:
      return ['INVALID_VALUE', [field, String(v)]];
  }
}

/** A GRE/VXLAN key: a decimal or 0x-hex number below 2^32 (GRE's key field; VXLAN uses 24 bits of it), or 'flow'. */
export function isTunnelKey(s: string): boolean {
  if (s === 'flow') return true;
  return typeof s === 'string' && /^(?:0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(s) && Number(s) < 2 ** 32;
}

/**
 * other_config keys whose value reaches a host command unfiltered, by class, with their type:
 * checked on every write (INVALID_VALUE [other_config:key, value]). Keys xapi itself reads
 * leniently are not refused, to stay compatible, but read through their type by the reconciler
 * (desired.ts): PIF/network `mtu` that is not a valid MTU is ignored as xapi's nm.ml
 * determine_mtu ignores a non-number, `defaultroute` / `peerdns` count only when 'true'.
 */
export const OTHER_CONFIG_VT: Record<string, Record<string, ValueType | 'tunnelkey'>> = {};

/** Checks every other_config entry of `cls` that reaches the host; the first bad one as [code, params], or undefined. */
export function otherConfigProblem(cls: string, oc: Record<string, unknown>): [ErrorCode, string[]] | undefined {
  const known = OTHER_CONFIG_VT[cls];
  if (!known) return undefined;
  for (const k of Object.keys(oc ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(known, k)) continue;
    const vt = known[k];
    const v = oc[k];
    const ok = vt === 'tunnelkey' ? v === '' || isTunnelKey(v as string) : isValid(vt, v);
    if (!ok) return ['INVALID_VALUE', [`other_config:${k}`, String(v)]];
  }
  return undefined;
}
