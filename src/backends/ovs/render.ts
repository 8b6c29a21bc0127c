// A plan → the commands that realise it on Open vSwitch (pure: nothing runs here; unit-tested
// without root in test/backends/ovs-render.test.ts):
//  - every bridge/port/bond/VLAN/tunnel/VIF step becomes part of ONE ovs-vsctl transaction
//    (atomic in OVSDB: a failing command aborts the whole `--` chain), so a bond takes over its
//    members' ports in the same commit that deletes them: members are never set down, and the
//    31 s bond_updelay never hits the second member (cut in two only when an LACP bond's members
//    are re-used, see below);
//  - then one `ip -batch` brings new bridge devices up and (re)applies addresses and the gateway
//    (the internal port's tap is recreated with its bridge, so its IP must be re-added).
// The state between steps follows plan.ts's applyStep, the one step semantics.

import type { IpConfig, NetState, Step } from '../backend.js';
import { applyStep, PlanStepError } from '../plan.js';
import { ipLine, type IpCmd, type IpNeigh } from '../tools/ip.js';
import { VsctlTxn } from '../tools/ovs.js';
import { ip4Number, isIPv4, isMac, mask4, prefixOf } from '../../../schema/values.js';
import { natural, renderBond } from './bond.js';
import { IP_KEY, MAC_KEY, TRANSPORT_KEY } from './parse.js';

/** Settings that shape the commands. */
export interface RenderOptions {
  /** datapath_type of every real bridge ('netdev': userspace; 'system': the kernel module). */
  datapathType: string;
  /** VIF ports as OVS internal ports or as existing system devices. */
  vifType: 'internal' | 'system';
}

/** What a plan renders to. */
export interface Rendered {
  /** The ovs-vsctl commands, their steps, and the cuts between transactions. */
  txn: VsctlTxn;
  /** Interfaces that must come up with no error and a valid ofport, with the step that made them. */
  touched: Map<string, number>;
  /** `ip -batch` commands and the step each belongs to. */
  ip: IpCmd[];
  ipStep: number[];
  /** NICs to bring up before the transaction (never down: no updelay). */
  nicsUp: string[];
  /** The state after the plan. */
  target: NetState;
  /** The MAC the transaction gives each bridge device it sets one for (the last it sets). */
  deviceMacs: Map<string, string>;
}

/**
 * For an uplink.del of a bond at `i`: the index of a later uplink.add of the same bond (name, bridge,
 * member set) with nothing in between touching that bridge, so the change can be made in place.
 * Not from LACP to another mode: a member LACP disabled keeps may_enable=false until it is re-added.
 */
export function inPlaceBondChange(plan: Step[], i: number): number | undefined {
  const del = plan[i];
  if (del.op !== 'uplink.del' || del.uplink.kind !== 'bond') return undefined;
  const old = del.uplink;
  for (let j = i + 1; j < plan.length; j++) {
    const st = plan[j];
    if (st.bridge !== del.bridge || st.op.startsWith('ip.') || st.op.startsWith('vif.')) continue;
    if (st.op !== 'uplink.add') return undefined;
    const u = st.uplink;
    if (u.kind !== 'bond' || u.name !== old.name) return undefined;
    if ([...u.members].sort(natural).join() !== [...old.members].sort(natural).join()) return undefined;
    if (old.mode === 'lacp' && u.mode !== 'lacp') return undefined;
    return j;
  }
  return undefined;
}

/**
 * Turns a plan into one ovs-vsctl transaction (or two) plus one ip batch; throws PlanStepError if a
 * step does not fit. `neigh`: the kernel's IPv4 neighbours before the plan, carried over to a new
 * bridge device that takes an address from a device the plan deletes (see setIp below).
 */
export function render(before: NetState, plan: Step[], o: RenderOptions, nicMacs: Map<string, string>, neigh: IpNeigh[] = []): Rendered {
  const tx = new VsctlTxn();
  const touched = new Map<string, number>();
  const nicsUp = new Set<string>();
  const recreated = new Map<string, number>();
  const ipOps: { step: number; bridge: string; kind: 'set' | 'clear'; ip: IpConfig }[] = [];
  const inPlace = new Set<number>();
  const deviceMacs = new Map<string, string>();
  let s = before;
  plan.forEach((st, i) => {
    const cur = s.bridges[st.bridge];
    let next: NetState;
    try {
      next = applyStep(s, st);
    } catch (e) {
      throw new PlanStepError(i, `plan step ${i}: ${(e as Error).message}`);
    }
    tx.at(i);
    switch (st.op) {
      case 'bridge.add':
        if (st.vlan) tx.addFakeBr(st.bridge, st.vlan.parent, st.vlan.tag);
        else tx.addBr(st.bridge, o.datapathType);
        tx.setMtu(st.bridge, st.MTU);
        if (st.mac && !st.vlan) {
          // A bridge no uplink gives a MAC (a tunnel's) takes its PIF's, as networkd's bridge_mac; kept in external_ids for read().
          tx.setBridgeHwaddr(st.bridge, st.mac);
          deviceMacs.set(st.bridge, st.mac.toLowerCase());
          tx.setExternalId(st.bridge, MAC_KEY, st.mac);
        }
        touched.set(st.bridge, i);
        recreated.set(st.bridge, i);
        break;
      case 'bridge.del':
        tx.delBr(st.bridge);
        for (const n of Object.keys(s.bridges)) if (!next.bridges[n]) recreated.set(n, i);
        break;
      case 'uplink.add': {
        const u = st.uplink;
        const mtu = cur?.MTU;
        // The bridge device takes its uplink's MAC (xapi's bridge_mac), as networkd's other-config:hwaddr:
        // peers' ARP caches stay valid when the management IP moves to a new bridge.
        const hwaddr = u.kind === 'nic' ? nicMacs.get(u.device) : u.kind === 'bond' ? u.mac : undefined;
        if (hwaddr && cur && !cur.vlan) {
          tx.setBridgeHwaddr(st.bridge, hwaddr);
          deviceMacs.set(st.bridge, hwaddr.toLowerCase());
        }
        if (u.kind === 'nic') {
          tx.addPort(st.bridge, u.device);
          if (mtu) tx.setMtu(u.device, mtu);
          touched.set(u.device, i);
          nicsUp.add(u.device);
        } else if (u.kind === 'bond') {
          // An active-backup bond starts on (and prefers) the member whose MAC it carries: the peers'
          // switches learned that MAC on that member's port, and frames reaching the other member
          // are dropped until the host sends through it (docs/backends.md, "The active member").
          const primary = u.members.find((m) => nicMacs.get(m)?.toLowerCase() === u.mac.toLowerCase());
          const r = renderBond(u, primary);
          if (inPlace.has(i)) {
            // Same bond, same members: rewrite its columns (whole maps, so no stale keys survive) and
            // keep the Interfaces, so no member is re-opened and none waits for bond_updelay.
            for (const m of u.members) tx.removeOtherConfig(m, ['lacp-aggregation-key', 'lacp-actor-key']);
          } else if (u.members.length >= 2) tx.addBond(st.bridge, u.name, u.members);
          else tx.addOneMemberBond(st.bridge, u.name, u.members[0] ?? u.name);
          tx.setBondPort(u.name, r.port);
          for (const m of u.members) {
            tx.setMember(m, r.memberOther, mtu);
            touched.set(m, i);
            nicsUp.add(m);
          }
        } else {
          tx.addPort(st.bridge, u.name);
          tx.setTunnel(u.name, u.protocol, u.remote, u.key, { [TRANSPORT_KEY]: u.transport });
          touched.set(u.name, i);
        }
        break;
      }
      case 'uplink.del': {
        const again = inPlaceBondChange(plan, i);
        if (again !== undefined) inPlace.add(again);
        else tx.delPort(st.bridge, st.uplink.kind === 'nic' ? st.uplink.device : st.uplink.name);
        // A member LACP disabled stays may_enable=false when re-added in the same transaction:
        // commit the removal of an LACP bond before its NICs are used again.
        const old = st.uplink;
        if (
          again === undefined &&
          old.kind === 'bond' &&
          old.mode === 'lacp' &&
          plan
            .slice(i + 1)
            .some(
              (n) =>
                n.op === 'uplink.add' &&
                (n.uplink.kind === 'nic' ? [n.uplink.device] : n.uplink.kind === 'bond' ? n.uplink.members : []).some((m) => old.members.includes(m)),
            )
        ) {
          tx.cut();
        }
        break;
      }
      case 'vif.add':
        tx.addPort(st.bridge, st.vif);
        if (o.vifType === 'internal') tx.setInternal(st.vif);
        touched.set(st.vif, i);
        break;
      case 'vif.del':
        tx.delPort(st.bridge, st.vif);
        break;
      case 'ip.set':
        if (cur) tx.setExternalId(st.bridge, IP_KEY, JSON.stringify(st.ip));
        ipOps.push({ step: i, bridge: st.bridge, kind: 'set', ip: st.ip });
        break;
      case 'ip.clear':
        if (cur) tx.removeExternalId(st.bridge, IP_KEY);
        ipOps.push({ step: i, bridge: st.bridge, kind: 'clear', ip: st.ip });
        break;
    }
    s = next;
  });
  const target = s;

  // A VLAN bridge's device takes the VLAN PIF's MAC, which is its tagged PIF's (xapi's VLAN.create
  // copies it; xcp-networkd sets `interface <vlan bridge> MAC=`): the MAC of the parent bridge's
  // NIC or bond. Set when the VLAN bridge is (re)created or its parent gets a new uplink, so a VLAN
  // moved by Bond.destroy keeps answering with the PIF's MAC rather than a random one.
  const newUplink = new Map<string, number>();
  plan.forEach((st, i) => {
    if (st.op === 'uplink.add') newUplink.set(st.bridge, i);
  });
  for (const [n, b] of Object.entries(target.bridges)) {
    if (!b.vlan) continue;
    const at = recreated.get(n) ?? newUplink.get(b.vlan.parent);
    if (at === undefined) continue;
    const u = target.bridges[b.vlan.parent]?.uplink;
    const hw = u?.kind === 'nic' ? nicMacs.get(u.device) : u?.kind === 'bond' ? u.mac : undefined;
    if (!hw) continue;
    tx.at(Math.max(at, newUplink.get(b.vlan.parent) ?? at));
    tx.setInterfaceMac(n, hw);
    deviceMacs.set(n, hw.toLowerCase());
  }

  // The ip batch: against the final devices only. A recreated bridge device is new (no IP, down).
  const ip: IpCmd[] = [];
  const ipStep: number[] = [];
  const push = (i: number, c: IpCmd) => {
    ip.push(c);
    ipStep.push(i);
  };
  const setIp = (i: number, dev: string, cfg: IpConfig) => {
    const prefix = prefixOf(cfg.netmask);
    push(i, { op: 'addr.replace', dev, address: cfg.address, prefix });
    if (cfg.gateway) push(i, { op: 'route.replaceDefault', gateway: cfg.gateway, dev });
    // A new device starts with no neighbours: the host's first reply to a peer waits for an ARP,
    // and one sent while ovs-vswitchd is still reconfiguring is lost and repeated only after the
    // kernel's 1 s retrans_time (docs/performance.md, ovs). The neighbours of the subnet that the
    // device which held this address knew (deleted by this plan) go onto the new device as stale:
    // used at once, confirmed by the kernel as usual.
    if (!recreated.has(dev)) return;
    const mask = mask4(prefix);
    const net = (ip4Number(cfg.address) & mask) >>> 0;
    // The device that held it: this one before it was made again, or one that loses the address.
    const from = new Set(
      Object.values(before.bridges)
        .filter((b) => b.ip?.mode === 'Static' && b.ip.address === cfg.address && (b.name === dev || !target.bridges[b.name]?.ip))
        .map((b) => b.name),
    );
    for (const n of neigh) {
      // Only what ip can be given back: a non-Ethernet link-layer address is left to ARP, not refused with the plan.
      if (!from.has(n.dev) || !n.lladdr || !isMac(n.lladdr) || !isIPv4(n.dst) || (ip4Number(n.dst) & mask) >>> 0 !== net || n.dst === cfg.address) continue;
      if (!n.state?.some((st) => ['REACHABLE', 'STALE', 'DELAY', 'PROBE'].includes(st))) continue;
      push(i, { op: 'neigh.replace', dev, address: n.dst, lladdr: n.lladdr });
    }
  };
  for (const [n, i] of recreated) if (target.bridges[n]) push(i, { op: 'link.up', dev: n });
  const ipDone = new Set<string>();
  for (const op of ipOps) {
    const b = target.bridges[op.bridge];
    if (!b) continue;
    const fresh = recreated.has(op.bridge);
    if (op.kind === 'clear') {
      if (!fresh && op.ip.mode === 'Static' && op.ip.address)
        push(op.step, { op: 'addr.del', dev: op.bridge, address: op.ip.address, prefix: prefixOf(op.ip.netmask) });
    } else {
      ipDone.add(op.bridge);
      if (op.ip.mode === 'Static' && op.ip.address) setIp(op.step, op.bridge, op.ip);
    }
  }
  for (const [n, i] of recreated) {
    const cfg = target.bridges[n]?.ip;
    if (cfg && !ipDone.has(n) && cfg.mode === 'Static' && cfg.address) setIp(i, n, cfg);
  }
  // Every ip command is checked now, before ovs-vsctl runs, so a refused value changes nothing.
  for (const c of ip) ipLine(c);
  for (const n of nicsUp) ipLine({ op: 'link.up', dev: n });
  return { txn: tx, touched, ip, ipStep, nicsUp: [...nicsUp], target, deviceMacs };
}

/** The step whose command an ovs-vsctl error names (by the device/bridge words it quotes). */
export function stepOfVsctlError(txn: VsctlTxn, text: string): number {
  const words = new Set(text.split(/[^A-Za-z0-9_.:-]+/).filter((w) => w.length > 1));
  for (let c = 0; c < txn.cmds.length; c++) {
    const cmd = txn.cmds[c];
    const verb = cmd.find((w) => !w.startsWith('-'));
    if (verb && ['add-br', 'add-port', 'add-bond', 'del-br', 'del-port'].includes(verb) && cmd.slice(cmd.indexOf(verb) + 1).some((w) => words.has(w))) {
      return txn.cmdStep[c];
    }
  }
  return txn.cmdStep[0] ?? 0;
}
