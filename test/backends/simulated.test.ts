import { expect } from 'chai';
import { BackendError, type IpConfig, type NetState, type Nic, type Step, type Uplink } from '../../src/backends/backend.js';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { diff, invert } from '../../src/backends/plan.js';

const MGMT: IpConfig = { mode: 'Static', address: '10.0.0.5', netmask: '255.255.255.0', gateway: '10.0.0.1', dns: '10.0.0.2' };
const BOND0: Uplink = { kind: 'bond', name: 'bond0', members: ['eth0', 'eth3'], mode: 'active-backup', properties: {}, mac: 'aa:00:00:00:00:00' };

function nics(): Nic[] {
  return [0, 1, 2, 3].map((i) => ({ device: `eth${i}`, MAC: `00:16:3e:00:00:0${i}`, MTU: 1500, carrier: true }));
}
function seedBefore(): NetState {
  return {
    bridges: {
      xenbr0: { name: 'xenbr0', MTU: 1500, uplink: { kind: 'nic', device: 'eth0' }, ip: MGMT, vifs: ['vif1.0', 'vif2.0'] },
      xenbr3: { name: 'xenbr3', MTU: 1500, uplink: { kind: 'nic', device: 'eth3' }, vifs: [] },
    },
  };
}
function seedAfter(): NetState {
  return { bridges: { xapi1: { name: 'xapi1', MTU: 1500, uplink: BOND0, ip: MGMT, vifs: ['vif1.0', 'vif2.0'] } } };
}

describe('backends/simulated', () => {
  it('SIM-01 a new host has its NICs, no bridges, and nothing up', async () => {
    const be = new SimulatedBackend({ nics: nics() });
    expect(be.name).to.equal('simulated');
    expect(await be.read()).to.deep.equal({ bridges: {} });
    expect((await be.nics()).map((n) => n.device)).to.deep.equal(['eth0', 'eth1', 'eth2', 'eth3']);
    const h = be.host();
    expect(h.devices).to.deep.equal(['eth0', 'eth1', 'eth2', 'eth3']);
    expect(h.up).to.deep.equal([]);
    await be.close();
  });

  it('SIM-02 read() returns a deep copy the caller cannot use to change the host', async () => {
    const be = new SimulatedBackend({ nics: nics(), state: seedBefore() });
    const s = await be.read();
    s.bridges.xenbr0.vifs.push('vif9.9');
    delete s.bridges.xenbr3;
    expect(await be.read()).to.deep.equal(seedBefore());
    const n = await be.nics();
    n[0].carrier = false;
    expect((await be.nics())[0].carrier).to.equal(true);
  });

  it('SIM-03 seed plan applied: bond0 over eth0,eth3 on xapi1 holds the IP and VIFs, xenbr0/xenbr3 are gone', async () => {
    const be = new SimulatedBackend({ nics: nics(), state: seedBefore() });
    expect(be.host()).to.deep.include({
      bridges: ['xenbr0', 'xenbr3'],
      up: ['eth0', 'eth3'],
      ips: { xenbr0: '10.0.0.5' },
      vifs: { 'vif1.0': 'xenbr0', 'vif2.0': 'xenbr0' },
      uplinks: { xenbr0: 'eth0', xenbr3: 'eth3' },
    });
    const plan = diff(await be.read(), seedAfter());
    await be.apply(plan);
    expect(await be.read()).to.deep.equal(seedAfter());
    expect(be.stats).to.deep.equal({ plans: 1, applied: plan.length, undone: 0, failed: 0 });
    expect(be.host()).to.deep.equal({
      devices: ['bond0', 'eth0', 'eth1', 'eth2', 'eth3', 'xapi1'],
      bridges: ['xapi1'],
      nics: ['eth0', 'eth1', 'eth2', 'eth3'],
      bonds: ['bond0'],
      tunnels: [],
      up: ['eth0', 'eth3'],
      carrier: ['eth0', 'eth1', 'eth2', 'eth3'],
      mtu: { xapi1: 1500 },
      vlans: {},
      uplinks: { xapi1: 'bond0' },
      bondMembers: { bond0: ['eth0', 'eth3'] },
      ips: { xapi1: '10.0.0.5' },
      vifs: { 'vif1.0': 'xapi1', 'vif2.0': 'xapi1' },
    });
    expect(await be.bondLinksUp('bond0')).to.equal(2);
  });

  it('SIM-04 a fault injected at every step index of the seed plan leaves the host exactly as before', async () => {
    const plan = diff(seedBefore(), seedAfter());
    expect(plan.length).to.equal(12);
    for (let i = 0; i < plan.length; i++) {
      const be = new SimulatedBackend({ nics: nics(), state: seedBefore() });
      const before = await be.read();
      const hostBefore = be.host();
      be.faults.failAt = (_s, idx) => idx === i;
      let err: unknown;
      try {
        await be.apply(plan);
      } catch (e) {
        err = e;
      }
      expect(err, `fault at ${i}`).to.be.instanceOf(BackendError);
      expect((err as BackendError).step).to.equal(i);
      expect((err as BackendError).message).to.match(new RegExp(`^step ${i} \\(.+\\) failed: injected fault$`));
      expect(await be.read(), `state after fault at ${i}`).to.deep.equal(before);
      expect(be.host()).to.deep.equal(hostBefore);
      expect(be.stats).to.deep.equal({ plans: 1, applied: i, undone: i, failed: 1 });
      // with the fault cleared the same plan goes through
      be.faults.failAt = undefined;
      await be.apply(plan);
      expect(await be.read()).to.deep.equal(seedAfter());
    }
  });

  it('SIM-05 a step that does not fit the host fails the plan at that index and undoes the steps before it', async () => {
    const be = new SimulatedBackend({ nics: nics(), state: seedBefore() });
    const plan: Step[] = [
      { op: 'bridge.add', bridge: 'xapi1', MTU: 1500 },
      { op: 'vif.del', bridge: 'xenbr0', vif: 'vif1.0' },
      { op: 'uplink.add', bridge: 'xapi1', uplink: BOND0 }, // eth0 is still on xenbr0
    ];
    const err = await be.apply(plan).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(BackendError);
    expect((err as BackendError).step).to.equal(2);
    expect((err as Error).message).to.match(/eth0 is already in use by bridge xenbr0/);
    expect(await be.read()).to.deep.equal(seedBefore());
  });

  it('SIM-06 enslaving a NIC the host does not have fails the plan', async () => {
    const be = new SimulatedBackend({ nics: nics() });
    const plan: Step[] = [
      { op: 'bridge.add', bridge: 'xenbr7', MTU: 1500 },
      { op: 'uplink.add', bridge: 'xenbr7', uplink: { kind: 'nic', device: 'eth7' } },
    ];
    const err = await be.apply(plan).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as BackendError).step).to.equal(1);
    expect((err as Error).message).to.match(/host has no NIC eth7/);
    expect(await be.read()).to.deep.equal({ bridges: {} });
  });

  it('SIM-07 the seed plan inverted and reversed restores the original host', async () => {
    const be = new SimulatedBackend({ nics: nics(), state: seedBefore() });
    const plan = diff(seedBefore(), seedAfter());
    await be.apply(plan);
    await be.apply([...plan].reverse().map(invert));
    expect(await be.read()).to.deep.equal(seedBefore());
    expect(be.stats).to.deep.equal({ plans: 2, applied: 24, undone: 0, failed: 0 });
  });

  it('SIM-08 setCarrier (cable pull) lowers bondLinksUp and nics() carrier; unknown bond counts 0', async () => {
    const be = new SimulatedBackend({ nics: nics(), state: seedAfter() });
    expect(await be.bondLinksUp('bond0')).to.equal(2);
    be.setCarrier('eth3', false);
    expect(await be.bondLinksUp('bond0')).to.equal(1);
    expect((await be.nics()).find((n) => n.device === 'eth3')?.carrier).to.equal(false);
    expect(be.host().carrier).to.deep.equal(['eth0', 'eth1', 'eth2']);
    // a NIC outside the bond does not count
    be.setCarrier('eth1', false);
    expect(await be.bondLinksUp('bond0')).to.equal(1);
    be.setCarrier('eth0', false);
    expect(await be.bondLinksUp('bond0')).to.equal(0);
    be.setCarrier('eth3', true);
    expect(await be.bondLinksUp('bond0')).to.equal(1);
    // still enslaved: the member stays up as a device even without carrier
    expect(be.host().up).to.deep.equal(['eth0', 'eth3']);
    expect(await be.bondLinksUp('bond9')).to.equal(0);
    expect(() => be.setCarrier('eth9', true)).to.throw(/no NIC eth9/);
  });

  it('SIM-09 host() reports VLAN bridges, tunnel ports and MTUs', async () => {
    const be = new SimulatedBackend({ nics: nics() });
    const target: NetState = {
      bridges: {
        xenbr1: { name: 'xenbr1', MTU: 9000, uplink: { kind: 'nic', device: 'eth1' }, vifs: [] },
        xapi2: { name: 'xapi2', MTU: 9000, vlan: { parent: 'xenbr1', tag: 100 }, vifs: ['vif3.0'] },
        xapi3: {
          name: 'xapi3',
          MTU: 1500,
          uplink: { kind: 'tunnel', name: 'tun0', protocol: 'vxlan', remote: '192.0.2.2', key: '9', transport: 'xenbr1' },
          vifs: [],
        },
      },
    };
    await be.apply(diff(await be.read(), target));
    const h = be.host();
    expect(h.devices).to.deep.equal(['eth0', 'eth1', 'eth2', 'eth3', 'tun0', 'xapi2', 'xapi3', 'xenbr1']);
    expect(h.vlans).to.deep.equal({ xapi2: { parent: 'xenbr1', tag: 100 } });
    expect(h.tunnels).to.deep.equal(['tun0']);
    expect(h.up).to.deep.equal(['eth1']);
    expect(h.mtu).to.deep.equal({ xapi2: 9000, xapi3: 1500, xenbr1: 9000 });
    expect(h.vifs).to.deep.equal({ 'vif3.0': 'xapi2' });
  });
});
