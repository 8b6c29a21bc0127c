// First start on a real backend without --inventory (issue 11 §2): the NICs and the management
// interface come from the host, never from the demo inventory, and first start changes nothing
// on the host. The "host" is an OVS sandbox's network namespace (eth0..eth2 veths whose peers sit
// on a Linux bridge in a peer netns); `ip -j` run in that netns is what the backend reads.
import { expect } from 'chai';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import { discoverHost } from '../../src/backends/hostnet.js';
import { OpenvswitchBackend } from '../../src/backends/ovs/backend.js';
import { Tool } from '../../src/backends/tools/exec.js';
import { IpTool } from '../../src/backends/tools/ip.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { startDaemon, type Running } from '../../src/daemon.js';
import { TEST_USERS } from '../helpers/users.js';
import { memLog } from '../helpers/log.js';

const NICS = [
  { device: 'eth0', mac: '02:11:22:33:44:00' },
  { device: 'eth1', mac: '02:11:22:33:44:01' },
  { device: 'eth2', mac: '02:11:22:33:44:02' },
];

describe('e2e: first start on a real host takes the NICs and management from the host', function () {
  this.timeout(60000);
  let sb: Sandbox;
  let r: Running | undefined;
  const cfg = (): Config => ({
    ...DEFAULTS,
    db: ':memory:',
    port: 0,
    authFailDelayMs: 10,
    backend: 'openvswitch',
    hostname: 'real',
    logLevel: 'error',
    users: TEST_USERS,
  });
  const links = async () => (JSON.parse(await sb.ip(['-j', '-d', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).sort();
  const addrs = async (dev: string) =>
    (JSON.parse(await sb.ip(['-j', '-4', 'addr', 'show', 'dev', dev])) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((a) =>
      a.addr_info.map((i) => `${i.local}/${i.prefixlen}`),
    );
  const pifs = () => [...r!.store.rows('PIF')].map(([, p]) => p);

  before(async function () {
    sb = await startSandbox({ name: 'hostnic', nics: NICS, peerAddress: '198.51.100.1/24' });
    // The host as an operator set it up: the address on eth0 itself, the default route through it,
    // and a Linux bridge somebody else made with eth2 in it.
    await sb.ip(['addr', 'add', '198.51.100.7/24', 'dev', 'eth0']);
    await sb.ip(['route', 'add', 'default', 'via', '198.51.100.1', 'dev', 'eth0']);
    await sb.ip(['link', 'add', 'br-other', 'type', 'bridge']);
    await sb.ip(['link', 'set', 'eth2', 'master', 'br-other']);
  });

  afterEach(async () => {
    await r?.close();
    r = undefined;
  });
  after(async () => {
    await sb?.stop();
  });

  it('discoverHost reads NICs (MAC, MTU, carrier, driver), foreign devices and the default-route interface', async () => {
    const be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    const h = await discoverHost(new IpTool(new Tool('ip', sb.ip)), { nics: await be.nics() });
    expect(h.nics.map((n) => [n.device, n.MAC, n.MTU, n.driver])).to.deep.equal(NICS.map((n) => [n.device, n.mac, 1500, 'veth']));
    expect(h.nics.every((n) => n.carrier)).to.equal(true);
    expect(h.foreign).to.deep.equal([{ device: 'br-other', kind: 'bridge', lower: ['eth2'] }]);
    expect(h.management).to.deep.include({ device: 'eth0', nic: 'eth0' });
    expect(h.management!.ip).to.deep.equal({ mode: 'Static', address: '198.51.100.7', netmask: '255.255.255.0', gateway: '198.51.100.1', dns: '' });
  });

  it('no --inventory: PIFs are the host NICs, management eth0 with its real address, nothing on the host changes', async () => {
    const before = { links: await links(), eth0: await addrs('eth0'), brs: await sb.vsctl(['list-br']) };
    const { log, lines } = memLog();
    const be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    r = await startDaemon(cfg(), { backend: be, log });
    const ps = pifs();
    expect(ps.map((p) => [p.device, p.MAC]).sort()).to.deep.equal(NICS.map((n) => [n.device, n.mac]));
    const demoMacs = DEMO_INVENTORY.map((n) => n.MAC);
    expect(
      ps.some((p) => demoMacs.includes(String(p.MAC))),
      'no demo MAC',
    ).to.equal(false);
    const m = ps.find((p) => p.management)!;
    expect([m.device, m.ip_configuration_mode, m.IP, m.netmask, m.gateway]).to.deep.equal(['eth0', 'Static', '198.51.100.7', '255.255.255.0', '198.51.100.1']);
    expect(m.currently_attached, 'the address sits on the NIC itself: left there').to.equal(false);
    const host = r.store.get('host', r.d.hostRef);
    expect(host.address).to.equal('198.51.100.7');
    expect(JSON.stringify([...r.store.rows('PIF')])).to.not.contain('192.0.2.10');
    expect({ links: await links(), eth0: await addrs('eth0'), brs: await sb.vsctl(['list-br']) }).to.deep.equal(before);
    expect(
      lines.some((l) => l.includes('bridge br-other (eth2), not made by xenapi-netd: listed, left alone')),
      lines.join('\n'),
    ).to.equal(true);
    expect(await sb.ping('198.51.100.7', 1000)).to.equal(true);
  });

  it('management already on a bridge with one NIC: that bridge is adopted, the PIF plugged, start-up applies no step', async () => {
    await sb.ip(['addr', 'del', '198.51.100.7/24', 'dev', 'eth0']);
    await sb.vsctl(['add-br', 'mgmtbr', '--', 'set', 'bridge', 'mgmtbr', 'datapath_type=netdev', '--', 'add-port', 'mgmtbr', 'eth0']);
    await sb.ip(['link', 'set', 'mgmtbr', 'up']);
    await sb.ip(['addr', 'add', '198.51.100.7/24', 'dev', 'mgmtbr']);
    await sb.ip(['route', 'replace', 'default', 'via', '198.51.100.1', 'dev', 'mgmtbr']);
    try {
      const be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
      const before = await be.read();
      const { log, lines } = memLog();
      r = await startDaemon(cfg(), { backend: be, log });
      const m = pifs().find((p) => p.management)!;
      expect([m.device, m.currently_attached, m.IP]).to.deep.equal(['eth0', true, '198.51.100.7']);
      expect(r.store.get('network', String(m.network)).bridge).to.equal('mgmtbr');
      expect(
        lines.filter((l) => l.includes('start-up: brought the host')),
        lines.join('\n'),
      ).to.deep.equal([]);
      expect(await be.read()).to.deep.equal(before);
      expect(await addrs('mgmtbr')).to.deep.equal(['198.51.100.7/24']);
    } finally {
      await r?.close();
      r = undefined;
      await sb.vsctl(['--if-exists', 'del-br', 'mgmtbr']);
      await sb.ip(['route', 'replace', 'default', 'via', '198.51.100.1', 'dev', 'eth0']).catch(() => undefined);
    }
  });
});
