// Bonds against a real partner: the daemon (in this process, startDaemon with the openvswitch
// backend on a sandboxed OVS, eth0..eth3) driven over XML-RPC, while the peer ends p0..p3 sit on a
// SECOND isolated Open vSwitch in the peer netns (startSandbox peer: 'ovs'). There p1 and p2 are
// moved out of `sw` into a bond `lag0` on a bridge `lag` of their own (holding 198.51.100.1/24),
// so 198.51.100.0/24 is reachable from the peer netns only across p1/p2 ↔ eth1/eth2:
//   LACP-01 Bond.create eth1+eth2 mode lacp (lacp-time=fast) against lag0 lacp=active
//           (other_config:lacp-time=fast): `ovs-appctl lacp/show` on both sides says
//           "status: active negotiated", both members "current", each side's partner sys_id is
//           the other side's actor sys_id; `bond/show` says "lacp_status: negotiated" with both
//           members enabled on both sides; the bond master's IP (PIF.reconfigure_ip) answers
//           pings from the peer; Bond.links_up = 2.
//   LACP-02 p1 down: the bond stays negotiated on eth2 alone, pings still cross, and the daemon's
//           bond monitor (default interval, 1 s) brings Bond.links_up to 1.
//   LACP-03 balance-slb on eth1+eth2 against lag0 bond_mode=balance-slb lacp=off: both members
//           enabled on both sides, pings cross, Bond.links_up = 2.
import { expect } from 'chai';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import { OpenvswitchBackend } from '../../src/backends/ovs/backend.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { rpc } from '../helpers/child.js';
import { until } from '../helpers/wait.js';

const NICS = ['eth0', 'eth1', 'eth2', 'eth3'];
const BOND_IP = '198.51.100.10';
const PEER_LAG_IP = '198.51.100.1/24';

/** `ovs-appctl lacp/show <bond>` (OVS 3.1), parsed. */
interface LacpShow {
  status: string;
  sysId: string;
  lacpTime: string;
  members: Record<string, { state: string; actorSysId: string; partnerSysId: string }>;
}
function parseLacpShow(out: string): LacpShow {
  const field = (text: string, key: string) => new RegExp(`^\\s*${key}: (.*)$`, 'm').exec(text)?.[1].trim() ?? '';
  const [head, ...blocks] = out.split(/^member: /m);
  const members: LacpShow['members'] = {};
  for (const b of blocks) {
    const m = /^(\S+): (.*)$/m.exec(b)!;
    members[m[1]] = { state: m[2].trim(), actorSysId: field(b, 'actor sys_id'), partnerSysId: field(b, 'partner sys_id') };
  }
  return { status: field(head, 'status'), sysId: field(head, 'sys_id'), lacpTime: field(head, 'lacp_time'), members };
}

describe('e2e: bonds against a second sandboxed Open vSwitch as the partner (LACP, balance-slb)', function () {
  this.timeout(60000);
  let sb: Sandbox;
  let be: OpenvswitchBackend;
  let r: Running;
  let call: <T = any>(method: string, ...params: unknown[]) => Promise<T>;
  let net: string;
  const pifOf = async (device: string): Promise<string> => {
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    return Object.keys(all).find((ref) => all[ref].device === device && all[ref].physical && all[ref].VLAN === '-1')!;
  };
  const hostLacp = async () => parseLacpShow(await sb.appctl(['lacp/show', 'bond0']));
  const peerLacp = async () => parseLacpShow(await sb.peerAppctl(['lacp/show', 'lag0']));
  const enabled = (show: string) => [...show.matchAll(/^member (\S+): enabled$/gm)].map((m) => m[1]).sort();
  const linksUp = async (bond: string) => call<string>('Bond.get_links_up', bond);
  /** The partner's bond lag0 over p1+p2 with the given columns, in its own transaction after any removal. */
  const peerBond = async (cols: string[]) => {
    await sb.peerVsctl(['--timeout=20', '--', '--if-exists', 'del-port', 'lag', 'lag0']);
    await sb.peerVsctl(['--timeout=20', '--', 'add-bond', 'lag', 'lag0', 'p1', 'p2', ...cols]);
  };
  /** What to look at when a ping does not cross: addresses, neighbours, FDBs, bonds, datapath flows, both sides. */
  const diag = async (): Promise<string> => {
    const out: string[] = [];
    const grab = async (label: string, f: () => Promise<string>) => {
      out.push(`--- ${label}`, await f().catch((e: Error) => `(${e.message})`));
    };
    await grab('host ip addr', () => sb.ip(['-br', 'addr']));
    await grab('host ip neigh', () => sb.ip(['neigh']));
    await grab('host ip route', () => sb.ip(['route']));
    await grab('peer ip addr', () => sb.peerExec('ip', ['-br', 'addr']));
    await grab('peer ip neigh', () => sb.peerExec('ip', ['neigh']));
    await grab('host bond/show', () => sb.appctl(['bond/show']));
    await grab('peer bond/show', () => sb.peerAppctl(['bond/show']));
    await grab('host fdb', async () =>
      (await Promise.all((await sb.vsctl(['list-br'])).split('\n').map(async (b) => `${b}:\n${await sb.appctl(['fdb/show', b])}`))).join('\n'),
    );
    await grab('peer fdb lag', () => sb.peerAppctl(['fdb/show', 'lag']));
    await grab('host dpctl', () => sb.appctl(['dpctl/dump-flows']));
    await grab('peer dpctl', () => sb.peerAppctl(['dpctl/dump-flows']));
    await grab('host ovs-vsctl show', () => sb.vsctl(['show']));
    return out.join('\n');
  };
  const pingOrDiag = async (what: string) => {
    try {
      await until(what, () => sb.ping(BOND_IP, 300));
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await diag()}`);
    }
  };
  /** The partner resolved the bond's IP to the bond bridge's MAC (the master PIF's), not to a member NIC's. */
  const arpIsMaster = async (bond: string) => {
    const mac = (await call<string>('PIF.get_MAC', await call<string>('Bond.get_master', bond))).toLowerCase();
    const neigh = await sb.peerExec('ip', ['neigh', 'show', BOND_IP, 'dev', 'lag']);
    expect(neigh, 'peer ARP entry').to.contain(`lladdr ${mac}`);
  };
  const masterIp = async (bond: string) => {
    const master = await call<string>('Bond.get_master', bond);
    if ((await call<string>('PIF.get_IP', master)) !== BOND_IP) await call('PIF.reconfigure_ip', master, 'Static', BOND_IP, '255.255.255.0', '', '');
    return master;
  };

  before(async function () {
    sb = await startSandbox({ name: 'lacp', nics: NICS.map((device, i) => ({ device, mac: DEMO_INVENTORY[i].MAC })), peer: 'ovs' });
    // The partner: p1, p2 leave the plain switch `sw` for a bridge `lag` of their own with 198.51.100.1/24.
    await sb.peerVsctl([
      '--timeout=20',
      '--',
      'del-port',
      'sw',
      'p1',
      '--',
      'del-port',
      'sw',
      'p2',
      '--',
      'add-br',
      'lag',
      '--',
      'set',
      'bridge',
      'lag',
      'datapath_type=netdev',
      'fail_mode=standalone',
    ]);
    await sb.peerExec('ip', ['addr', 'add', PEER_LAG_IP, 'dev', 'lag']);
    await sb.peerExec('ip', ['link', 'set', 'lag', 'up']);
    be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    const cfg: Config = { ...DEFAULTS, db: ':memory:', port: 0, authFailDelayMs: 10, inventory: DEMO_INVENTORY, hostname: 'ovs-lacp', logLevel: 'error' };
    // The bond monitor at its default interval for this backend (1 s).
    r = await startDaemon(cfg, { backend: be, log: makeLogger({ logLevel: 'error', logFile: '' }) });
    call = rpc(r.port).call;
    net = await call<string>('network.create', { name_label: 'LAG', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    // A bond master is plugged when one of its members was (xapi_bond.ml): plug eth1 first.
    await call('PIF.plug', await pifOf('eth1'));
  });

  after(async function () {
    await r?.close();
    await sb?.stop();
  });

  describe('lacp', () => {
    let bond: string;

    it('LACP-01 negotiates with the partner on both sides (lacp/show, bond/show), traffic crosses, Bond.links_up = 2', async () => {
      await peerBond(['lacp=active', 'bond_mode=balance-tcp', 'other_config:lacp-time=fast']);
      bond = await call<string>('Bond.create', net, [await pifOf('eth1'), await pifOf('eth2')], '', 'lacp', { 'lacp-time': 'fast' });
      const master = await masterIp(bond);
      expect(await sb.vsctl(['get', 'port', 'bond0', 'lacp'])).to.equal('active');

      const [host, peer] = await until('LACP negotiated on both sides', async () => {
        const h = await hostLacp();
        const p = await peerLacp();
        const current = (s: LacpShow, ms: string[]) => ms.every((m) => /^current\b/.test(s.members[m]?.state ?? ''));
        return h.status === 'active negotiated' && p.status === 'active negotiated' && current(h, ['eth1', 'eth2']) && current(p, ['p1', 'p2'])
          ? ([h, p] as const)
          : undefined;
      });
      expect(host.lacpTime).to.equal('fast');
      expect(peer.lacpTime).to.equal('fast');
      expect(Object.keys(host.members).sort()).to.deep.equal(['eth1', 'eth2']);
      expect(Object.keys(peer.members).sort()).to.deep.equal(['p1', 'p2']);
      expect(host.sysId).to.not.equal(peer.sysId);
      // The host's LACP system id is its bond bridge's MAC, which is the bond master PIF's MAC.
      expect(host.sysId).to.equal((await call<string>('PIF.get_MAC', master)).toLowerCase());
      for (const [m, s] of Object.entries(host.members)) {
        expect(s.state, `host ${m}`).to.equal('current attached');
        expect(s.actorSysId, `host ${m} actor`).to.equal(host.sysId);
        expect(s.partnerSysId, `host ${m} partner`).to.equal(peer.sysId);
      }
      for (const [m, s] of Object.entries(peer.members)) {
        expect(s.state, `peer ${m}`).to.equal('current attached');
        expect(s.actorSysId, `peer ${m} actor`).to.equal(peer.sysId);
        expect(s.partnerSysId, `peer ${m} partner`).to.equal(host.sysId);
      }

      const hostShow = await until('both host members enabled', async () => {
        const s = await sb.appctl(['bond/show', 'bond0']);
        return enabled(s).length === 2 ? s : undefined;
      });
      expect(hostShow).to.match(/^lacp_status: negotiated$/m);
      expect(hostShow).to.match(/^bond_mode: balance-tcp$/m);
      expect(enabled(hostShow)).to.deep.equal(['eth1', 'eth2']);
      const peerShow = await sb.peerAppctl(['bond/show', 'lag0']);
      expect(peerShow).to.match(/^lacp_status: negotiated$/m);
      expect(enabled(peerShow)).to.deep.equal(['p1', 'p2']);

      await pingOrDiag(`ping ${BOND_IP} across the LACP bond`);
      await arpIsMaster(bond);
      await until('Bond.links_up = 2', async () => (await linksUp(bond)) === '2', 5000);
    });

    it('LACP-02 a partner link down: the bond stays up and negotiated on the other member, pings cross, Bond.links_up follows to 1', async () => {
      await sb.peerExec('ip', ['link', 'set', 'p1', 'down']);
      try {
        const show = await until('eth1 disabled, eth2 enabled', async () => {
          const s = await sb.appctl(['bond/show', 'bond0']);
          return /^member eth1: disabled$/m.test(s) && /^member eth2: enabled$/m.test(s) ? s : undefined;
        });
        expect(show).to.match(/^lacp_status: negotiated$/m);
        expect(enabled(show)).to.deep.equal(['eth2']);
        const host = await hostLacp();
        expect(host.status).to.equal('active negotiated');
        expect(host.members.eth2.state).to.equal('current attached');
        expect(host.members.eth2.partnerSysId).to.equal((await peerLacp()).sysId);
        expect(enabled(await sb.peerAppctl(['bond/show', 'lag0']))).to.deep.equal(['p2']);
        await pingOrDiag(`ping ${BOND_IP} across eth2 alone`);
        // The monitor polls every second: allow a few rounds.
        await until('Bond.links_up = 1', async () => (await linksUp(bond)) === '1', 5000);
      } finally {
        await sb.peerExec('ip', ['link', 'set', 'p1', 'up']);
      }
    });

    after(async () => {
      if (bond) await call('Bond.destroy', bond);
    });
  });

  describe('balance-slb', () => {
    it("LACP-03 balance-slb with two members against the partner's balance-slb bond: both enabled, pings cross, Bond.links_up = 2", async () => {
      expect(await sb.vsctl(['--if-exists', 'port-to-br', 'bond0']).catch(() => '')).to.equal('');
      await peerBond(['lacp=off', 'bond_mode=balance-slb']);
      await call('PIF.plug', await pifOf('eth1'));
      const bond = await call<string>('Bond.create', net, [await pifOf('eth1'), await pifOf('eth2')], '', 'balance-slb', {});
      try {
        await masterIp(bond);
        expect(await sb.vsctl(['get', 'port', 'bond0', 'lacp'])).to.equal('off');
        const show = await until('both host members enabled', async () => {
          const s = await sb.appctl(['bond/show', 'bond0']);
          return enabled(s).length === 2 ? s : undefined;
        });
        expect(show).to.match(/^bond_mode: balance-slb$/m);
        expect(show).to.match(/^lacp_status: off$/m);
        expect(enabled(show)).to.deep.equal(['eth1', 'eth2']);
        const peerShow = await until('both partner members enabled', async () => {
          const s = await sb.peerAppctl(['bond/show', 'lag0']);
          return enabled(s).length === 2 ? s : undefined;
        });
        expect(peerShow).to.match(/^bond_mode: balance-slb$/m);
        await pingOrDiag(`ping ${BOND_IP} across the balance-slb bond`);
        await arpIsMaster(bond);
        await until('Bond.links_up = 2', async () => (await linksUp(bond)) === '2', 5000);
      } finally {
        await call('Bond.destroy', bond);
      }
    });
  });
});
