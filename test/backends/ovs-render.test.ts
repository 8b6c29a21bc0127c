// ovs/render.ts without root or OVS: a plan's exact ovs-vsctl commands and ip batch, and the
// refusal of values no tool may receive.
import { expect } from 'chai';
import type { IpConfig, NetState, Step, Uplink } from '../../src/backends/backend.js';
import { render } from '../../src/backends/ovs/render.js';
import { ipLine } from '../../src/backends/tools/ip.js';
import { RefusedValue } from '../../src/backends/tools/exec.js';
import { PlanStepError } from '../../src/backends/plan.js';

const MGMT: IpConfig = { mode: 'Static', address: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1', dns: '' };
const nic = (device: string): Uplink => ({ kind: 'nic', device });
const bond0: Uplink = { kind: 'bond', name: 'bond0', members: ['eth0', 'eth3'], mode: 'active-backup', properties: {}, mac: '02:00:5e:10:00:00' };
const OPTS = { datapathType: 'netdev', vifType: 'internal' as const };
const MACS = new Map([
  ['eth0', '02:00:5e:10:00:00'],
  ['eth1', '02:00:5e:10:00:01'],
  ['eth3', '02:00:5e:10:00:03'],
]);

const START: NetState = {
  bridges: {
    xenbr0: { name: 'xenbr0', MTU: 1500, uplink: nic('eth0'), ip: MGMT, vifs: [] },
    xenbr3: { name: 'xenbr3', MTU: 1500, uplink: nic('eth3'), vifs: [] },
  },
};
const BOND_MOVE: Step[] = [
  { op: 'ip.clear', bridge: 'xenbr0', ip: MGMT },
  { op: 'uplink.del', bridge: 'xenbr0', uplink: nic('eth0') },
  { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 },
  { op: 'uplink.del', bridge: 'xenbr3', uplink: nic('eth3') },
  { op: 'bridge.del', bridge: 'xenbr3', MTU: 1500 },
  { op: 'bridge.add', bridge: 'xapi1', MTU: 1500 },
  { op: 'uplink.add', bridge: 'xapi1', uplink: bond0 },
  { op: 'ip.set', bridge: 'xapi1', ip: MGMT },
];

describe('backends/ovs/render (pure)', () => {
  it('RENDER-01 seed 004 bond move: one ovs-vsctl transaction, then one ip batch on the new bridge', () => {
    const r = render(START, BOND_MOVE, OPTS, MACS);
    const argvs = r.txn.argvs(20);
    expect(argvs).to.have.length(1);
    expect(argvs[0][0]).to.equal('--timeout=20');
    const cmds = r.txn.cmds.map((c) => c.join(' '));
    expect(cmds).to.deep.equal([
      'remove interface xenbr0 external_ids xnd-ip',
      '--if-exists del-port xenbr0 eth0',
      '--if-exists del-br xenbr0',
      '--if-exists del-port xenbr3 eth3',
      '--if-exists del-br xenbr3',
      '--may-exist add-br xapi1',
      'set bridge xapi1 datapath_type=netdev fail_mode=standalone',
      'set interface xapi1 mtu_request=1500',
      'set bridge xapi1 other_config:hwaddr="02:00:5e:10:00:00"',
      '--may-exist add-bond xapi1 bond0 eth0 eth3',
      `set port bond0 mac="02:00:5e:10:00:00" lacp=off bond_mode=active-backup bond_updelay=31000 bond_downdelay=200 other_config={"bond-detect-mode"="carrier","bond-miimon-interval"="100","bond-primary"="eth0","bond-rebalance-interval"="1800000"} external_ids={"xnd-uplink"=${JSON.stringify(JSON.stringify(bond0))}}`,
      'set interface eth0 mtu_request=1500',
      'set interface eth3 mtu_request=1500',
      `set interface xapi1 external_ids:xnd-ip=${JSON.stringify(JSON.stringify(MGMT))}`,
    ]);
    expect(r.ip.map(ipLine)).to.deep.equal(['link set dev xapi1 up', 'addr replace 192.0.2.10/24 dev xapi1', 'route replace default via 192.0.2.1 dev xapi1']);
    expect(r.nicsUp).to.deep.equal(['eth0', 'eth3']);
    expect(Object.keys(r.target.bridges)).to.deep.equal(['xapi1']);
    // The MAC the new bridge device ends with: the batch waits for it before it configures the device.
    expect([...r.deviceMacs]).to.deep.equal([['xapi1', '02:00:5e:10:00:00']]);
  });

  it('RENDER-06 a bridge with a MAC of its own (a tunnel bridge) gets it as other_config:hwaddr, kept in external_ids for read()', () => {
    const r = render(START, [{ op: 'bridge.add', bridge: 'xapi5', MTU: 1500, mac: '02:00:5e:00:53:05' }], OPTS, MACS);
    expect(r.txn.cmds.map((c) => c.join(' '))).to.deep.equal([
      '--may-exist add-br xapi5',
      'set bridge xapi5 datapath_type=netdev fail_mode=standalone',
      'set interface xapi5 mtu_request=1500',
      'set bridge xapi5 other_config:hwaddr="02:00:5e:00:53:05"',
      'set interface xapi5 external_ids:xnd-mac="02:00:5e:00:53:05"',
    ]);
    expect(r.target.bridges.xapi5.mac).to.equal('02:00:5e:00:53:05');
    expect([...r.deviceMacs]).to.deep.equal([['xapi5', '02:00:5e:00:53:05']]);
  });

  it('RENDER-07 an active-backup bond prefers the member whose MAC it carries (other_config:bond-primary); none for another MAC or mode', () => {
    const otherOf = (u: Uplink) => {
      const r = render(START, [...BOND_MOVE.slice(0, 6), { op: 'uplink.add', bridge: 'xapi1', uplink: u }], OPTS, MACS);
      const set = r.txn.cmds.map((c) => c.join(' ')).find((c) => c.startsWith('set port bond0 '))!;
      return /other_config=(\{[^}]*\})/.exec(set)![1];
    };
    expect(otherOf(bond0)).to.contain('"bond-primary"="eth0"');
    // The bond's MAC is eth3's (Bond.create with eth3 first, or a MAC given as eth3's): eth3 is preferred.
    expect(otherOf({ ...bond0, mac: '02:00:5E:10:00:03' })).to.contain('"bond-primary"="eth3"');
    // A MAC no member has: vswitchd chooses, as under xcp-networkd.
    expect(otherOf({ ...bond0, mac: '02:00:5e:10:00:99' })).to.not.contain('bond-primary');
    // Only active-backup has one active member.
    expect(otherOf({ ...bond0, mode: 'balance-slb' })).to.not.contain('bond-primary');
  });

  it('RENDER-08 the neighbours of the device that held the address go onto the new bridge device as stale (same subnet, known MAC)', () => {
    const neigh = [
      { dst: '192.0.2.1', dev: 'xenbr0', lladdr: '1e:53:35:1f:60:d4', state: ['REACHABLE'] },
      { dst: '192.0.2.7', dev: 'xenbr0', lladdr: '1e:53:35:1f:60:d7', state: ['STALE'] },
      // Not carried: no MAC (an ARP that failed), another subnet, another device.
      { dst: '192.0.2.5', dev: 'xenbr0', state: ['FAILED'] },
      { dst: '198.51.100.1', dev: 'xenbr0', lladdr: '1e:53:35:1f:60:01', state: ['REACHABLE'] },
      { dst: '192.0.2.2', dev: 'xenbr3', lladdr: '1e:53:35:1f:60:02', state: ['REACHABLE'] },
      // Nor a link-layer address ip could not be given back (it would refuse the whole plan).
      { dst: '192.0.2.9', dev: 'xenbr0', lladdr: '80:00:00:48:fe:80:00:00:00:00:00:00:00:02', state: ['REACHABLE'] },
    ];
    const r = render(START, BOND_MOVE, OPTS, MACS, neigh);
    expect(r.ip.map(ipLine)).to.deep.equal([
      'link set dev xapi1 up',
      'addr replace 192.0.2.10/24 dev xapi1',
      'route replace default via 192.0.2.1 dev xapi1',
      'neigh replace 192.0.2.1 lladdr 1e:53:35:1f:60:d4 dev xapi1 nud stale',
      'neigh replace 192.0.2.7 lladdr 1e:53:35:1f:60:d7 dev xapi1 nud stale',
    ]);
    // A bridge made again under its own name keeps its own neighbours; one that keeps its device gets none.
    const again = render(
      START,
      [
        { op: 'ip.clear', bridge: 'xenbr0', ip: MGMT },
        { op: 'uplink.del', bridge: 'xenbr0', uplink: nic('eth0') },
        { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 },
        { op: 'bridge.add', bridge: 'xenbr0', MTU: 1500 },
        { op: 'uplink.add', bridge: 'xenbr0', uplink: nic('eth0') },
        { op: 'ip.set', bridge: 'xenbr0', ip: MGMT },
      ],
      OPTS,
      MACS,
      neigh,
    );
    expect(again.ip.map(ipLine).filter((l) => l.startsWith('neigh'))).to.deep.equal([
      'neigh replace 192.0.2.1 lladdr 1e:53:35:1f:60:d4 dev xenbr0 nud stale',
      'neigh replace 192.0.2.7 lladdr 1e:53:35:1f:60:d7 dev xenbr0 nud stale',
    ]);
    const kept = render(START, [{ op: 'ip.set', bridge: 'xenbr3', ip: { ...MGMT, address: '192.0.2.11', gateway: '' } }], OPTS, MACS, neigh);
    expect(kept.ip.map(ipLine)).to.deep.equal(['addr replace 192.0.2.11/24 dev xenbr3']);
    expect(() => ipLine({ op: 'neigh.replace', dev: 'xapi1', address: '192.0.2.1', lladdr: '1e:53:35:1f:60 nud' })).to.throw(RefusedValue);
  });

  it('RENDER-02 an LACP bond whose members go back to NICs is committed in two transactions', () => {
    const lacp: Uplink = { ...bond0, mode: 'lacp' } as Uplink;
    const before: NetState = { bridges: { xapi1: { name: 'xapi1', MTU: 1500, uplink: lacp, vifs: [] } } };
    const r = render(
      before,
      [
        { op: 'uplink.del', bridge: 'xapi1', uplink: lacp },
        { op: 'uplink.add', bridge: 'xapi1', uplink: nic('eth0') },
      ],
      OPTS,
      MACS,
    );
    expect(r.txn.argvs(5)).to.have.length(2);
  });

  it('RENDER-03 a step that does not fit the state is a PlanStepError naming it; nothing is rendered', () => {
    expect(() => render(START, [{ op: 'bridge.add', bridge: 'xenbr0', MTU: 1500 }], OPTS, MACS))
      .to.throw(PlanStepError)
      .with.property('index', 0);
  });

  it('RENDER-04 names, addresses and MTUs a tool must not receive are refused before any command exists', () => {
    const bad: Step[][] = [
      [{ op: 'bridge.add', bridge: '--', MTU: 1500 }],
      [{ op: 'bridge.add', bridge: '-h', MTU: 1500 }],
      [{ op: 'bridge.add', bridge: '../../x', MTU: 1500 }],
      [{ op: 'bridge.add', bridge: 'abcdefghijklmnop', MTU: 1500 }],
      [{ op: 'bridge.add', bridge: 'ok0', MTU: 1 }],
      [{ op: 'ip.set', bridge: 'xenbr3', ip: { ...MGMT, address: '192.0.2.9\nnetns exec x id' } }],
      [{ op: 'ip.set', bridge: 'xenbr3', ip: { ...MGMT, gateway: '192.0.2.1 dev eth4\nlink set dev eth4 down' } }],
    ];
    for (const plan of bad) expect(() => render(START, plan, OPTS, MACS), JSON.stringify(plan)).to.throw(RefusedValue);
  });

  it('RENDER-05 every ip batch token is checked: whitespace or a newline in any value is refused', () => {
    expect(() => ipLine({ op: 'link.up', dev: 'eth4 down' })).to.throw(RefusedValue);
    expect(() => ipLine({ op: 'addr.replace', dev: 'xenbr0', address: '10.0.0.1\n', prefix: 24 })).to.throw(RefusedValue);
    expect(() => ipLine({ op: 'addr.replace', dev: 'xenbr0', address: '10.0.0.1', prefix: 33 })).to.throw(RefusedValue);
    expect(() => ipLine({ op: 'route.replaceDefault', dev: 'xenbr0', gateway: '10.0.0.1 x' })).to.throw(RefusedValue);
    expect(ipLine({ op: 'addr.del', dev: 'xenbr0', address: '10.0.0.1', prefix: 8 })).to.equal('addr del 10.0.0.1/8 dev xenbr0');
  });
});
