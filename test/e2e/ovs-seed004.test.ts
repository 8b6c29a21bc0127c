// Seed 004 end to end: the daemon (in this process, startDaemon with the openvswitch backend on a
// sandboxed OVS, eth0..eth3 veths whose peers sit on a Linux bridge holding 192.0.2.1/24 in a peer
// netns) driven over XML-RPC:
//   network.create MGT; Bond.create of the management PIF eth0 + eth3, active-backup
//     → `ovs-appctl bond/list` shows bond0 with both members, the management IP sits on the bond's
//       bridge and answers pings from the peer netns, xenbr0 and xenbr3 are gone;
//   VLAN.create on the bond → a fake bridge (`ovs-vsctl br-to-vlan`, `br-to-parent`);
//   the active member's peer down → bond/show makes the other member active and Bond.links_up follows (monitor);
//   Bond.destroy → backend.read() is exactly the layout before Bond.create;
//   every bond mode (and lacp's properties) reaches OVS as ovs-backend.md (b) maps it.
import { expect } from 'chai';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import { OpenvswitchBackend } from '../../src/backends/ovs/backend.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { rpc } from '../helpers/child.js';
import { until } from '../helpers/wait.js';

const NICS = ['eth0', 'eth1', 'eth2', 'eth3'];
const MGMT_IP = '192.0.2.10';

describe('e2e: seed 004 over XML-RPC against a sandboxed Open vSwitch', function () {
  this.timeout(60000);
  let sb: Sandbox;
  let be: OpenvswitchBackend;
  let r: Running;
  let call: <T = any>(method: string, ...params: unknown[]) => Promise<T>;
  const pifOf = async (device: string): Promise<string> => {
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    return Object.keys(all).find((ref) => all[ref].device === device && all[ref].physical && all[ref].VLAN === '-1')!;
  };
  const addrs = async (dev: string): Promise<string[]> => {
    const j = JSON.parse(await sb.ip(['-j', '-4', 'addr', 'show', 'dev', dev])) as { addr_info: { local: string; prefixlen: number }[] }[];
    return j.flatMap((a) => a.addr_info.map((i) => `${i.local}/${i.prefixlen}`));
  };
  const newNet = (name: string) => call<string>('network.create', { name_label: name, name_description: '', MTU: 1500, other_config: {}, tags: [] });

  before(async function () {
    sb = await startSandbox({ name: 'seed004', nics: NICS.map((device, i) => ({ device, mac: DEMO_INVENTORY[i].MAC })) });
    be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    const cfg: Config = { ...DEFAULTS, db: ':memory:', port: 0, authFailDelayMs: 10, inventory: DEMO_INVENTORY, hostname: 'ovs-e2e', logLevel: 'error' };
    r = await startDaemon(cfg, { backend: be, log: makeLogger({ logLevel: 'error', logFile: '' }), monitorIntervalMs: 200 });
    call = rpc(r.port).call;
  });

  after(async function () {
    await r?.close();
    await sb?.stop();
  });

  describe('the management bond', () => {
    let before: Awaited<ReturnType<OpenvswitchBackend['read']>>;
    let bond: string;
    let bridge: string;
    let vlan: string;

    it('E2E-01 start of day: xenbr0 carries the management IP, pingable from the peer; eth3 plugged gives xenbr3', async () => {
      await call('PIF.plug', await pifOf('eth3'));
      expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal(['xenbr0', 'xenbr3']);
      expect(await addrs('xenbr0')).to.deep.equal([`${MGMT_IP}/24`]);
      await until('ping 192.0.2.10 on xenbr0', () => sb.ping(MGMT_IP, 300));
      before = await be.read();
    });

    it('E2E-02 seed 004 Bond.create: bond/list shows bond0 with eth0 and eth3, the IP is on the bond bridge and answers, xenbr0/xenbr3 are gone', async () => {
      const mgt = await newNet('MGT');
      bridge = await call<string>('network.get_bridge', mgt);
      const dry = await call<{ steps: string[]; moves: string[]; down: string[] }>(
        'DryRun.Bond.create',
        mgt,
        [await pifOf('eth0'), await pifOf('eth3')],
        '',
        'active-backup',
        {},
      );
      expect(dry.moves).to.include.members([
        `IP ${MGMT_IP}: xenbr0 → ${bridge}`,
        `NIC eth0: xenbr0 → ${bridge} (bond bond0)`,
        `NIC eth3: xenbr3 → ${bridge} (bond bond0)`,
      ]);
      expect(dry.down).to.include.members(['bridge xenbr0', 'bridge xenbr3']);
      expect(await be.read(), 'a dry run leaves OVS alone').to.deep.equal(before);

      const writes = be.stats.vsctlWrites;
      bond = await call<string>('Bond.create', mgt, [await pifOf('eth0'), await pifOf('eth3')], '', 'active-backup', {});
      expect(be.stats.vsctlWrites - writes, 'ovs-vsctl write transactions for Bond.create').to.equal(1);
      expect(r.reconciler.last.lines).to.deep.equal(dry.steps);

      const list = await sb.appctl(['bond/list']);
      const row = list.split('\n').find((l) => l.startsWith('bond0'));
      expect(row, list).to.not.equal(undefined);
      expect(row).to.contain('active-backup');
      expect(
        row!
          .split('\t')
          .pop()!
          .split(',')
          .map((s) => s.trim())
          .sort(),
      ).to.deep.equal(['eth0', 'eth3']);
      expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal([bridge]);
      expect(await sb.vsctl(['port-to-br', 'bond0'])).to.equal(bridge);
      expect(await addrs(bridge)).to.deep.equal([`${MGMT_IP}/24`]);
      await until('ping 192.0.2.10 through the bond', () => sb.ping(MGMT_IP, 300));
      // The database agrees: the master is the management PIF with the IP; links_up follows the host.
      const master = await call<Record<string, any>>('PIF.get_record', await call('Bond.get_master', bond));
      expect([master.device, master.management, master.currently_attached, master.IP]).to.deep.equal(['bond0', true, true, MGMT_IP]);
      await until('both members enabled', async () => (await be.bondLinksUp('bond0')) === 2);
      await until('Bond.links_up = 2', async () => (await call('Bond.get_links_up', bond)) === '2');
    });

    it('E2E-03 VLAN.create on the bond gives an OVS fake bridge on the bond bridge', async () => {
      const master = await call<string>('Bond.get_master', bond);
      const vnet = await newNet('v100');
      vlan = await call<string>('VLAN.create', master, 100, vnet);
      const vbr = await call<string>('network.get_bridge', vnet);
      expect(await sb.vsctl(['br-to-vlan', vbr])).to.equal('100');
      expect(await sb.vsctl(['br-to-parent', vbr])).to.equal(bridge);
      expect(await sb.vsctl(['get', 'port', vbr, 'fake_bridge'])).to.equal('true');
    });

    it("E2E-04 the active member's peer down: the other member becomes active (bond/show) and Bond.links_up follows", async () => {
      const show0 = await sb.appctl(['bond/show', 'bond0']);
      expect(show0).to.match(/member eth0: enabled/);
      expect(show0).to.match(/member eth3: enabled/);
      const active = /active (?:member|slave) mac: .*\((eth\d)\)/.exec(show0)?.[1];
      expect(active, show0).to.be.oneOf(['eth0', 'eth3']);
      const other = active === 'eth0' ? 'eth3' : 'eth0';
      const peer = sb.nics.find((n) => n.device === active)!.peer;
      await sb.peerExec('ip', ['link', 'set', peer, 'down']);
      try {
        const show = await until(`${other} active`, async () => {
          const s = await sb.appctl(['bond/show', 'bond0']);
          return new RegExp(`member ${active}: disabled`).test(s) && new RegExp(`active (member|slave) mac: .*\\(${other}\\)`).test(s) ? s : undefined;
        });
        expect(show).to.match(new RegExp(`member ${other}: enabled`));
        await until('Bond.links_up = 1', async () => (await call('Bond.get_links_up', bond)) === '1');
        await until(`ping 192.0.2.10 through ${other}`, () => sb.ping(MGMT_IP, 300));
      } finally {
        await sb.peerExec('ip', ['link', 'set', peer, 'up']);
      }
    });

    it('E2E-05 VLAN.destroy then Bond.destroy restore exactly the layout before Bond.create', async () => {
      await call('VLAN.destroy', vlan);
      const writes = be.stats.vsctlWrites;
      await call('Bond.destroy', bond);
      expect(be.stats.vsctlWrites - writes).to.equal(1);
      expect(await be.read()).to.deep.equal(before);
      expect((await sb.vsctl(['list-br'])).split('\n')).to.deep.equal(['xenbr0', 'xenbr3']);
      expect(await addrs('xenbr0')).to.deep.equal([`${MGMT_IP}/24`]);
      await until('ping 192.0.2.10 on xenbr0 again', () => sb.ping(MGMT_IP, 300));
      expect(await call('Bond.get_all')).to.deep.equal([]);
    });
  });

  describe('bond modes reach OVS as the mapping table says (ovs-backend.md (b))', () => {
    const port = async (col: string) => (await sb.vsctl(['get', 'port', 'bond0', col])).replace(/^"|"$/g, '');
    const portOther = async () =>
      JSON.parse(await sb.vsctl(['--format=json', '--columns=other_config', 'list', 'port', 'bond0'])).data[0][0][1] as [string, string][];
    const cases: {
      mode: string;
      props: Record<string, string>;
      bondMode: string;
      lacp: string;
      other: Record<string, string>;
      memberOther?: Record<string, string>;
    }[] = [
      {
        mode: 'balance-slb',
        props: {},
        bondMode: 'balance-slb',
        lacp: 'off',
        other: { 'bond-detect-mode': 'carrier', 'bond-miimon-interval': '100', 'bond-rebalance-interval': '1800000' },
      },
      {
        mode: 'active-backup',
        props: {},
        bondMode: 'active-backup',
        lacp: 'off',
        // eth1, the primary slave, whose MAC the bond takes, is the member the bond prefers.
        other: { 'bond-detect-mode': 'carrier', 'bond-miimon-interval': '100', 'bond-primary': 'eth1', 'bond-rebalance-interval': '1800000' },
      },
      {
        mode: 'lacp',
        props: {},
        bondMode: 'balance-tcp',
        lacp: 'active',
        other: { 'bond-detect-mode': 'carrier', 'bond-miimon-interval': '100', 'lacp-fallback-ab': 'true', 'lacp-time': 'slow' },
      },
      {
        mode: 'lacp',
        props: { hashing_algorithm: 'src_mac', 'lacp-time': 'fast', 'lacp-fallback-ab': 'false', 'lacp-aggregation-key': '42' },
        bondMode: 'balance-slb',
        lacp: 'active',
        other: { 'bond-detect-mode': 'carrier', 'bond-miimon-interval': '100', 'lacp-fallback-ab': 'false', 'lacp-time': 'fast' },
        memberOther: { 'lacp-aggregation-key': '42' },
      },
    ];
    const activeMember = async () => /active member mac: \S+\((\S+)\)/.exec(await sb.appctl(['bond/show', 'bond0']))?.[1];
    for (const c of cases) {
      it(`E2E-MODE ${c.mode} ${JSON.stringify(c.props)} → bond_mode=${c.bondMode} lacp=${c.lacp}`, async () => {
        const net = await newNet(`bond ${c.mode}`);
        // A bond master is plugged when one of its members was (xapi_bond.ml): plug eth1 first.
        await call('PIF.plug', await pifOf('eth1'));
        const bond = await call<string>('Bond.create', net, [await pifOf('eth1'), await pifOf('eth2')], '', c.mode, c.props);
        try {
          const br = await call<string>('network.get_bridge', net);
          expect(await sb.vsctl(['port-to-br', 'bond0'])).to.equal(br);
          expect(await port('bond_mode')).to.equal(c.bondMode);
          expect(await port('lacp')).to.equal(c.lacp);
          expect(await port('bond_updelay')).to.equal('31000');
          expect(await port('bond_downdelay')).to.equal('200');
          expect(Object.fromEntries(await portOther())).to.deep.equal(c.other);
          const mac = await call<string>('PIF.get_MAC', await call('Bond.get_master', bond));
          expect((await port('mac')).toLowerCase()).to.equal(mac.toLowerCase());
          for (const m of ['eth1', 'eth2']) {
            const oc = JSON.parse(await sb.vsctl(['--format=json', '--columns=other_config', 'list', 'interface', m])).data[0][0][1] as [string, string][];
            expect(Object.fromEntries(oc), `${m} other_config`).to.deep.equal(c.memberOther ?? {});
          }
          expect(await sb.appctl(['bond/show', 'bond0'])).to.match(new RegExp(`bond_mode: ${c.bondMode}`));
          if (c.mode === 'active-backup') expect(await until('an active member', activeMember)).to.equal('eth1');
          // What OVS holds reads back as exactly what the database asks for.
          expect((await r.reconciler.plan(r.store)).lines).to.deep.equal([]);
        } finally {
          await call('Bond.destroy', bond);
        }
        expect(await sb.vsctl(['--if-exists', 'port-to-br', 'bond0']).catch(() => '')).to.equal('');
      });
    }
  });
});
