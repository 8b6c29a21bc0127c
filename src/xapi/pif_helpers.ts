// PIF kinds and topology, as xapi_pif_helpers.ml decides them: every PIF has one kind, and
// many checks look at the list of kinds from a PIF down to its root.
import type { Ref } from '../../schema/index.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type View } from '../store/store.js';
import net from 'node:net';

/** A valid dotted-quad IPv4 address (xapi: Unixext.domain_of_addr = PF_INET). */
export function isValidIPv4(s: string): boolean {
  return net.isIPv4(s);
}
/** A valid IPv6 address (PF_INET6). */
export function isValidIPv6(s: string): boolean {
  return net.isIPv6(s);
}
/** A valid IPv6 `addr/prefixlen` with 0 ≤ prefixlen ≤ 128 (xapi's parse_cidr `ipv6). */
export function isValidCidr6(s: string): boolean {
  const i = s.lastIndexOf('/');
  if (i < 0) return false;
  const len = s.slice(i + 1);
  return isValidIPv6(s.slice(0, i)) && /^\d+$/.test(len) && Number(len) <= 128;
}

/** The kinds a PIF can be. */
export type PifKind = 'Tunnel_access' | 'VLAN_untagged' | 'Network_sriov_logical' | 'Bond_master' | 'Physical';

/** The kind of a PIF, in xapi's priority order. */
export function pifKind(db: View, pif: Ref<'PIF'>): PifKind {
  const row = db.get('PIF', pif);
  if (db.children('PIF', pif, 'tunnel_access_PIF_of').length) return 'Tunnel_access';
  if (row.VLAN_master_of !== NULL_REF) return 'VLAN_untagged';
  if (Array.isArray(row.sriov_logical_PIF_of) && row.sriov_logical_PIF_of.length) return 'Network_sriov_logical';
  if (db.children('PIF', pif, 'bond_master_of').length) return 'Bond_master';
  if (row.physical) return 'Physical';
  throw new ApiError('INTERNAL_ERROR', ['Cannot calculate PIF type']);
}

/** Kinds from the PIF down to its root (tunnel → transport, VLAN → tagged PIF). */
export function topology(db: View, pif: Ref<'PIF'>): PifKind[] {
  const out: PifKind[] = [];
  let cur: string | undefined = pif;
  for (let guard = 0; cur && guard < 8; guard++) {
    const k = pifKind(db, cur);
    out.push(k);
    if (k === 'Tunnel_access') cur = db.get('tunnel', db.children('PIF', cur, 'tunnel_access_PIF_of')[0]).transport_PIF;
    else if (k === 'VLAN_untagged') cur = db.get('VLAN', db.get('PIF', cur).VLAN_master_of).tagged_PIF;
    else cur = undefined;
  }
  return out;
}

/** True if the PIF is a slave of an existing bond. */
export function isBondSlave(db: View, pif: Ref<'PIF'>): boolean {
  const b = db.get('PIF', pif).bond_slave_of;
  return b !== NULL_REF && db.find('Bond', b) !== undefined;
}

/** The host's management PIF, if any (the first with management = true). */
export function managementPif(db: View, host: Ref<'host'>): string | undefined {
  // host.PIFs comes from the relation index: no scan of every PIF in the pool.
  return db.children('host', host, 'PIFs').find((ref) => db.get('PIF', ref).management === true);
}

/** PIFs of `host` on `network`. */
export function pifsOn(db: View, host: Ref<'host'>, network: Ref<'network'>): string[] {
  // Scoped to the host: a pool-wide network's PIFs change with every other host's sync, and a
  // transaction that read all of them would have to run again (Store.write).
  return db.children('network', network, 'PIFs', { field: 'host', value: host });
}
