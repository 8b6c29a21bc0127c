import { expect } from 'chai';
import type { Bridge, IpConfig, NetState, Step, Uplink } from '../../src/backends/backend.js';
import { applyPlan, applyStep, describe as describeStep, diff, invert, normalize, validate } from '../../src/backends/plan.js';
import { canonical, sameValue, valueProblems } from '../../src/backends/state.js';

const MGMT: IpConfig = { mode: 'Static', address: '10.0.0.5', netmask: '255.255.255.0', gateway: '10.0.0.1', dns: '10.0.0.2' };
const DHCP: IpConfig = { mode: 'DHCP', address: '', netmask: '', gateway: '', dns: '' };
const BOND0: Uplink = { kind: 'bond', name: 'bond0', members: ['eth0', 'eth3'], mode: 'active-backup', properties: {}, mac: 'aa:00:00:00:00:00' };

function br(name: string, rest: Partial<Bridge> = {}): Bridge {
  return { name, MTU: 1500, vifs: [], ...rest };
}
function host(...bridges: Bridge[]): NetState {
  return { bridges: Object.fromEntries(bridges.map((b) => [b.name, b])) };
}
const lines = (plan: Step[]) => plan.map(describeStep);

/** The seed: xenbr0 (eth0, management IP, two VIFs) and xenbr3 (eth3). */
function seedBefore(): NetState {
  return host(
    br('xenbr0', { uplink: { kind: 'nic', device: 'eth0' }, ip: MGMT, vifs: ['vif1.0', 'vif2.0'] }),
    br('xenbr3', { uplink: { kind: 'nic', device: 'eth3' } }),
  );
}
/** The seed after Bond.create: xapi1 with bond0 over eth0,eth3 carrying the IP and the VIFs. */
function seedAfter(): NetState {
  return host(br('xapi1', { uplink: BOND0, ip: MGMT, vifs: ['vif1.0', 'vif2.0'] }));
}

/** Checks the core properties for one pair: the plan reaches b, its inverse reversed returns to a, each step inverts exactly. */
function checkPair(a: NetState, b: NetState): Step[] {
  const plan = diff(a, b);
  expect(applyPlan(a, plan)).to.deep.equal(normalize(b));
  const back = [...plan].reverse().map(invert);
  expect(applyPlan(applyPlan(a, plan), back)).to.deep.equal(normalize(a));
  let s = normalize(a);
  for (const step of plan) {
    const next = applyStep(s, step);
    expect(applyStep(next, invert(step))).to.deep.equal(s);
    s = next;
  }
  return plan;
}

describe('backends/plan', () => {
  describe('diff', () => {
    it('PLAN-01 equal states give an empty plan', () => {
      expect(diff({ bridges: {} }, { bridges: {} })).to.deep.equal([]);
      expect(diff(seedBefore(), seedBefore())).to.deep.equal([]);
      // unsorted VIFs and key order do not count as a difference
      const shuffled = host(
        br('xenbr3', { uplink: { kind: 'nic', device: 'eth3' } }),
        br('xenbr0', { vifs: ['vif2.0', 'vif1.0'], ip: MGMT, uplink: { kind: 'nic', device: 'eth0' } }),
      );
      expect(diff(seedBefore(), shuffled)).to.deep.equal([]);
    });

    it('PLAN-02 seed: bond over eth0,eth3 on new xapi1 takes the management IP and the VIFs; xenbr0/xenbr3 go', () => {
      const plan = checkPair(seedBefore(), seedAfter());
      expect(lines(plan)).to.deep.equal([
        'add bridge xapi1 (MTU 1500)',
        'remove NIC eth0 from xenbr0',
        'remove NIC eth3 from xenbr3',
        'bond bond0 (eth0,eth3 active-backup) → xapi1',
        'remove VIF vif1.0 from xenbr0',
        'VIF vif1.0 → xapi1',
        'remove VIF vif2.0 from xenbr0',
        'VIF vif2.0 → xapi1',
        'IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 → xapi1',
        'clear IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 from xenbr0',
        'delete bridge xenbr0 (MTU 1500)',
        'delete bridge xenbr3 (MTU 1500)',
      ]);
      expect(plan[3]).to.deep.equal({ op: 'uplink.add', bridge: 'xapi1', uplink: BOND0 });
      expect(plan[8]).to.deep.equal({ op: 'ip.set', bridge: 'xapi1', ip: MGMT });
    });

    it('PLAN-03 seed reversed (Bond.destroy): NICs return to xenbr0/xenbr3, IP and VIFs to xenbr0, xapi1 goes', () => {
      const plan = checkPair(seedAfter(), seedBefore());
      expect(lines(plan)).to.deep.equal([
        'add bridge xenbr0 (MTU 1500)',
        'add bridge xenbr3 (MTU 1500)',
        'remove bond bond0 (eth0,eth3 active-backup) from xapi1',
        'NIC eth0 → xenbr0',
        'NIC eth3 → xenbr3',
        'remove VIF vif1.0 from xapi1',
        'VIF vif1.0 → xenbr0',
        'remove VIF vif2.0 from xapi1',
        'VIF vif2.0 → xenbr0',
        'IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 → xenbr0',
        'clear IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 from xapi1',
        'delete bridge xapi1 (MTU 1500)',
      ]);
    });

    it('PLAN-04 VLAN fake bridge moving from parent xenbr0 to xapi1 is re-created under the new parent', () => {
      const before = seedBefore();
      before.bridges.xapi2 = br('xapi2', { vlan: { parent: 'xenbr0', tag: 100 }, ip: DHCP, vifs: ['vif3.0'] });
      const after = seedAfter();
      after.bridges.xapi2 = br('xapi2', { vlan: { parent: 'xapi1', tag: 100 }, ip: DHCP, vifs: ['vif3.0'] });
      const plan = checkPair(before, after);
      expect(lines(plan)).to.deep.equal([
        'add bridge xapi1 (MTU 1500)',
        'remove NIC eth0 from xenbr0',
        'remove NIC eth3 from xenbr3',
        'bond bond0 (eth0,eth3 active-backup) → xapi1',
        'remove VIF vif1.0 from xenbr0',
        'VIF vif1.0 → xapi1',
        'remove VIF vif2.0 from xenbr0',
        'VIF vif2.0 → xapi1',
        'remove VIF vif3.0 from xapi2',
        'IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 → xapi1',
        'clear IP DHCP from xapi2',
        'clear IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 from xenbr0',
        'delete VLAN bridge xapi2 (on xenbr0 tag 100, MTU 1500)',
        'delete bridge xenbr0 (MTU 1500)',
        'delete bridge xenbr3 (MTU 1500)',
        'add VLAN bridge xapi2 (on xapi1 tag 100, MTU 1500)',
        'VIF vif3.0 → xapi2',
        'IP DHCP → xapi2',
      ]);
      // and back again
      checkPair(after, before);
    });

    it('PLAN-05 VLAN tag change re-creates the VLAN bridge in place', () => {
      const a = host(br('xenbr0', { uplink: { kind: 'nic', device: 'eth0' } }), br('xapi2', { vlan: { parent: 'xenbr0', tag: 100 } }));
      const b = host(br('xenbr0', { uplink: { kind: 'nic', device: 'eth0' } }), br('xapi2', { vlan: { parent: 'xenbr0', tag: 200 } }));
      expect(lines(checkPair(a, b))).to.deep.equal([
        'delete VLAN bridge xapi2 (on xenbr0 tag 100, MTU 1500)',
        'add VLAN bridge xapi2 (on xenbr0 tag 200, MTU 1500)',
      ]);
    });

    it('PLAN-06 bond mode and property change is uplink.del of the old bond then uplink.add of the new', () => {
      const lacp: Uplink = { ...BOND0, mode: 'lacp', properties: { hashing_algorithm: 'tcpudp_ports', lacp_rate: 'fast' } };
      const a = seedAfter();
      const b = host(br('xapi1', { uplink: lacp, ip: MGMT, vifs: ['vif1.0', 'vif2.0'] }));
      const plan = checkPair(a, b);
      expect(plan).to.deep.equal([
        { op: 'uplink.del', bridge: 'xapi1', uplink: BOND0 },
        { op: 'uplink.add', bridge: 'xapi1', uplink: lacp },
      ]);
      expect(describeStep(plan[1])).to.equal('bond bond0 (eth0,eth3 lacp hashing_algorithm=tcpudp_ports lacp_rate=fast) → xapi1');
    });

    it('PLAN-07 bond member order is significant (primary member first)', () => {
      const swapped: Uplink = { ...BOND0, members: ['eth3', 'eth0'] };
      const plan = checkPair(seedAfter(), host(br('xapi1', { uplink: swapped, ip: MGMT, vifs: ['vif1.0', 'vif2.0'] })));
      expect(lines(plan)).to.deep.equal(['remove bond bond0 (eth0,eth3 active-backup) from xapi1', 'bond bond0 (eth3,eth0 active-backup) → xapi1']);
    });

    it('PLAN-08 MTU change deletes and re-adds the bridge with its uplink, VIFs, IP and VLAN children', () => {
      const a = seedBefore();
      a.bridges.xapi2 = br('xapi2', { vlan: { parent: 'xenbr0', tag: 7 }, vifs: ['vif5.0'] });
      const b = seedBefore();
      b.bridges.xenbr0.MTU = 9000;
      b.bridges.xapi2 = br('xapi2', { vlan: { parent: 'xenbr0', tag: 7 }, vifs: ['vif5.0'] });
      expect(lines(checkPair(a, b))).to.deep.equal([
        'remove NIC eth0 from xenbr0',
        'remove VIF vif1.0 from xenbr0',
        'remove VIF vif2.0 from xenbr0',
        'remove VIF vif5.0 from xapi2',
        'clear IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 from xenbr0',
        'delete VLAN bridge xapi2 (on xenbr0 tag 7, MTU 1500)',
        'delete bridge xenbr0 (MTU 1500)',
        'add bridge xenbr0 (MTU 9000)',
        'add VLAN bridge xapi2 (on xenbr0 tag 7, MTU 1500)',
        'NIC eth0 → xenbr0',
        'VIF vif1.0 → xenbr0',
        'VIF vif2.0 → xenbr0',
        'VIF vif5.0 → xapi2',
        'IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 → xenbr0',
      ]);
    });

    it('PLAN-09 tunnel uplink: added on a new bridge, key change is del + add, removed with its bridge', () => {
      const gre: Uplink = { kind: 'tunnel', name: 'tun0', protocol: 'gre', remote: '192.0.2.9', key: '5', transport: 'xenbr0' };
      const base = host(br('xenbr0', { uplink: { kind: 'nic', device: 'eth0' }, ip: MGMT }));
      const withTunnel = host(br('xenbr0', { uplink: { kind: 'nic', device: 'eth0' }, ip: MGMT }), br('xapi3', { uplink: gre, vifs: ['vif4.0'] }));
      expect(lines(checkPair(base, withTunnel))).to.deep.equal([
        'add bridge xapi3 (MTU 1500)',
        'tunnel tun0 (gre to 192.0.2.9 key 5 over xenbr0) → xapi3',
        'VIF vif4.0 → xapi3',
      ]);
      const rekeyed = normalize(withTunnel);
      rekeyed.bridges.xapi3.uplink = { ...gre, protocol: 'vxlan', key: '6' };
      expect(lines(checkPair(withTunnel, rekeyed))).to.deep.equal([
        'remove tunnel tun0 (gre to 192.0.2.9 key 5 over xenbr0) from xapi3',
        'tunnel tun0 (vxlan to 192.0.2.9 key 6 over xenbr0) → xapi3',
      ]);
      expect(lines(checkPair(withTunnel, base))).to.deep.equal([
        'remove tunnel tun0 (gre to 192.0.2.9 key 5 over xenbr0) from xapi3',
        'remove VIF vif4.0 from xapi3',
        'delete bridge xapi3 (MTU 1500)',
      ]);
    });

    it('PLAN-10 IP change on the same bridge clears the old IP just before setting the new one', () => {
      const a = host(br('xenbr0', { ip: MGMT }));
      const b = host(br('xenbr0', { ip: DHCP }));
      expect(checkPair(a, b)).to.deep.equal([
        { op: 'ip.clear', bridge: 'xenbr0', ip: MGMT },
        { op: 'ip.set', bridge: 'xenbr0', ip: DHCP },
      ]);
    });

    it('PLAN-11 IP moving between kept bridges is set on the new bridge before it is cleared on the old', () => {
      const a = host(br('xenbr0', { ip: MGMT }), br('xenbr1', { ip: DHCP }));
      const b = host(br('xenbr0'), br('xenbr1', { ip: MGMT }));
      expect(lines(checkPair(a, b))).to.deep.equal([
        'clear IP DHCP from xenbr1',
        'IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 → xenbr1',
        'clear IP 10.0.0.5/255.255.255.0 gw 10.0.0.1 from xenbr0',
      ]);
    });

    it('PLAN-12 NIC moving between kept bridges is removed from the old bridge before it is added to the new', () => {
      const a = host(br('xenbr0', { uplink: { kind: 'nic', device: 'eth0' } }), br('xenbr1'));
      const b = host(br('xenbr0'), br('xenbr1', { uplink: { kind: 'nic', device: 'eth0' } }));
      expect(lines(checkPair(a, b))).to.deep.equal(['remove NIC eth0 from xenbr0', 'NIC eth0 → xenbr1']);
    });

    it('PLAN-13 new VLAN bridges are added after their new parent, deleted before their parent', () => {
      const a = host();
      const b = host(br('xapi1', { uplink: BOND0 }), br('xapi0', { vlan: { parent: 'xapi1', tag: 5 } }));
      expect(lines(checkPair(a, b))).to.deep.equal([
        'add bridge xapi1 (MTU 1500)',
        'add VLAN bridge xapi0 (on xapi1 tag 5, MTU 1500)',
        'bond bond0 (eth0,eth3 active-backup) → xapi1',
      ]);
      expect(lines(checkPair(b, a))).to.deep.equal([
        'remove bond bond0 (eth0,eth3 active-backup) from xapi1',
        'delete VLAN bridge xapi0 (on xapi1 tag 5, MTU 1500)',
        'delete bridge xapi1 (MTU 1500)',
      ]);
    });

    it('PLAN-14 diff does not mutate its inputs', () => {
      const a = seedBefore();
      const b = seedAfter();
      const a0 = structuredClone(a);
      const b0 = structuredClone(b);
      applyPlan(a, diff(a, b));
      expect(a).to.deep.equal(a0);
      expect(b).to.deep.equal(b0);
    });
  });

  describe('invert', () => {
    it('INV-01 every op maps to its exact inverse and invert is an involution', () => {
      const steps: Step[] = [
        { op: 'bridge.add', bridge: 'xapi2', MTU: 9000, vlan: { parent: 'xapi1', tag: 100 } },
        { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 },
        { op: 'uplink.add', bridge: 'xapi1', uplink: BOND0 },
        { op: 'uplink.del', bridge: 'xenbr0', uplink: { kind: 'nic', device: 'eth0' } },
        { op: 'ip.set', bridge: 'xapi1', ip: MGMT },
        { op: 'ip.clear', bridge: 'xenbr0', ip: MGMT },
        { op: 'vif.add', bridge: 'xapi1', vif: 'vif1.0' },
        { op: 'vif.del', bridge: 'xenbr0', vif: 'vif1.0' },
      ];
      expect(invert(steps[0])).to.deep.equal({ op: 'bridge.del', bridge: 'xapi2', MTU: 9000, vlan: { parent: 'xapi1', tag: 100 } });
      expect(invert(steps[1])).to.deep.equal({ op: 'bridge.add', bridge: 'xenbr0', MTU: 1500 });
      expect(invert(steps[2])).to.deep.equal({ op: 'uplink.del', bridge: 'xapi1', uplink: BOND0 });
      expect(invert(steps[3])).to.deep.equal({ op: 'uplink.add', bridge: 'xenbr0', uplink: { kind: 'nic', device: 'eth0' } });
      expect(invert(steps[4])).to.deep.equal({ op: 'ip.clear', bridge: 'xapi1', ip: MGMT });
      expect(invert(steps[5])).to.deep.equal({ op: 'ip.set', bridge: 'xenbr0', ip: MGMT });
      expect(invert(steps[6])).to.deep.equal({ op: 'vif.del', bridge: 'xapi1', vif: 'vif1.0' });
      expect(invert(steps[7])).to.deep.equal({ op: 'vif.add', bridge: 'xenbr0', vif: 'vif1.0' });
      for (const s of steps) expect(invert(invert(s))).to.deep.equal(s);
    });

    it('INV-02 the inverse does not share objects with the step', () => {
      const s: Step = { op: 'uplink.add', bridge: 'xapi1', uplink: structuredClone(BOND0) };
      const inv = invert(s) as Extract<Step, { op: 'uplink.del' }>;
      (inv.uplink as Extract<Uplink, { kind: 'bond' }>).members.push('eth9');
      expect(s.uplink).to.deep.equal(BOND0);
    });
  });

  describe('applyStep / applyPlan', () => {
    const s0 = () => normalize(seedBefore());
    const rejects = (state: NetState, step: Step, pattern: RegExp) => expect(() => applyStep(state, step)).to.throw(Error, pattern);

    it('APPLY-01 applyStep returns a new state and leaves its input alone', () => {
      const a = s0();
      const a0 = structuredClone(a);
      const b = applyStep(a, { op: 'vif.add', bridge: 'xenbr3', vif: 'vif0.1' });
      expect(a).to.deep.equal(a0);
      expect(b.bridges.xenbr3.vifs).to.deep.equal(['vif0.1']);
      const c = applyStep(b, { op: 'bridge.add', bridge: 'xapi1', MTU: 1500 });
      expect(Object.keys(c.bridges)).to.deep.equal(['xapi1', 'xenbr0', 'xenbr3']);
      expect(c.bridges.xapi1).to.deep.equal({ name: 'xapi1', MTU: 1500, vifs: [] });
    });

    it('APPLY-02 adding a bridge that exists is rejected', () => {
      rejects(s0(), { op: 'bridge.add', bridge: 'xenbr0', MTU: 1500 }, /bridge\.add "add bridge xenbr0 \(MTU 1500\)": bridge xenbr0 already exists/);
    });

    it('APPLY-03 deleting a bridge that still has an uplink, VIFs, an IP or VLAN children is rejected', () => {
      rejects(s0(), { op: 'bridge.del', bridge: 'xenbr3', MTU: 1500 }, /still has uplink NIC eth3/);
      const vifsOnly = host(br('xenbr0', { vifs: ['vif1.0'] }));
      rejects(vifsOnly, { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 }, /still has VIFs vif1\.0/);
      const ipOnly = host(br('xenbr0', { ip: MGMT }));
      rejects(ipOnly, { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 }, /still has an IP/);
      const parent = host(br('xenbr0'), br('xapi2', { vlan: { parent: 'xenbr0', tag: 1 } }));
      rejects(parent, { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 }, /still has VLAN bridges xapi2/);
    });

    it('APPLY-04 deleting a bridge with another MTU or VLAN than the step says is rejected (inverses stay exact)', () => {
      const a = host(br('xenbr0'), br('xapi2', { vlan: { parent: 'xenbr0', tag: 1 } }));
      rejects(a, { op: 'bridge.del', bridge: 'xapi2', MTU: 9000, vlan: { parent: 'xenbr0', tag: 1 } }, /has MTU 1500, not 9000/);
      rejects(a, { op: 'bridge.del', bridge: 'xapi2', MTU: 1500 }, /different VLAN setting/);
      rejects(a, { op: 'bridge.del', bridge: 'nope', MTU: 1500 }, /bridge nope does not exist/);
    });

    it('APPLY-05 a NIC already used by another bridge (as uplink or bond member) is rejected', () => {
      const a = applyStep(s0(), { op: 'bridge.add', bridge: 'xapi1', MTU: 1500 });
      rejects(a, { op: 'uplink.add', bridge: 'xapi1', uplink: { kind: 'nic', device: 'eth0' } }, /eth0 is already in use by bridge xenbr0/);
      rejects(a, { op: 'uplink.add', bridge: 'xapi1', uplink: BOND0 }, /eth0 is already in use by bridge xenbr0/);
      const bonded = applyPlan(host(br('xapi1', { uplink: BOND0 }), br('xenbr1')), []);
      rejects(bonded, { op: 'uplink.add', bridge: 'xenbr1', uplink: { kind: 'nic', device: 'eth3' } }, /eth3 is already in use by bridge xapi1/);
      rejects(bonded, { op: 'uplink.add', bridge: 'xenbr1', uplink: { ...BOND0, members: ['eth5', 'eth6'] } }, /bond0 is already in use by bridge xapi1/);
      rejects(s0(), { op: 'uplink.add', bridge: 'xenbr0', uplink: { kind: 'nic', device: 'eth9' } }, /already has uplink NIC eth0/);
    });

    it('APPLY-06 removing an uplink that is not there, or not the one the step names, is rejected', () => {
      rejects(host(br('xenbr0')), { op: 'uplink.del', bridge: 'xenbr0', uplink: { kind: 'nic', device: 'eth0' } }, /has no uplink/);
      rejects(s0(), { op: 'uplink.del', bridge: 'xenbr0', uplink: { kind: 'nic', device: 'eth1' } }, /has uplink NIC eth0 instead/);
    });

    it('APPLY-07 IP set on a bridge with an IP, and clear of an IP that is not there, are rejected', () => {
      rejects(s0(), { op: 'ip.set', bridge: 'xenbr0', ip: DHCP }, /already has IP 10\.0\.0\.5/);
      rejects(s0(), { op: 'ip.clear', bridge: 'xenbr3', ip: MGMT }, /has no IP/);
      rejects(s0(), { op: 'ip.clear', bridge: 'xenbr0', ip: DHCP }, /has IP 10\.0\.0\.5\/255\.255\.255\.0 gw 10\.0\.0\.1 instead/);
    });

    it('APPLY-08 a VIF already on a bridge cannot be added again; a VIF not on the bridge cannot be removed', () => {
      rejects(s0(), { op: 'vif.add', bridge: 'xenbr3', vif: 'vif1.0' }, /VIF vif1\.0 is already on bridge xenbr0/);
      rejects(s0(), { op: 'vif.del', bridge: 'xenbr3', vif: 'vif1.0' }, /VIF vif1\.0 is not on bridge xenbr3/);
    });

    it('APPLY-09 a VLAN bridge needs an existing, non-VLAN parent and a tag in 0-4094', () => {
      rejects(s0(), { op: 'bridge.add', bridge: 'xapi2', MTU: 1500, vlan: { parent: 'xapi9', tag: 5 } }, /VLAN parent xapi9 does not exist/);
      rejects(s0(), { op: 'bridge.add', bridge: 'xapi2', MTU: 1500, vlan: { parent: 'xenbr0', tag: 4095 } }, /out of range/);
      const a = applyStep(s0(), { op: 'bridge.add', bridge: 'xapi2', MTU: 1500, vlan: { parent: 'xenbr0', tag: 5 } });
      rejects(a, { op: 'bridge.add', bridge: 'xapi3', MTU: 1500, vlan: { parent: 'xapi2', tag: 6 } }, /itself a VLAN bridge/);
    });

    it('APPLY-10 applyPlan names the index of the step that does not fit', () => {
      const plan: Step[] = [
        { op: 'bridge.add', bridge: 'xapi1', MTU: 1500 },
        { op: 'uplink.add', bridge: 'xapi1', uplink: BOND0 },
      ];
      expect(() => applyPlan(seedBefore(), plan)).to.throw(
        Error,
        /^plan step 1: cannot apply uplink\.add "bond bond0 \(eth0,eth3 active-backup\) → xapi1": eth0 is already in use/,
      );
    });
  });

  describe('normalize / validate / describe', () => {
    it('NORM-01 normalize sorts bridges and VIFs, keeps bond member order, drops undefined fields, copies deeply', () => {
      const raw: NetState = {
        bridges: {
          xenbr3: { name: 'xenbr3', MTU: 1500, vifs: ['vif9.0', 'vif10.1', 'vif1.0'], ip: undefined },
          xapi1: { name: 'xapi1', MTU: 1500, vifs: [], uplink: { ...BOND0, members: ['eth3', 'eth0'] } },
        },
      };
      const n = normalize(raw);
      expect(Object.keys(n.bridges)).to.deep.equal(['xapi1', 'xenbr3']);
      expect(n.bridges.xenbr3).to.deep.equal({ name: 'xenbr3', MTU: 1500, vifs: ['vif1.0', 'vif10.1', 'vif9.0'] });
      expect(Object.keys(n.bridges.xenbr3)).to.not.include('ip');
      expect((n.bridges.xapi1.uplink as Extract<Uplink, { kind: 'bond' }>).members).to.deep.equal(['eth3', 'eth0']);
      (n.bridges.xapi1.uplink as Extract<Uplink, { kind: 'bond' }>).members.push('eth7');
      expect((raw.bridges.xapi1.uplink as Extract<Uplink, { kind: 'bond' }>).members).to.deep.equal(['eth3', 'eth0']);
      expect(JSON.stringify(normalize(n))).to.equal(JSON.stringify(normalize(structuredClone(n))));
    });

    it('NORM-02 validate reports a device in two places and a dangling VLAN parent', () => {
      expect(validate(seedBefore())).to.deep.equal([]);
      const bad = host(
        br('xenbr0', { uplink: { kind: 'nic', device: 'eth0' }, vifs: ['vif1.0'] }),
        br('xapi1', { uplink: BOND0, vifs: ['vif1.0'] }),
        br('xapi2', { vlan: { parent: 'gone', tag: 3 } }),
      );
      expect(validate(bad)).to.deep.equal([
        'device eth0 is used by bridges xenbr0 and xapi1',
        'VIF vif1.0 is on bridges xenbr0 and xapi1',
        'bridge xapi2: VLAN parent gone does not exist',
      ]);
    });

    it("NORM-04 a bridge's own MAC (a tunnel bridge's): a new one re-creates the bridge with it; describe shows it; a bad one is refused as a value", () => {
      const a = host(br('xapi5', { mac: '02:00:5e:00:53:01', vifs: ['vif1.0'] }));
      const b = host(br('xapi5', { mac: '02:00:5e:00:53:02', vifs: ['vif1.0'] }));
      const plan = diff(a, b);
      expect(lines(plan)).to.deep.equal([
        'remove VIF vif1.0 from xapi5',
        'delete bridge xapi5 (MTU 1500, MAC 02:00:5e:00:53:01)',
        'add bridge xapi5 (MTU 1500, MAC 02:00:5e:00:53:02)',
        'VIF vif1.0 → xapi5',
      ]);
      expect(applyPlan(a, plan)).to.deep.equal(normalize(b));
      expect(applyPlan(b, plan.map(invert).reverse())).to.deep.equal(normalize(a));
      expect(diff(b, b)).to.deep.equal([]);
      expect(() => applyStep(a, { op: 'bridge.del', bridge: 'xapi5', MTU: 1500 })).to.throw(/different MAC/);
      expect(valueProblems(host(br('xapi5', { mac: '02:00:5e:00:53:0g' })))).to.deep.equal(['bridge "xapi5": MAC "02:00:5e:00:53:0g" is not valid']);
    });

    it('NORM-03 describe gives one human line per op', () => {
      expect(describeStep({ op: 'uplink.add', bridge: 'xapi1', uplink: BOND0 })).to.equal('bond bond0 (eth0,eth3 active-backup) → xapi1');
      expect(describeStep({ op: 'bridge.add', bridge: 'xapi2', MTU: 1500, vlan: { parent: 'xapi1', tag: 100 } })).to.equal(
        'add VLAN bridge xapi2 (on xapi1 tag 100, MTU 1500)',
      );
      expect(describeStep({ op: 'ip.set', bridge: 'xapi1', ip: DHCP })).to.equal('IP DHCP → xapi1');
      expect(describeStep({ op: 'vif.del', bridge: 'xenbr0', vif: 'vif1.0' })).to.equal('remove VIF vif1.0 from xenbr0');
    });
  });

  describe('property: random pairs of states', () => {
    /** mulberry32: a small seeded PRNG so failures reproduce. */
    function prng(seed: number): () => number {
      let t = seed >>> 0;
      return () => {
        t = (t + 0x6d2b79f5) >>> 0;
        let r = Math.imul(t ^ (t >>> 15), 1 | t);
        r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
        return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
      };
    }

    const BRIDGES = ['xenbr0', 'xenbr1', 'xenbr2', 'xapi0', 'xapi1', 'xapi2', 'xapi3', 'xapi4'];
    const NICS = ['eth0', 'eth1', 'eth2', 'eth3', 'eth4', 'eth5'];
    const VIFS = ['vif1.0', 'vif1.1', 'vif2.0', 'vif3.0', 'vif4.0', 'vif5.0'];
    const IPS: IpConfig[] = [MGMT, DHCP, { ...MGMT, address: '10.0.0.6' }, { ...MGMT, gateway: '' }];
    const MODES = ['balance-slb', 'active-backup', 'lacp'] as const;

    function randomState(rnd: () => number): NetState {
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
      const shuffle = <T>(xs: readonly T[]): T[] => {
        const out = [...xs];
        for (let i = out.length - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [out[i], out[j]] = [out[j], out[i]];
        }
        return out;
      };
      const names = shuffle(BRIDGES).slice(0, Math.floor(rnd() * (BRIDGES.length + 1)));
      const bridges: Bridge[] = [];
      const plain: string[] = [];
      for (const name of names) {
        const b = br(name, { MTU: rnd() < 0.8 ? 1500 : 9000 });
        if (plain.length && rnd() < 0.35) b.vlan = { parent: pick(plain), tag: pick([10, 20, 30]) };
        else plain.push(name);
        bridges.push(b);
      }
      const freeNics = shuffle(NICS);
      const bondNames = ['bond0', 'bond1', 'bond2'];
      const tunnels = ['tun0', 'tun1'];
      for (const b of bridges) {
        const r = rnd();
        if (r < 0.3 && freeNics.length) b.uplink = { kind: 'nic', device: freeNics.pop()! };
        else if (r < 0.55 && freeNics.length >= 2 && bondNames.length) {
          const members = freeNics.splice(0, rnd() < 0.7 ? 2 : Math.min(3, freeNics.length));
          const props: Record<string, string> = rnd() < 0.5 ? {} : { updelay: pick(['0', '31000']) };
          b.uplink = { kind: 'bond', name: bondNames.shift()!, members, mode: pick(MODES), properties: props, mac: pick(['aa:00', 'bb:00']) };
        } else if (r < 0.65 && tunnels.length) {
          b.uplink = {
            kind: 'tunnel',
            name: tunnels.shift()!,
            protocol: pick(['gre', 'vxlan'] as const),
            remote: '192.0.2.1',
            key: pick(['1', '2']),
            transport: pick(BRIDGES),
          };
        }
        if (rnd() < 0.4) b.ip = { ...pick(IPS) };
      }
      if (bridges.length) for (const v of VIFS) if (rnd() < 0.6) pick(bridges).vifs.push(v);
      const state = host(...shuffle(bridges));
      expect(validate(state)).to.deep.equal([]);
      return state;
    }

    it('PROP-01 for 400 seeded random pairs, applyPlan(a, diff(a,b)) = normalize(b) and the inverted plan reversed returns a', () => {
      const rnd = prng(0x5eed);
      let steps = 0;
      let recreations = 0;
      for (let i = 0; i < 400; i++) {
        const a = randomState(rnd);
        const b = rnd() < 0.1 ? structuredClone(a) : randomState(rnd);
        let plan: Step[];
        try {
          plan = checkPair(a, b);
          expect(diff(a, a)).to.deep.equal([]);
          expect(diff(b, b)).to.deep.equal([]);
        } catch (e) {
          throw new Error(`pair ${i}: ${(e as Error).message}\na=${JSON.stringify(a)}\nb=${JSON.stringify(b)}`);
        }
        steps += plan.length;
        const adds = new Set(plan.filter((s) => s.op === 'bridge.add').map((s) => s.bridge));
        recreations += plan.filter((s) => s.op === 'bridge.del' && adds.has(s.bridge)).length;
      }
      // the generator exercises real work, including re-creations
      expect(steps).to.be.greaterThan(2000);
      expect(recreations).to.be.greaterThan(50);
    });

    it('PROP-02 plans never touch what stays: a random state gaining one VIF gives exactly one vif.add', () => {
      const rnd = prng(42);
      for (let i = 0; i < 200; i++) {
        const a = randomState(rnd);
        const names = Object.keys(a.bridges);
        if (!names.length) continue;
        const b = normalize(a);
        const target = names[Math.floor(rnd() * names.length)];
        const vif = 'vif99.0';
        b.bridges[target].vifs.push(vif);
        expect(checkPair(a, b)).to.deep.equal([{ op: 'vif.add', bridge: target, vif }]);
      }
    });
  });

  it('sameValue agrees with comparing the JSON of the canonical copies (key order and undefined fields ignored)', () => {
    const slow = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
    const fixed: [unknown, unknown][] = [
      [BOND0, { ...BOND0 }],
      [BOND0, { ...BOND0, members: ['eth3', 'eth0'] }],
      [
        { b: 1, a: 2 },
        { a: 2, b: 1 },
      ],
      [{ a: 1, b: undefined }, { a: 1 }],
      [{ a: 1 }, { a: 1, b: null }],
      [
        [1, undefined],
        [1, null],
      ],
      [[], {}],
      [null, undefined],
      [MGMT, DHCP],
      [MGMT, { ...MGMT }],
      [{ vlan: { parent: 'x', tag: 1 } }, { vlan: { tag: 1, parent: 'x' } }],
      ['1', 1],
      [0, -0],
      [{ a: [] }, { a: [] }],
      [{ a: {} }, { a: [] }],
    ];
    for (const [a, b] of fixed) expect(sameValue(a, b), JSON.stringify([a, b])).to.equal(slow(a, b));
    // Random small values built from the same few keys and leaves, so that equal pairs happen.
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const leaf = () => [null, undefined, 0, 1, 'a', 'b', true, false][rnd(8)];
    const gen = (d: number): unknown => {
      const k = d > 2 ? 0 : rnd(3);
      if (k === 0) return leaf();
      if (k === 1) return Array.from({ length: rnd(3) }, () => gen(d + 1));
      const o: Record<string, unknown> = {};
      for (const key of ['x', 'y', 'z'].slice(0, rnd(4))) o[key] = gen(d + 1);
      return o;
    };
    let equal = 0;
    for (let i = 0; i < 5000; i++) {
      const [a, b] = [gen(0), gen(0)];
      const want = slow(a, b);
      if (want) equal++;
      expect(sameValue(a, b), JSON.stringify([a, b])).to.equal(want);
    }
    expect(equal, 'some random pairs are equal').to.be.above(100);
  });
});
