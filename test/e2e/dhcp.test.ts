// A PIF in DHCP mode gets its address from a real DHCP client (issue 11 §2): the openvswitch
// backend starts ISC dhclient on the PIF's bridge inside the sandbox's netns, a dnsmasq the test
// starts on the peer netns' bridge (the other end of the NICs' veths) hands out a lease, and
// PIF.IP/netmask/gateway become the lease's — never the values passed to PIF.reconfigure_ip.
// Mode None releases the lease and ends the client. /etc/netns/<netns>/resolv.conf (created and
// removed here) is what `ip netns exec` shows the client as /etc/resolv.conf, so the host's own
// file is never touched.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import { OpenvswitchBackend } from '../../src/backends/ovs/backend.js';
import { localRunner } from '../../src/backends/tools/exec.js';
import { DEFAULTS, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { TEST_USERS } from '../helpers/users.js';
import { rpc } from '../helpers/child.js';
import { until } from '../helpers/wait.js';

const NICS = [
  { device: 'eth0', mac: '02:11:22:33:55:00' },
  { device: 'eth1', mac: '02:11:22:33:55:01' },
];

describe('e2e: DHCP mode runs a real client against a DHCP server in the peer namespace', function () {
  this.timeout(90000);
  let sb: Sandbox;
  let r: Running;
  let dnsmasq: ChildProcess | undefined;
  let tmp: string;
  let etcNetns: string;
  let be: OpenvswitchBackend;
  let call: <T = any>(method: string, ...params: unknown[]) => Promise<T>;
  const addrs = async (dev: string) =>
    (JSON.parse(await sb.ip(['-j', '-4', 'addr', 'show', 'dev', dev])) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((a) =>
      a.addr_info.map((i) => `${i.local}/${i.prefixlen}`),
    );
  const pifOf = async (device: string): Promise<string> => {
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    return Object.keys(all).find((ref) => all[ref].device === device && all[ref].VLAN === '-1')!;
  };

  before(async function () {
    sb = await startSandbox({ name: 'dhcp', nics: NICS, peerAddress: '198.51.100.1/24' });
    tmp = mkdtempSync(join(tmpdir(), 'xnd-dhcp-'));
    // veth and the Linux bridge leave UDP checksums to offload; the userspace datapath copies the
    // frames as they are, and dhclient drops a reply whose checksum was never filled in. A real
    // switch port sends finished frames: so does the peer here.
    for (const dev of ['sw', ...sb.nics.map((n) => n.peer)]) await sb.peerExec('ethtool', ['-K', dev, 'tx', 'off']);
    etcNetns = join('/etc/netns', sb.netns);
    mkdirSync(etcNetns, { recursive: true });
    writeFileSync(join(etcNetns, 'resolv.conf'), '# sandbox resolv.conf\n');
    // dnsmasq as a DHCP server only (--port=0: no DNS), in the foreground so this test owns its pid.
    dnsmasq = spawn(
      'ip',
      [
        'netns',
        'exec',
        sb.peerNetns,
        'dnsmasq',
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--port=0',
        '--no-hosts',
        '--no-resolv',
        '--interface=sw',
        '--bind-interfaces',
        '--dhcp-range=198.51.100.50,198.51.100.60,255.255.255.0,1h',
        '--dhcp-option=3,198.51.100.1',
        `--dhcp-leasefile=${join(tmp, 'leases')}`,
        `--pid-file=${join(tmp, 'dnsmasq.pid')}`,
        '--log-dhcp',
        `--log-facility=${join(tmp, 'dnsmasq.log')}`,
      ],
      { stdio: 'ignore' },
    );
    await until('dnsmasq pid file', async () => existsSync(join(tmp, 'dnsmasq.pid')));
    be = new OpenvswitchBackend({
      vsctl: sb.vsctl,
      appctl: sb.appctl,
      ip: sb.ip,
      dhclient: localRunner('ip', ['netns', 'exec', sb.netns, 'dhclient']),
      dhcpDir: join(tmp, 'dhcp'),
    });
    const inventory = [
      {
        device: 'eth0',
        MAC: NICS[0].mac,
        MTU: 1500,
        management: true,
        ip: { mode: 'Static' as const, address: '198.51.100.7', netmask: '255.255.255.0', gateway: '', dns: '' },
      },
      { device: 'eth1', MAC: NICS[1].mac, MTU: 1500 },
    ];
    const cfg: Config = {
      ...DEFAULTS,
      db: ':memory:',
      port: 0,
      authFailDelayMs: 10,
      backend: 'openvswitch',
      inventory,
      hostname: 'dhcp',
      logLevel: 'error',
      users: TEST_USERS,
    };
    r = await startDaemon(cfg, { backend: be, log: makeLogger({ logLevel: 'error', logFile: '' }), monitorIntervalMs: 200 });
    call = rpc(r.port).call;
  });

  after(async function () {
    await r?.close();
    // whatever the test left: the client by its pid file, then the server this test spawned
    const pidFile = join(tmp, 'dhcp', 'dhclient-xenbr1.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid > 0)
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    dnsmasq?.kill('SIGTERM');
    await sb?.stop();
    rmSync(etcNetns, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reconfigure_ip DHCP: dhclient runs on xenbr1, the lease reaches the bridge and PIF.IP/netmask/gateway', async () => {
    const eth1 = await pifOf('eth1');
    await call('PIF.reconfigure_ip', eth1, 'DHCP', '10.9.9.9', '255.0.0.0', '10.9.9.1', '');
    await call('PIF.plug', eth1);
    expect(await be.dhcp!.running('xenbr1'), 'a dhclient runs for xenbr1').to.equal(true);
    await until('a lease on xenbr1', async () => (await addrs('xenbr1')).length > 0, 30000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${existsSync(join(tmp, 'dnsmasq.log')) ? readFileSync(join(tmp, 'dnsmasq.log'), 'utf8') : 'no dnsmasq log'}`);
    });
    const [addr] = await addrs('xenbr1');
    expect(addr).to.match(/^198\.51\.100\.(5\d|60)\/24$/);
    await until('PIF.IP follows the lease', async () => (await call<string>('PIF.get_IP', eth1)) === addr.split('/')[0], 10000);
    expect(await call('PIF.get_netmask', eth1)).to.equal('255.255.255.0');
    expect(await call('PIF.get_gateway', eth1)).to.equal('198.51.100.1');
    expect(await call('PIF.get_ip_configuration_mode', eth1)).to.equal('DHCP');
    expect(readFileSync(join(tmp, 'leases'), 'utf8')).to.contain(NICS[1].mac);
  });

  it('reconfigure_ip None: the lease is released, the client ends, PIF.IP is empty', async () => {
    const eth1 = await pifOf('eth1');
    await call('PIF.reconfigure_ip', eth1, 'None', '', '', '', '');
    expect(await be.dhcp!.running('xenbr1')).to.equal(false);
    expect(await addrs('xenbr1')).to.deep.equal([]);
    expect(await call('PIF.get_IP', eth1)).to.equal('');
  });
});
