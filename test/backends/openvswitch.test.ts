// The openvswitch backend against a real Open vSwitch (userspace datapath) in a sandbox netns:
// eth0..eth3 are veths whose peers sit on a Linux bridge (192.0.2.1/24) in a peer netns, so a ping
// from there to the management IP crosses the NICs, and the bond once there is one.
// Needs root and the Debian packages openvswitch-switch + iproute2 (installed by `make test`).

import { expect } from 'chai';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import { OpenvswitchBackend, type Runner } from '../../src/backends/ovs/backend.js';
import { BackendError, type Bridge, type IpConfig, type NetState, type Step, type Uplink } from '../../src/backends/backend.js';
import { until } from '../helpers/wait.js';

const MACS = ['02:00:5e:10:00:00', '02:00:5e:10:00:01', '02:00:5e:10:00:02', '02:00:5e:10:00:03'];
const NICS = ['eth0', 'eth1', 'eth2', 'eth3'];
const MGMT: IpConfig = { mode: 'Static', address: '192.0.2.10', netmask: '255.255.255.0', gateway: '', dns: '' };

function br(name: string, extra: Partial<Bridge> = {}): Bridge {
  const b: Bridge = { name, MTU: 1500, vifs: [] };
  if (extra.vlan) b.vlan = extra.vlan;
  if (extra.uplink) b.uplink = extra.uplink;
  if (extra.ip) b.ip = extra.ip;
  if (extra.vifs) b.vifs = extra.vifs;
  return b;
}
function state(...bridges: Bridge[]): NetState {
  return { bridges: Object.fromEntries(bridges.map((b) => [b.name, b])) };
}
const nic = (device: string): Uplink => ({ kind: 'nic', device });
const bond0: Uplink = { kind: 'bond', name: 'bond0', members: ['eth0', 'eth3'], mode: 'active-backup', properties: {}, mac: MACS[0] };

const START_OF_DAY = state(
  br('xenbr0', { uplink: nic('eth0'), ip: MGMT }),
  br('xenbr1', { uplink: nic('eth1') }),
  br('xenbr2', { uplink: nic('eth2') }),
  br('xenbr3', { uplink: nic('eth3') }),
);
const BONDED = state(br('xapi1', { uplink: bond0, ip: MGMT }), br('xenbr1', { uplink: nic('eth1') }), br('xenbr2', { uplink: nic('eth2') }));

const startOfDayPlan: Step[] = [
  ...[0, 1, 2, 3].flatMap((i): Step[] => [
    { op: 'bridge.add', bridge: `xenbr${i}`, MTU: 1500 },
    { op: 'uplink.add', bridge: `xenbr${i}`, uplink: nic(`eth${i}`) },
  ]),
  { op: 'ip.set', bridge: 'xenbr0', ip: MGMT },
];

/** seed 004: bond eth0+eth3 active-backup on a new network's bridge xapi1, management moves with it. */
function bondMovePlan(ip: IpConfig = MGMT): Step[] {
  return [
    { op: 'ip.clear', bridge: 'xenbr0', ip: MGMT },
    { op: 'uplink.del', bridge: 'xenbr0', uplink: nic('eth0') },
    { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 },
    { op: 'uplink.del', bridge: 'xenbr3', uplink: nic('eth3') },
    { op: 'bridge.del', bridge: 'xenbr3', MTU: 1500 },
    { op: 'bridge.add', bridge: 'xapi1', MTU: 1500 },
    { op: 'uplink.add', bridge: 'xapi1', uplink: bond0 },
    { op: 'ip.set', bridge: 'xapi1', ip },
  ];
}

function ovsRows(json: string): Record<string, unknown>[] {
  const t = JSON.parse(json) as { headings: string[]; data: unknown[][] };
  return t.data.map((r) => Object.fromEntries(t.headings.map((h, i) => [h, r[i]])));
}
function ovsMap(v: unknown): Record<string, string> {
  return Object.fromEntries((v as ['map', [string, string][]])[1]);
}

describe('backends/openvswitch against an OVS userspace sandbox', function () {
  this.timeout(30000);
  let sb: Sandbox;
  let be: OpenvswitchBackend;
  const writes = () => be.stats.vsctlWrites;

  /** When each ip batch got its commands (by its first line) and each ovs-vsctl write returned, in order. */
  const order: string[] = [];
  /** While set, an ovs-vsctl write returns only once a batch for this device was fed (or after 1 s). */
  let holdWriteFor: string | undefined;
  /** Every command text fed to an ip batch. */
  const batches: string[] = [];

  before(async function () {
    sb = await startSandbox({ name: 'ovsbe', nics: NICS.map((device, i) => ({ device, mac: MACS[i] })) });
    const ip = sb.ip as Runner;
    const fed = (t: string) => {
      if (t) order.push(`ip batch: ${t.split('\n')[0]}`);
      batches.push(t);
      return t;
    };
    be = new OpenvswitchBackend({
      vsctl: async (args) => {
        const out = await sb.vsctl(args);
        if (!args.includes('list')) {
          // Under load the kernel's report of the new device (read by an `ip monitor` child) can
          // reach the daemon after ovs-vsctl has returned; this write's return is then held back
          // up to 1 s for it, so the check below sees whether the watch feeds the batch at all
          // (without it nothing is fed until this returns) instead of which process ran first.
          const deadline = Date.now() + 1000;
          while (holdWriteFor && !order.some((o) => o.startsWith('ip batch:') && o.includes(holdWriteFor!)) && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 5));
          order.push('ovs-vsctl write returned');
        }
        return out;
      },
      appctl: sb.appctl,
      ip: Object.assign((args: string[]) => ip(args), {
        withInput: (args: string[], input: Promise<string>) => ip.withInput!(args, input.then(fed)),
        stream: ip.stream,
      }),
    });
  });

  after(async function () {
    await sb?.stop();
  });

  it('OVS-01 nics() lists the sandbox NICs with MAC, MTU and carrier', async function () {
    expect(await be.nics()).to.deep.equal(NICS.map((device, i) => ({ device, MAC: MACS[i], MTU: 1500, carrier: true })));
    expect(await be.read()).to.deep.equal({ bridges: {} });
  });

  it('OVS-02 start of day: xenbr0..3 on eth0..3, management IP on xenbr0, in one transaction', async function () {
    const w = writes();
    await be.apply(startOfDayPlan);
    expect(writes() - w).to.equal(1);
    expect(await be.read()).to.deep.equal(START_OF_DAY);
    expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal(['xenbr0', 'xenbr1', 'xenbr2', 'xenbr3']);
    for (let i = 0; i < 4; i++) {
      expect(await sb.vsctl(['get', 'bridge', `xenbr${i}`, 'datapath_type'])).to.equal('netdev');
      expect(await sb.vsctl(['list-ports', `xenbr${i}`])).to.equal(`eth${i}`);
      expect(await sb.vsctl(['get', 'interface', `eth${i}`, 'error', 'ofport'])).to.match(/^\[\]\n[1-9]\d*$/);
    }
    const [addr] = JSON.parse(await sb.ip(['-j', '-4', 'addr', 'show', 'dev', 'xenbr0'])) as { addr_info: { local: string; prefixlen: number }[] }[];
    expect(addr.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).to.deep.equal(['192.0.2.10/24']);
    expect(await until('ping 192.0.2.10', async () => ((await sb.ping('192.0.2.10', 500)) ? true : undefined))).to.equal(true);
  });

  it('OVS-03 seed 004: bond0 (eth0+eth3, active-backup) on xapi1 takes the management IP in ONE ovs-vsctl write', async function () {
    // Watch the management IP from the peer namespace while the move runs.
    let watching = true;
    const probes: { start: number; end: number; ok: boolean }[] = [];
    const watcher = (async () => {
      while (watching) {
        const start = Date.now();
        const ok = await sb.ping('192.0.2.10', 100);
        probes.push({ start, end: Date.now(), ok });
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const calls = be.stats.vsctlCalls;
    const ipCalls = be.stats.ipCalls;
    const w = writes();
    order.length = 0;
    const t0 = Date.now();
    holdWriteFor = 'xapi1';
    await be.apply(bondMovePlan()).finally(() => (holdWriteFor = undefined));
    const applyMs = Date.now() - t0;
    const vsctlCalls = be.stats.vsctlCalls - calls;
    await until('ping through the bond', async () => (probes.some((p) => p.start > t0 + applyMs && p.ok) ? true : undefined));
    watching = false;
    await watcher;
    // Outage: from the end of the last answered probe before the first loss to the start of the next answered one.
    const firstLost = probes.findIndex((p) => p.end >= t0 && !p.ok);
    let outage = 0;
    if (firstLost >= 0) {
      const lastOk = probes
        .slice(0, firstLost)
        .reverse()
        .find((p) => p.ok);
      const nextOk = probes.slice(firstLost).find((p) => p.ok)!;
      outage = nextOk.start - (lastOk ? lastOk.end : t0);
    }
    const lost = probes.filter((p) => p.end >= t0 && !p.ok).length;
    console.log(
      `      bond move: ${writes() - w} ovs-vsctl write, ${vsctlCalls} ovs-vsctl calls in all, ${be.stats.ipCalls - ipCalls} ip calls, apply ${applyMs} ms; ` +
        `management outage seen from the peer <= ${outage} ms (${lost} of ${probes.length} probes lost)`,
    );

    expect(writes() - w).to.equal(1);
    // The host's neighbour for the peer (learned on xenbr0) went onto xapi1 with the address, so its
    // first replies did not wait for an ARP that vswitchd's reconfiguration could lose (1 s retry).
    const [sw] = JSON.parse(await sb.peerExec('ip', ['-j', 'link', 'show', 'sw'])) as { address: string }[];
    expect(batches.join('\n')).to.contain(`neigh replace 192.0.2.1 lladdr ${sw.address} dev xapi1 nud stale`);
    // The new bridge got its address as soon as the kernel reported its device with the bond's MAC,
    // before ovs-vsctl (which waits for vswitchd's whole reconfiguration and cur_cfg) returned.
    expect(order).to.deep.equal(['ip batch: link set dev eth0 up', 'ip batch: link set dev xapi1 up', 'ovs-vsctl write returned']);
    expect(await be.read()).to.deep.equal(BONDED);
    expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal(['xapi1', 'xenbr1', 'xenbr2']);
    const list = await sb.appctl(['bond/list']);
    expect(list).to.match(/^bond0\tactive-backup\t\S+\t(eth0, eth3|eth3, eth0)$/m);
    const port = ovsRows(
      await sb.vsctl(['--format=json', '--columns=bond_mode,lacp,bond_updelay,bond_downdelay,mac,other_config', 'list', 'port', 'bond0']),
    )[0];
    expect(port.bond_mode).to.equal('active-backup');
    expect(port.lacp).to.equal('off');
    expect(port.bond_updelay).to.equal(31000);
    expect(port.bond_downdelay).to.equal(200);
    expect(port.mac).to.equal(MACS[0]);
    expect(ovsMap(port.other_config)).to.deep.equal({
      'bond-detect-mode': 'carrier',
      'bond-miimon-interval': '100',
      'bond-primary': 'eth0',
      'bond-rebalance-interval': '1800000',
    });
    // The member carrying the management MAC (eth0, where the peer's switch learned it) is the active
    // one from the start: with vswitchd's own choice it was eth3 in about half the runs, and the peer's
    // frames, still sent to eth0, were dropped until the host sent something through eth3.
    expect(await until('an active member', async () => /active member mac: \S+\((\S+)\)/.exec(await sb.appctl(['bond/show', 'bond0']))?.[1])).to.equal('eth0');
    // Members were never set down, so neither waits for the 31 s updelay.
    expect(await until('both members enabled', async () => ((await be.bondLinksUp('bond0')) === 2 ? 2 : undefined), 3000)).to.equal(2);
    expect(await sb.ping('192.0.2.10', 1000)).to.equal(true);
  });

  it('OVS-04 active-backup failover: the active member loses carrier, the other takes over', async function () {
    const active = async () => /active member mac: \S+\((\S+)\)/.exec(await sb.appctl(['bond/show', 'bond0']))?.[1];
    const first = await until('an active member', active);
    expect(['eth0', 'eth3']).to.include(first);
    const peer = sb.nics.find((n) => n.device === first)!.peer;
    await sb.peerExec('ip', ['link', 'set', peer, 'down']);
    try {
      const second = await until(
        'failover',
        async () => {
          const a = await active();
          return a && a !== first ? a : undefined;
        },
        5000,
      );
      expect(second).to.equal(first === 'eth0' ? 'eth3' : 'eth0');
      expect(await sb.appctl(['bond/show', 'bond0'])).to.match(new RegExp(`^member ${first}: disabled$`, 'm'));
      expect(await be.bondLinksUp('bond0')).to.equal(1);
      expect(await until('ping after failover', async () => ((await sb.ping('192.0.2.10', 300)) ? true : undefined))).to.equal(true);
    } finally {
      await sb.peerExec('ip', ['link', 'set', peer, 'up']);
    }
  });

  it('OVS-05 a VLAN (tag 10) on the bond is an OVS fake bridge xapi2 under xapi1, with a VIF', async function () {
    const w = writes();
    await be.apply([
      { op: 'bridge.add', bridge: 'xapi2', MTU: 1500, vlan: { parent: 'xapi1', tag: 10 } },
      { op: 'vif.add', bridge: 'xapi2', vif: 'vif1.0' },
    ]);
    expect(writes() - w).to.equal(1);
    expect(await sb.vsctl(['br-to-vlan', 'xapi2'])).to.equal('10');
    expect(await sb.vsctl(['br-to-parent', 'xapi2'])).to.equal('xapi1');
    expect(await sb.vsctl(['get', 'port', 'vif1.0', 'tag'])).to.equal('10');
    expect(await sb.vsctl(['port-to-br', 'vif1.0'])).to.equal('xapi2');
    expect(await be.read()).to.deep.equal({
      bridges: { ...BONDED.bridges, xapi2: br('xapi2', { vlan: { parent: 'xapi1', tag: 10 }, vifs: ['vif1.0'] }) },
    });
  });

  it('OVS-06 reverting to the start-of-day state restores the layout exactly', async function () {
    const w = writes();
    await be.apply([
      { op: 'vif.del', bridge: 'xapi2', vif: 'vif1.0' },
      { op: 'bridge.del', bridge: 'xapi2', MTU: 1500, vlan: { parent: 'xapi1', tag: 10 } },
      { op: 'ip.clear', bridge: 'xapi1', ip: MGMT },
      { op: 'uplink.del', bridge: 'xapi1', uplink: bond0 },
      { op: 'bridge.del', bridge: 'xapi1', MTU: 1500 },
      { op: 'bridge.add', bridge: 'xenbr0', MTU: 1500 },
      { op: 'uplink.add', bridge: 'xenbr0', uplink: nic('eth0') },
      { op: 'bridge.add', bridge: 'xenbr3', MTU: 1500 },
      { op: 'uplink.add', bridge: 'xenbr3', uplink: nic('eth3') },
      { op: 'ip.set', bridge: 'xenbr0', ip: MGMT },
    ]);
    expect(writes() - w).to.equal(1);
    expect(await be.read()).to.deep.equal(START_OF_DAY);
    expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal(['xenbr0', 'xenbr1', 'xenbr2', 'xenbr3']);
    expect(await sb.appctl(['bond/list'])).to.equal('bond\ttype\trecircID\tmembers');
    expect(await until('ping on xenbr0', async () => ((await sb.ping('192.0.2.10', 300)) ? true : undefined))).to.equal(true);
  });

  const bondOn12 = (mode: 'balance-slb' | 'lacp', properties: Record<string, string>): Uplink => ({
    kind: 'bond',
    name: 'bond1',
    members: ['eth1', 'eth2'],
    mode,
    properties,
    mac: MACS[1],
  });

  it('OVS-07 balance-slb maps to lacp=off bond_mode=balance-slb with the rebalance interval', async function () {
    const slb = bondOn12('balance-slb', {});
    await be.apply([
      { op: 'uplink.del', bridge: 'xenbr1', uplink: nic('eth1') },
      { op: 'bridge.del', bridge: 'xenbr1', MTU: 1500 },
      { op: 'uplink.del', bridge: 'xenbr2', uplink: nic('eth2') },
      { op: 'bridge.del', bridge: 'xenbr2', MTU: 1500 },
      { op: 'bridge.add', bridge: 'xapi3', MTU: 1500 },
      { op: 'uplink.add', bridge: 'xapi3', uplink: slb },
    ]);
    const port = ovsRows(
      await sb.vsctl(['--format=json', '--columns=bond_mode,lacp,bond_updelay,bond_downdelay,mac,other_config', 'list', 'port', 'bond1']),
    )[0];
    expect({ ...port, other_config: ovsMap(port.other_config) }).to.deep.equal({
      bond_mode: 'balance-slb',
      lacp: 'off',
      bond_updelay: 31000,
      bond_downdelay: 200,
      mac: MACS[1],
      other_config: { 'bond-detect-mode': 'carrier', 'bond-miimon-interval': '100', 'bond-rebalance-interval': '1800000' },
    });
    expect(await sb.appctl(['bond/show', 'bond1'])).to.match(/^next rebalance: \d+ ms$/m);
    expect((await be.read()).bridges.xapi3).to.deep.equal(br('xapi3', { uplink: slb }));
  });

  it('OVS-08 lacp maps to lacp=active, balance-tcp/balance-slb by hashing_algorithm, lacp-* keys, per-member aggregation key', async function () {
    const slb = bondOn12('balance-slb', {});
    const lacp = bondOn12('lacp', { hashing_algorithm: 'tcpudp_ports', 'lacp-time': 'fast', 'lacp-fallback-ab': 'true', 'lacp-aggregation-key': '42' });
    const memberRow = () => sb.vsctl(['get', 'interface', 'eth1', '_uuid']);
    const eth1Row = await memberRow();
    await be.apply([
      { op: 'uplink.del', bridge: 'xapi3', uplink: slb },
      { op: 'uplink.add', bridge: 'xapi3', uplink: lacp },
    ]);
    const cols = '--columns=bond_mode,lacp,bond_updelay,bond_downdelay,other_config';
    let port = ovsRows(await sb.vsctl(['--format=json', cols, 'list', 'port', 'bond1']))[0];
    expect({ ...port, other_config: ovsMap(port.other_config) }).to.deep.equal({
      bond_mode: 'balance-tcp',
      lacp: 'active',
      bond_updelay: 31000,
      bond_downdelay: 200,
      other_config: { 'bond-detect-mode': 'carrier', 'bond-miimon-interval': '100', 'lacp-time': 'fast', 'lacp-fallback-ab': 'true' },
    });
    for (const m of ['eth1', 'eth2']) expect(await sb.vsctl(['get', 'interface', m, 'other_config:lacp-aggregation-key'])).to.equal('"42"');
    expect(await memberRow(), 'mode change made in place: members kept').to.equal(eth1Row);
    expect(await sb.appctl(['bond/show', 'bond1'])).to.match(/^lacp_status: (configured|negotiated)$/m);
    expect((await be.read()).bridges.xapi3).to.deep.equal(br('xapi3', { uplink: lacp }));

    const srcMac = bondOn12('lacp', { hashing_algorithm: 'src_mac' });
    await be.apply([
      { op: 'uplink.del', bridge: 'xapi3', uplink: lacp },
      { op: 'uplink.add', bridge: 'xapi3', uplink: srcMac },
    ]);
    port = ovsRows(await sb.vsctl(['--format=json', cols, 'list', 'port', 'bond1']))[0];
    expect({ ...port, other_config: ovsMap(port.other_config) }).to.deep.equal({
      bond_mode: 'balance-slb',
      lacp: 'active',
      bond_updelay: 31000,
      bond_downdelay: 200,
      other_config: { 'bond-detect-mode': 'carrier', 'bond-miimon-interval': '100' },
    });
    expect((await be.read()).bridges.xapi3).to.deep.equal(br('xapi3', { uplink: srcMac }));
    expect(await sb.vsctl(['get', 'interface', 'eth2', 'other_config'])).to.equal('{}');
    expect(await memberRow()).to.equal(eth1Row);

    // Leaving LACP: the bond's removal is committed before its NICs are re-used (two writes).
    const w = writes();
    await be.apply([
      { op: 'uplink.del', bridge: 'xapi3', uplink: srcMac },
      { op: 'bridge.del', bridge: 'xapi3', MTU: 1500 },
      { op: 'bridge.add', bridge: 'xenbr1', MTU: 1500 },
      { op: 'uplink.add', bridge: 'xenbr1', uplink: nic('eth1') },
      { op: 'bridge.add', bridge: 'xenbr2', MTU: 1500 },
      { op: 'uplink.add', bridge: 'xenbr2', uplink: nic('eth2') },
    ]);
    expect(writes() - w).to.equal(2);
    expect(await be.read()).to.deep.equal(START_OF_DAY);
  });

  it('OVS-09 a bond over a NIC that does not exist throws BackendError at that step and changes nothing', async function () {
    const before = await be.read();
    const plan: Step[] = [
      { op: 'uplink.del', bridge: 'xenbr1', uplink: nic('eth1') },
      { op: 'bridge.del', bridge: 'xenbr1', MTU: 1500 },
      { op: 'bridge.add', bridge: 'xapi4', MTU: 1500 },
      {
        op: 'uplink.add',
        bridge: 'xapi4',
        uplink: { kind: 'bond', name: 'bond2', members: ['eth1', 'eth9'], mode: 'active-backup', properties: {}, mac: MACS[1] },
      },
    ];
    const err = await be.apply(plan).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(BackendError);
    expect((err as BackendError).step).to.equal(3);
    expect((err as BackendError).message).to.contain('eth9');
    expect(await be.read()).to.deep.equal(before);
    expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal(['xenbr0', 'xenbr1', 'xenbr2', 'xenbr3']);
  });

  it('OVS-09b a plan that will fail is refused before anything is written: a bridge name a foreign kernel device holds, a NIC that does not exist (issue 9 §4)', async function () {
    const before = await be.read();
    const w = writes();
    await sb.ip(['link', 'add', 'xapi7', 'type', 'veth', 'peer', 'name', 'xapi7p']);
    try {
      const err = await be
        .apply([
          { op: 'uplink.del', bridge: 'xenbr1', uplink: nic('eth1') },
          { op: 'bridge.add', bridge: 'xapi7', MTU: 1500 },
          { op: 'uplink.add', bridge: 'xapi7', uplink: nic('eth1') },
        ])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).step).to.equal(1);
      expect((err as BackendError).message).to.contain('xapi7 already exists on the host');
      expect(writes() - w, 'no ovs-vsctl write, so no outage and nothing to undo').to.equal(0);
      expect(await be.read()).to.deep.equal(before);
    } finally {
      await sb.ip(['link', 'del', 'xapi7']);
    }
    const err = await be
      .apply([
        { op: 'bridge.add', bridge: 'xapi7', MTU: 1500 },
        { op: 'uplink.add', bridge: 'xapi7', uplink: nic('eth9') },
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as BackendError).step).to.equal(1);
    expect((err as BackendError).message).to.contain('NIC eth9 does not exist');
    expect(writes() - w).to.equal(0);
    expect(await be.read()).to.deep.equal(before);
  });

  it('OVS-10 a failure after the OVS transaction (unreachable gateway) is undone by one inverse transaction', async function () {
    const before = await be.read();
    const w = writes();
    const err = await be.apply(bondMovePlan({ ...MGMT, gateway: '198.51.100.1' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(BackendError);
    expect((err as BackendError).step).to.equal(7);
    expect(writes() - w).to.equal(2);
    expect(await be.read()).to.deep.equal(before);
    expect(await sb.vsctl(['list-ports', 'xenbr0'])).to.equal('eth0');
    expect(await until('ping after rollback', async () => ((await sb.ping('192.0.2.10', 300)) ? true : undefined))).to.equal(true);
  });

  it('OVS-11 an Interface vswitchd cannot open (rc 0, error set) fails its step and the transaction is undone', async function () {
    // The pre-check refuses this before any write (issue 9 §4)...
    const checked = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip, vifType: 'system' });
    const refused = await checked
      .apply([
        { op: 'bridge.add', bridge: 'xapi5', MTU: 1500 },
        { op: 'vif.add', bridge: 'xapi5', vif: 'vif9.0' },
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((refused as BackendError).step).to.equal(1);
    expect((refused as BackendError).message).to.contain('VIF device vif9.0 does not exist');
    expect(checked.stats.vsctlWrites).to.equal(0);
    // ...and without it, the error vswitchd records after the commit is still found and undone.
    const strict = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip, vifType: 'system', precheck: false });
    const before = await be.read();
    const w = strict.stats.vsctlWrites;
    const err = await strict
      .apply([
        { op: 'bridge.add', bridge: 'xapi5', MTU: 1500 },
        { op: 'vif.add', bridge: 'xapi5', vif: 'vif9.0' },
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(BackendError);
    expect((err as BackendError).step).to.equal(1);
    expect((err as BackendError).message).to.match(/vif9\.0: could not open network device vif9\.0/);
    expect(strict.stats.vsctlWrites - w).to.equal(2);
    expect(await be.read()).to.deep.equal(before);
    expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal(['xenbr0', 'xenbr1', 'xenbr2', 'xenbr3']);
  });

  it('OVS-12 a write that timed out but was committed is verified by re-reading and accepted', async function () {
    const slow = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip, timeoutSeconds: 1 });
    const pid = sb.pids().vswitchd!;
    process.kill(pid, 'SIGSTOP');
    const resume = setTimeout(() => process.kill(pid, 'SIGCONT'), 1300);
    try {
      await slow.apply([{ op: 'vif.add', bridge: 'xenbr2', vif: 'vif2.0' }]);
    } finally {
      clearTimeout(resume);
      process.kill(pid, 'SIGCONT');
    }
    expect((await be.read()).bridges.xenbr2).to.deep.equal(br('xenbr2', { uplink: nic('eth2'), vifs: ['vif2.0'] }));
    await be.apply([{ op: 'vif.del', bridge: 'xenbr2', vif: 'vif2.0' }]);
    expect(await be.read()).to.deep.equal(START_OF_DAY);
  });
});
