// First start on a host whose networking lives in files the backend owns (ifcfg; seed 003, Oracle
// VM's hand-made bond + VLAN bridges): the layout those files describe becomes the database's —
// NICs on their bridges, bonds, VLANs on NICs or bonds, the IP configuration — so the reconcile
// that follows first start finds nothing to change. Files the backend does not own are reported
// by the caller and left alone; what the backend owns but XenAPI cannot record is reported here.
import type { Adoption, Bridge, HostManagement, IpConfig } from '../backends/backend.js';
import type { InventoryBond, InventoryIp, InventoryNic, InventoryVlan } from './startup.js';

/** The first-start layout taken from the host's files, with what the operator should read about it. */
export interface AdoptedLayout {
  inventory: InventoryNic[];
  bonds: InventoryBond[];
  vlans: InventoryVlan[];
  /** One line per adopted bridge (info). */
  adopted: string[];
  /** Bridges the files describe that cannot be recorded (warn: the first reconcile removes them). */
  problems: string[];
}

function ipOf(ip: IpConfig): InventoryIp {
  return { mode: ip.mode, address: ip.address, netmask: ip.netmask, gateway: ip.gateway, dns: ip.dns };
}

/**
 * The layout `a` describes over the host's NICs, or undefined when the files describe no bridge.
 * Management is the adopted bridge holding the default route (`mgmt`, when discovery saw one),
 * else the first with a gateway, else the first with an IP.
 */
export function adoptLayout(a: Adoption, nics: InventoryNic[], mgmt?: HostManagement): AdoptedLayout | undefined {
  const bridges = Object.values(a.state.bridges);
  if (!bridges.length) return undefined;
  const inventory = nics.map((n) => ({ ...n }));
  const bonds: InventoryBond[] = [];
  const vlans: InventoryVlan[] = [];
  const adopted: string[] = [];
  const problems: string[] = [];
  const isNic = (d: string) => inventory.some((n) => n.device === d);
  const withIp = bridges.filter((b) => b.ip);
  const manager = withIp.find((b) => b.name === mgmt?.device) ?? withIp.find((b) => b.ip?.gateway) ?? withIp[0];
  const ipText = (b: Bridge) =>
    b.ip ? `, ${b.ip.mode}${b.ip.address ? ` ${b.ip.address}/${b.ip.netmask}` : ''}${b.ip.gateway ? ` via ${b.ip.gateway}` : ''}` : '';
  const extra = (b: Bridge) => ({
    ...(b.ip ? { ip: ipOf(b.ip) } : {}),
    ...(b === manager ? { management: true } : {}),
    // The bridge keeps the MTU its files give it (the network's MTU is what the bridge gets).
    ...(b.MTU !== 1500 ? { networkMTU: b.MTU } : {}),
  });
  /** The NIC or bond a VLAN's parent bridge is carried by. */
  const carrier = new Map<string, string>();

  for (const b of bridges) {
    const u = b.uplink;
    if (b.vlan || !u) continue;
    if (u.kind === 'nic') {
      if (!isNic(u.device)) {
        problems.push(`bridge ${b.name}: its port ${u.device} is not a NIC of this host`);
        continue;
      }
      Object.assign(
        inventory.find((n) => n.device === u.device)!,
        { bridge: b.name, plugged: true },
        extra(b),
      );
      carrier.set(b.name, u.device);
      adopted.push(`${u.device} on bridge ${b.name}${ipText(b)}`);
    } else if (u.kind === 'bond') {
      const missing = u.members.filter((m) => !isNic(m));
      if (missing.length) {
        problems.push(`bond ${u.name} on bridge ${b.name}: ${missing.join(', ')} not NICs of this host`);
        continue;
      }
      const mac = u.mac ? { MAC: u.mac } : {};
      bonds.push({ bond: u.name, members: [...u.members], mode: u.mode, properties: { ...u.properties }, bridge: b.name, ...mac, ...extra(b) });
      carrier.set(b.name, u.name);
      adopted.push(`bond ${u.name} (${u.members.join('+')}, ${u.mode}) on ${b.name}${ipText(b)}`);
    } else {
      problems.push(`bridge ${b.name}: tunnel ${u.name} (tunnels are made with tunnel.create)`);
    }
  }
  for (const b of bridges) {
    if (!b.vlan) {
      if (!b.uplink) problems.push(`bridge ${b.name} has no port (an internal network's bridge exists while a VM uses it)`);
      continue;
    }
    const on = carrier.get(b.vlan.parent);
    if (!on) {
      problems.push(`VLAN ${b.vlan.tag} bridge ${b.name}: its parent ${b.vlan.parent} was not adopted`);
      continue;
    }
    vlans.push({ vlan: b.vlan.tag, on, bridge: b.name, ...extra(b) });
    adopted.push(`VLAN ${b.vlan.tag} on ${on}, bridge ${b.name}${ipText(b)}`);
  }
  return { inventory, bonds, vlans, adopted, problems };
}
