// The interface-reconfigure backend: the only way the daemon touches a host's networking.
// It knows bridges, NICs, bonds, VLANs, tunnels, IPs and VIF ports; nothing here knows
// a XenAPI record. The reconciler turns the database into a desired NetState, diffs it
// against read(), and hands apply() an ordered plan.

/** A NIC the host has (PIF.scan, the inventory a pool slave reports). */
export interface Nic {
  device: string;
  MAC: string;
  MTU: number;
  carrier: boolean;
  /** Link speed in Mbit/s, when the backend knows it. */
  speed?: number;
  /** Full duplex, when the backend knows it. */
  duplex?: boolean;
}

/** XenAPI's bond modes (Bond.mode). */
export type BondMode = 'balance-slb' | 'active-backup' | 'lacp';

/** What carries a bridge's traffic off the host. */
export type Uplink =
  | { kind: 'nic'; device: string }
  | { kind: 'bond'; name: string; members: string[]; mode: BondMode; properties: Record<string, string>; mac: string }
  | { kind: 'tunnel'; name: string; protocol: 'gre' | 'vxlan'; remote: string; key: string; transport: string };

/** IPv4 configuration carried by a bridge device (the management IP sits on its bridge). */
export interface IpConfig {
  mode: 'DHCP' | 'Static';
  address: string;
  netmask: string;
  gateway: string;
  dns: string;
}

/** One bridge as the host should have it. */
export interface Bridge {
  name: string;
  MTU: number;
  /** A VLAN bridge (OVS fake bridge; ifcfg VLAN device + bridge) on `parent` with `tag`. */
  vlan?: { parent: string; tag: number };
  /** The bridge device's own MAC where no uplink gives it one: a tunnel access PIF's (nm.ml create_bridges' bridge_mac). */
  mac?: string;
  uplink?: Uplink;
  ip?: IpConfig;
  /** VIF ports (vif<domid>.<device>) attached to the bridge, sorted. */
  vifs: string[];
}

/** The whole host: bridges by name. Deterministic: equal states serialise equally. */
export interface NetState {
  bridges: Record<string, Bridge>;
}

/** One step of a plan; every step has an exact inverse (see invert in plan.ts). */
export type Step =
  | { op: 'bridge.add'; bridge: string; MTU: number; vlan?: { parent: string; tag: number }; mac?: string }
  | { op: 'bridge.del'; bridge: string; MTU: number; vlan?: { parent: string; tag: number }; mac?: string }
  | { op: 'uplink.add'; bridge: string; uplink: Uplink }
  | { op: 'uplink.del'; bridge: string; uplink: Uplink }
  | { op: 'ip.set'; bridge: string; ip: IpConfig }
  | { op: 'ip.clear'; bridge: string; ip: IpConfig }
  | { op: 'vif.add'; bridge: string; vif: string }
  | { op: 'vif.del'; bridge: string; vif: string };

/** Thrown by apply(): `step` is the index that failed; steps before it were undone. */
export class BackendError extends Error {
  constructor(
    readonly step: number,
    message: string,
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

/** A host configuration file a backend leaves alone, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

/** The networking a host's configuration files describe, for first start to adopt (ifcfg). */
export interface Adoption {
  state: NetState;
  skipped: SkippedFile[];
}

/** A backend: simulated, openvswitch, ifcfg. */
export interface Backend {
  readonly name: string;
  /** The host's physical NICs. */
  nics(): Promise<Nic[]>;
  /** The networking the host has now. */
  read(): Promise<NetState>;
  /** Applies the plan all or nothing: on failure, undoes what it applied and throws BackendError. */
  apply(plan: Step[]): Promise<void>;
  /** The host's networking as found (NICs with drivers, foreign devices, management); absent when the backend cannot see a host (simulated, a file sandbox). */
  discover?(): Promise<HostNetwork>;
  /** The address a DHCP client obtained on `bridge` (PIF.IP/netmask/gateway of a DHCP PIF follow it); undefined without a lease. */
  dhcpLease?(bridge: string): Promise<{ address: string; netmask: string; gateway: string } | undefined>;
  /** What first start adopts when the host keeps its networking in files this backend owns (ifcfg): the state they describe and the files left alone. */
  adopt?(): Promise<Adoption>;
  /** Bond members with link up, by bond name (Bond.links_up). */
  bondLinksUp(bond: string): Promise<number>;
  /** True when the backend gives a bridge device the MAC its state names (Bridge.mac); for others the reconciler leaves Bridge.mac out. */
  readonly bridgeMacs?: boolean;
  /** Releases processes and handles the backend holds. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------- the host as found (hostnet.ts)

/** A physical NIC with the driver that owns it ('' when unknown). */
export interface HostNic extends Nic {
  driver: string;
}

/** A device the daemon did not make and leaves alone. */
export interface ForeignDevice {
  device: string;
  /** bond | bridge | vlan | openvswitch | macvlan | … (ip's info_kind). */
  kind: string;
  /** Its ports or members (bonds, Linux bridges), and for a VLAN its parent. */
  lower: string[];
}

/** The management interface as the host has it now. */
export interface HostManagement {
  /** The device holding the default route (a NIC, a bridge, a bond, a VLAN). */
  device: string;
  /** The physical NIC under it, when the path from the device to a NIC is a NIC or a bridge with one NIC port. */
  nic?: string;
  /** The bridge that holds the IP, when `device` is a bridge over `nic`. */
  bridge?: string;
  ip: IpConfig;
  /** Why the management interface cannot be adopted as is (bond, VLAN, a bridge with several ports). */
  unadoptable?: string;
}

/** The host's networking before the daemon: NICs, foreign devices, management. */
export interface HostNetwork {
  nics: HostNic[];
  foreign: ForeignDevice[];
  management?: HostManagement;
}
