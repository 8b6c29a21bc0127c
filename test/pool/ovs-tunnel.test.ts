// Tunnels on Open vSwitch, live (issue 9 §3): a pool master and a slave, each `node
// dist/src/main.js` on its own sandboxed Open vSwitch; the two sandboxes' wires are joined by a veth
// so both hosts share 192.0.2.0/24. The master gets a GRE and a VXLAN tunnel over its management
// PIF (tunnel.create makes only the tunnel bridge, as nm.ml); the slave's start-up sync replicates
// them (host.sync_tunnels) and plugs the copies; the remote ends are named the static way
// (tunnel other_config:remote_ip), each access PIF gets an address, and traffic crosses both tunnels.
// Every process and namespace started here is stopped here, by pid and by name.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haltMember, launchMember, type PoolMember as Member } from '../helpers/child.js';
import { startSandbox } from '../../scripts/ovs-sandbox.js';
import { xapiCall } from '../../src/pool/rpc.js';
import { until } from '../helpers/wait.js';

const NICS = ['eth0', 'eth1'];
const mac = (h: number, i: number) => `02:00:5e:1${h}:00:${(0x10 + i).toString(16)}`;
const ip = (h: number) => `192.0.2.${10 + h}`;

describe('tunnels on Open vSwitch: GRE and VXLAN between a pool master and a slave (live)', function () {
  this.timeout(120_000);
  let dir = '';
  const members: Member[] = [];
  let session = '';
  const call = async <T = any>(method: string, ...params: unknown[]): Promise<T> => {
    if (!session) session = await xapiCall<string>(members[0].url, 'session.login_with_password', ['root', 'secret']);
    return xapiCall<T>(members[0].url, method, [session, ...params]);
  };
  const hostRef = async (h: number) => Object.keys(await call<Record<string, any>>('host.get_all_records_where', `field "name_label" = "host${h}"`))[0];
  const pif = async (host: string, device: string) => {
    const recs = await call<Record<string, any>>('PIF.get_all_records');
    return Object.entries(recs).find(([, p]) => p.host === host && p.device === device && p.VLAN === '-1')?.[0];
  };
  /** The tunnel of `host` on `network`, with its access PIF. */
  const tunnelOn = async (host: string, network: string) => {
    for (const [ref, t] of Object.entries(await call<Record<string, any>>('tunnel.get_all_records'))) {
      const a = await call<Record<string, any>>('PIF.get_record', t.access_PIF);
      if (a.host === host && a.network === network)
        return { ref, access: t.access_PIF as string, device: a.device as string, attached: a.currently_attached as boolean };
    }
    return undefined;
  };
  const ping = (m: Member, addr: string) =>
    m.sb.exec('ping', ['-c', '1', '-W', '1', addr]).then(
      () => true,
      () => false,
    );

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'xnd-tun-'));
    for (const h of [0, 1]) {
      const sb = await startSandbox({ name: `tun${h}`, nics: NICS.map((device, i) => ({ device, mac: mac(h, i) })), peerAddress: `192.0.2.${1 + h}/24` });
      const inventory = join(dir, `inv${h}.json`);
      writeFileSync(
        inventory,
        JSON.stringify(
          NICS.map((device, i) => ({
            device,
            MAC: mac(h, i),
            MTU: 1500,
            ...(i === 0 ? { management: true, ip: { mode: 'Static', address: ip(h), netmask: '255.255.255.0', gateway: '', dns: '' } } : {}),
          })),
        ),
      );
      members.push({ h, sb, db: join(dir, `h${h}.db`), inventory, args: [], url: '', out: '' });
    }
    // One wire for both hosts: a veth between the two peer namespaces, on each one's `sw`.
    const [a, b] = members.map((m) => m.sb);
    await a.peerExec('ip', ['link', 'add', 'lnk', 'type', 'veth', 'peer', 'name', 'lnk', 'netns', b.peerNetns]);
    for (const s of [a, b]) await s.peerExec('ip', ['link', 'set', 'lnk', 'master', 'sw', 'up']);
    await launchMember(members[0]);
  });

  after(async () => {
    for (const m of members) await haltMember(m, 'SIGKILL');
    for (const m of members) await m.sb.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const m of members) console.log(`--- daemon ${m.h} log (tail)\n${m.out.split('\n').slice(-40).join('\n')}`);
  });

  it("TUN-OVS-01 tunnel.create on OVS makes the tunnel bridge only; the slave's start-up replicates and plugs the tunnels; static remotes carry GRE and VXLAN traffic both ways", async () => {
    const [M, S] = members;
    const h0 = await hostRef(0);
    const transport0 = (await pif(h0, 'eth0'))!;
    const nets: Record<'gre' | 'vxlan', string> = {
      gre: await call('network.create', { name_label: 'gre', name_description: '', MTU: 1500, other_config: {}, tags: [] }),
      vxlan: await call('network.create', { name_label: 'vxlan', name_description: '', MTU: 1500, other_config: {}, tags: [] }),
    };
    for (const proto of ['gre', 'vxlan'] as const) {
      await call('tunnel.create', transport0, nets[proto], proto);
      const br = await call<string>('network.get_bridge', nets[proto]);
      const t = (await tunnelOn(h0, nets[proto]))!;
      expect(t.attached).to.equal(true);
      expect(
        await M.sb.vsctl(['br-exists', br]).then(
          () => true,
          () => false,
        ),
        `${br} exists`,
      ).to.equal(true);
      expect(await M.sb.vsctl(['list-ports', br]), 'no remote end yet: no port (as nm.ml)').to.equal('');
    }

    // The slave joins: its start-up sync copies both tunnels onto its own management PIF and plugs them.
    S.args = ['--pool-master', M.url, '--pool-user', 'root', '--pool-password', 'secret', '--pool-heartbeat', '300', '--pool-max-backoff', '1000'];
    await launchMember(S);
    const h1 = await until('the slave to register', async () => hostRef(1), 30_000);
    const copies = await until(
      "the slave's tunnel copies, plugged",
      async () => {
        const g = await tunnelOn(h1, nets.gre);
        const v = await tunnelOn(h1, nets.vxlan);
        return g?.attached && v?.attached ? { gre: g, vxlan: v } : undefined;
      },
      30_000,
    );
    for (const proto of ['gre', 'vxlan'] as const) {
      expect(await call('tunnel.get_protocol', copies[proto].ref)).to.equal(proto);
      expect(await call('tunnel.get_transport_PIF', copies[proto].ref)).to.equal(await pif(h1, 'eth0'));
    }

    // Static remote ends and an address on each access PIF.
    const subnet = { gre: '10.77.1', vxlan: '10.77.2' };
    for (const [h, host, other] of [
      [0, h0, 1],
      [1, h1, 0],
    ] as const) {
      for (const proto of ['gre', 'vxlan'] as const) {
        const t = (await tunnelOn(host, nets[proto]))!;
        await call('tunnel.add_to_other_config', t.ref, 'remote_ip', ip(other));
        await call('tunnel.add_to_other_config', t.ref, 'key', proto === 'gre' ? '7' : '5001');
        await call('PIF.reconfigure_ip', t.access, 'Static', `${subnet[proto]}.${1 + h}`, '255.255.255.0', '', '');
      }
    }
    for (const [h, host, other] of [
      [0, h0, 1],
      [1, h1, 0],
    ] as const) {
      const sb = members[h].sb;
      for (const proto of ['gre', 'vxlan'] as const) {
        const t = (await tunnelOn(host, nets[proto]))!;
        const br = await call<string>('network.get_bridge', nets[proto]);
        await until(`host${h}: ${t.device} on ${br}`, async () => (await sb.vsctl(['list-ports', br])) === t.device, 10_000);
        expect(await sb.vsctl(['get', 'interface', t.device, 'type'])).to.equal(proto);
        expect(await sb.vsctl(['get', 'interface', t.device, 'options:remote_ip'])).to.equal(`"${ip(other)}"`);
        // The bridge carrying the access PIF's IP answers with that PIF's MAC (nm.ml bridge_mac), not one OVS picks.
        const dev = (JSON.parse(await sb.ip(['-j', 'link', 'show', 'dev', br])) as { address: string }[])[0];
        expect(dev.address, `host${h}: ${br} has its access PIF's MAC`).to.equal(await call('PIF.get_MAC', t.access));
      }
    }
    for (const proto of ['gre', 'vxlan'] as const) {
      await until(`host0 → host1 over ${proto}`, () => ping(M, `${subnet[proto]}.2`), 20_000);
      await until(`host1 → host0 over ${proto}`, () => ping(S, `${subnet[proto]}.1`), 20_000);
    }
    // The traffic really went through the tunnel ports: their counters moved (OVS writes statistics
    // every 5 s), and with the remote end taken away the other side is no longer reachable.
    for (const m of members) {
      for (const proto of ['gre', 'vxlan'] as const) {
        const t = (await tunnelOn(await hostRef(m.h), nets[proto]))!;
        await until(
          `host${m.h} ${t.device} tx_packets`,
          async () => Number(await m.sb.vsctl(['get', 'interface', t.device, 'statistics:tx_packets'])) > 0,
          15_000,
        );
      }
    }
    const g0 = (await tunnelOn(h0, nets.gre))!;
    await call('tunnel.remove_from_other_config', g0.ref, 'remote_ip');
    expect(await M.sb.vsctl(['list-ports', await call<string>('network.get_bridge', nets.gre)])).to.equal('');
    expect(await ping(M, `${subnet.gre}.2`), 'no GRE port, no path').to.equal(false);
    expect(await ping(M, `${subnet.vxlan}.2`), 'the VXLAN tunnel still carries').to.equal(true);
  });
});
