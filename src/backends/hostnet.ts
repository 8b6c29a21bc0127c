// What a real host's networking is before the daemon touches it: its physical NICs (MAC, MTU,
// carrier, driver), the bonds/bridges/VLANs someone else made (listed, never adopted here), and
// the management interface — the device holding the IPv4 default route — with its IP
// configuration. First start on a real backend builds the database from this instead of the demo
// inventory, so the host keeps the address it is reached on (docs/install.md, "First start").
// Read with `ip -j` (argv only), so the same code reads the root namespace or a test's netns.
import { readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { netmaskOf } from '../../schema/values.js';
import type { IpLink, IpTool } from './tools/ip.js';
import type { ForeignDevice, HostManagement, HostNetwork, HostNic, IpConfig, NetState, Nic } from './backend.js';
import { naturalCompare } from '../collate.js';

export type { ForeignDevice, HostManagement, HostNetwork, HostNic };

/** What discovery reads through `ip` (tools/ip.ts IpTool). */
export type IpReader = Pick<IpTool, 'links' | 'addrs4Of' | 'defaultRoutes4'>;

const natural = naturalCompare;
/** Interfaces the toolstack makes for guests or that OVS makes for itself: never NICs, never foreign. */
const OWN_RE = /^(vif\d+\.\d+|tap\d+\.\d+|ovs-system|ovs-netdev)$/;

async function driverOf(l: IpLink, sysfs?: string): Promise<string> {
  if (sysfs) {
    const d = await readlink(join(sysfs, l.ifname, 'device', 'driver')).catch(() => '');
    if (d) return basename(d);
  }
  return l.linkinfo?.info_kind ?? '';
}

/** The nameservers of a resolv.conf, comma-separated as PIF.DNS has them. */
export async function resolvDns(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => !!x && /^[0-9.]+$/.test(x))
    .join(',');
}

/**
 * Reads the host: `ip -j -d link show`, `ip -j -4 addr show dev D`, `ip -j -4 route show default`.
 * `nics` are the backend's NICs (the same set PIF.scan sees); `state` is what the backend already
 * reads (OVS bridges know their ports, which `ip` does not show); `sysfs` (e.g. /sys/class/net)
 * gives each NIC's driver.
 */
export async function discoverHost(ip: IpReader, o: { nics: Nic[]; sysfs?: string; resolvConf?: string; state?: NetState }): Promise<HostNetwork> {
  const links = await ip.links();
  const byName = new Map(links.map((l) => [l.ifname, l]));
  const nicSet = new Set(o.nics.map((n) => n.device));
  const nics: HostNic[] = [];
  for (const n of o.nics) {
    const l = byName.get(n.device);
    nics.push({ ...n, MAC: n.MAC.toLowerCase(), driver: l ? await driverOf(l, o.sysfs) : '' });
  }
  const foreign: ForeignDevice[] = [];
  for (const l of links) {
    const kind = l.linkinfo?.info_kind;
    if (nicSet.has(l.ifname) || l.ifname === 'lo' || OWN_RE.test(l.ifname) || !kind || kind === 'veth') continue;
    const lower =
      kind === 'vlan'
        ? l.link
          ? [l.link]
          : []
        : links
            .filter((x) => x.master === l.ifname)
            .map((x) => x.ifname)
            .sort(natural);
    foreign.push({ device: l.ifname, kind, lower });
  }
  nics.sort((a, b) => natural(a.device, b.device));
  foreign.sort((a, b) => natural(a.device, b.device));

  const routes = await ip.defaultRoutes4();
  const route = routes.find((r) => r.dev);
  if (!route?.dev) return { nics, foreign };
  const dev = route.dev;
  const addrs = await ip.addrs4Of(dev);
  const inet = (addrs[0]?.addr_info ?? []).filter((a) => (a.family === undefined || a.family === 'inet') && !a.secondary);
  const a = inet[0];
  const ipc: IpConfig = {
    mode: a?.dynamic ? 'DHCP' : 'Static',
    address: a?.local ?? '',
    netmask: a ? netmaskOf(a.prefixlen) : '',
    gateway: route.gateway ?? '',
    dns: o.resolvConf ? await resolvDns(o.resolvConf) : '',
  };
  const m: HostManagement = { device: dev, ip: ipc };
  const link = byName.get(dev);
  const kind = link?.linkinfo?.info_kind;
  if (nics.some((n) => n.device === dev)) {
    m.nic = dev;
  } else if (kind === 'bridge' || kind === 'openvswitch' || o.state?.bridges[dev]) {
    const br = o.state?.bridges[dev];
    const ports = br?.uplink?.kind === 'nic' ? [br.uplink.device] : links.filter((x) => x.master === dev).map((x) => x.ifname);
    const nicPorts = ports.filter((p) => nics.some((n) => n.device === p));
    if (br?.uplink && br.uplink.kind !== 'nic') m.unadoptable = `bridge ${dev} is carried by ${br.uplink.kind} ${br.uplink.name}`;
    else if (nicPorts.length === 1 && ports.length === 1) {
      m.nic = nicPorts[0];
      m.bridge = dev;
    } else m.unadoptable = `bridge ${dev} has ${ports.length ? `ports ${ports.join(', ')}` : 'no port'}, not exactly one NIC`;
  } else {
    m.unadoptable = `${dev} is a ${kind ?? 'device'} xenapi-netd did not make${kind === 'vlan' || kind === 'bond' ? ' (describe it with --inventory: docs/install.md)' : ''}`;
  }
  return { nics, foreign, management: m };
}
