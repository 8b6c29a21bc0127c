// Seed 004 end to end with real processes: a pool master and two slaves, each `node
// dist/src/main.js` with its own database and its own sandboxed Open vSwitch in its own network
// namespace (scripts/ovs-sandbox.ts); the daemons listen on loopback in the root namespace. Needs
// root and openvswitch-switch (installed by `make test`). Every process and namespace started
// here is stopped here, by pid and by name.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haltMember as halt, launchMember as launch, type PoolMember as Member } from '../helpers/child.js';
import { startSandbox } from '../../scripts/ovs-sandbox.js';
import { RemoteFailure, xapiCall } from '../../src/pool/rpc.js';
import { until } from '../helpers/wait.js';

const NICS = ['eth0', 'eth1', 'eth2', 'eth3'];
const mac = (h: number, i: number) => `02:00:5e:0${h}:00:${(0x10 + i).toString(16)}`;
const ip = (h: number) => `192.0.2.${10 + h}`;

describe('pool of three daemons over sandboxed Open vSwitch (seed 004)', function () {
  this.timeout(180_000);
  let dir = '';
  const members: Member[] = [];
  let M: Member, S1: Member, S2: Member;
  let session = '';
  const call = async <T = any>(method: string, ...params: unknown[]): Promise<T> => {
    if (!session) session = await xapiCall<string>(M.url, 'session.login_with_password', ['root', 'secret']);
    return xapiCall<T>(M.url, method, [session, ...params]);
  };
  const hostOf = async (m: Member) => await call<Record<string, any>>('host.get_all_records_where', `field "name_label" = "host${m.h}"`);
  const hostRef = async (m: Member) => Object.keys(await hostOf(m))[0];
  const pif = async (host: string, device: string) => {
    const recs = await call<Record<string, any>>('PIF.get_all_records');
    const r = Object.entries(recs).filter(([, p]) => p.host === host && p.device === device && p.physical && p.VLAN === '-1');
    if (r.length !== 1) throw new Error(`no single PIF ${device} on ${host}`);
    return r[0][0];
  };
  const bondsByHost = async () => {
    const bonds = await call<Record<string, any>>('Bond.get_all_records');
    const out: Record<string, string[]> = {};
    for (const [ref, b] of Object.entries(bonds)) {
      const h = await call<string>('PIF.get_host', b.master);
      (out[h] ??= []).push(ref);
    }
    return out;
  };
  const live = async (m: Member) => {
    const h = await hostRef(m);
    return h ? call<boolean>('host_metrics.get_live', await call('host.get_metrics', h)) : false;
  };
  const addrOn = async (m: Member, bridge: string) => m.sb.ip(['-4', '-o', 'addr', 'show', 'dev', bridge]);
  /** The bond port of `bridge` and its interfaces, from ovsdb. */
  const bondOn = async (m: Member, bridge: string) => {
    const ports = (await m.sb.vsctl(['list-ports', bridge])).split('\n').filter((p) => /^bond\d+$/.test(p));
    if (ports.length !== 1) return undefined;
    const uuids = (await m.sb.vsctl(['get', 'port', ports[0], 'interfaces']))
      .replace(/[[\]\s]/g, '')
      .split(',')
      .filter(Boolean);
    const names = await Promise.all(uuids.map((u) => m.sb.vsctl(['get', 'interface', u, 'name'])));
    return { port: ports[0], members: names.map((n) => n.replace(/"/g, '')).sort() };
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'xnd-pool-mp-'));
    for (const h of [0, 1, 2]) {
      const sb = await startSandbox({ name: `pool${h}`, nics: NICS.map((device, i) => ({ device, mac: mac(h, i) })), peerAddress: '192.0.2.1/24' });
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
    [M, S1, S2] = members;
    // A short forwarded-call timeout (the flag under test in POOL-MP-05).
    M.args = ['--pool-call-timeout', '1500'];
    await launch(M);
    for (const s of [S1, S2]) {
      s.args = ['--pool-master', M.url, '--pool-user', 'root', '--pool-password', 'secret', '--pool-heartbeat', '300', '--pool-max-backoff', '1000'];
      await launch(s);
    }
    await until('both slaves to register', async () => (await live(S1)) && (await live(S2)), 30_000);
  });

  after(async () => {
    for (const m of members) await halt(m, 'SIGKILL');
    for (const m of members) await m.sb.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const m of members) console.log(`--- daemon ${m.h} log (tail)\n${m.out.split('\n').slice(-40).join('\n')}`);
  });

  it('POOL-MP-01 clients calling a slave get HOST_IS_SLAVE [master]; every slave has its management IP', async () => {
    try {
      await xapiCall(S1.url, 'session.login_with_password', ['root', 'secret']);
      expect.fail('login on a slave succeeded');
    } catch (e) {
      expect((e as RemoteFailure).details).to.deep.equal(['HOST_IS_SLAVE', new URL(M.url).hostname]);
    }
    expect(await addrOn(S1, 'xenbr0')).to.include(`${ip(1)}/24`);
    expect(await addrOn(S2, 'xenbr0')).to.include(`${ip(2)}/24`);
    expect(Object.keys(await call('host.get_all'))).to.have.length(3);
  });

  let mgt = '';
  let mgtBridge = '';
  let v100 = '';
  let bondPif = '';

  it("POOL-MP-02 seed 004: Bond.create of the master's management PIF with eth3; a restarted slave gets the bond on MGT with its own IP, and the VLAN on it; its start of day brings eth1 up again", async () => {
    mgt = await call('network.create', { name_label: 'MGT', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
    mgtBridge = await call('network.get_bridge', mgt);
    const mh = await hostRef(M);
    const mgmt = await call<string>('host.get_management_interface', mh);
    const bond = await call<string>('Bond.create', mgt, [mgmt, await pif(mh, 'eth3')], '', 'active-backup', {});
    bondPif = await call('Bond.get_master', bond);
    v100 = await call('network.create', { name_label: 'V100', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
    await call('VLAN.create', bondPif, 100, v100);
    expect(await M.sb.appctl(['bond/list'])).to.match(/active-backup\t.*eth0, eth3|active-backup\t.*eth3, eth0/);
    // Only the master has a bond until a slave's toolstack restarts.
    expect(Object.keys(await bondsByHost())).to.deep.equal([mh]);
    // eth1 unplugged before the restart: the slave's start of day (as xapi's) brings it up again.
    const s1eth1 = await pif(await hostRef(S1), 'eth1');
    if (await call<boolean>('PIF.get_currently_attached', s1eth1)) await call('PIF.unplug', s1eth1);
    expect(await S1.sb.vsctl(['list-br'])).to.not.match(/^xenbr1$/m);
    await halt(S1);
    await launch(S1);
    const s1 = await hostRef(S1);
    // The master commits the sync after the slave has applied it: the database is waited for first.
    await until('start of day to plug eth1 on slave 1', async () => call<boolean>('PIF.get_currently_attached', s1eth1), 30_000);
    expect(await S1.sb.vsctl(['list-ports', 'xenbr1'])).to.equal('eth1');
    await until('the bond on slave 1', async () => (await bondsByHost())[s1]?.length === 1 && (await bondOn(S1, mgtBridge)), 30_000);
    const list = await S1.sb.appctl(['bond/list']);
    expect(list).to.match(/bond\d+\tactive-backup\t\d+\t(eth0, eth3|eth3, eth0)/);
    expect((await bondOn(S1, mgtBridge))!.members).to.deep.equal(['eth0', 'eth3']);
    expect(await addrOn(S1, mgtBridge)).to.include(`${ip(1)}/24`);
    expect(await S1.sb.vsctl(['list-br'])).to.not.match(/^xenbr0$/m);
    const v100Bridge = await call<string>('network.get_bridge', v100);
    expect(await S1.sb.vsctl(['br-to-vlan', v100Bridge])).to.equal('100');
    expect(await S1.sb.vsctl(['br-to-parent', v100Bridge])).to.equal(mgtBridge);
    const vlanPifs = Object.values(await call<Record<string, any>>('PIF.get_all_records')).filter((p) => p.host === s1 && p.VLAN === '100');
    expect(vlanPifs.map((p) => p.network)).to.deep.equal([v100]);
    await until('slave 1 to answer pings', async () => S1.sb.ping(ip(1), 1000), 8_000);
  });

  it('POOL-MP-03 a slave restarted without eth3 and with eth0 in another bond: that bond is destroyed first and a partial bond over eth0 carries its IP', async () => {
    const s2 = await hostRef(S2);
    const other = await call<string>('network.create', { name_label: 'OTHER', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
    const otherBridge = await call<string>('network.get_bridge', other);
    // Forwarded to slave 2's daemon: its eth0 (management) and eth1 become a bond on OTHER.
    const old = await call<string>('Bond.create', other, [await pif(s2, 'eth0'), await pif(s2, 'eth1')], '', 'balance-slb', {});
    expect((await bondOn(S2, otherBridge))!.members).to.deep.equal(['eth0', 'eth1']);
    expect(await addrOn(S2, otherBridge)).to.include(`${ip(2)}/24`);
    await halt(S2);
    await S2.sb.ip(['link', 'del', 'eth3']);
    await launch(S2);
    await until(
      'the partial bond on slave 2',
      async () => (await bondOn(S2, mgtBridge)) && !(await call<Record<string, any>>('Bond.get_all_records'))[old],
      30_000,
    );
    expect((await bondOn(S2, mgtBridge))!.members).to.deep.equal(['eth0']);
    expect(await addrOn(S2, mgtBridge)).to.include(`${ip(2)}/24`);
    expect(await S2.sb.vsctl(['list-br'])).to.not.include(otherBridge);
    const byHost = await bondsByHost();
    expect(Object.values(byHost).map((b) => b.length)).to.deep.equal([1, 1, 1]);
    expect(Object.keys(byHost).sort()).to.deep.equal([await hostRef(M), await hostRef(S1), s2].sort());
    const v100Bridge = await call<string>('network.get_bridge', v100);
    expect(await S2.sb.vsctl(['br-to-parent', v100Bridge])).to.equal(mgtBridge);
    await until('slave 2 to answer pings', async () => S2.sb.ping(ip(2), 1000), 8_000);
  });

  it("POOL-MP-05 a SIGSTOPped slave: PIF.plug on it fails fast naming the host, the master's other writes do not wait, and after SIGCONT the slave never applies the abandoned change and resyncs", async () => {
    const s1 = await hostRef(S1);
    const eth2 = await pif(s1, 'eth2');
    if (await call<boolean>('PIF.get_currently_attached', eth2)) await call('PIF.unplug', eth2);
    const eth2Bridge = async () => (await S1.sb.vsctl(['list-ports', 'xenbr2']).catch(() => '')).split('\n').includes('eth2');
    expect(await eth2Bridge()).to.equal(false);
    S1.proc!.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      const plug = call('PIF.plug', eth2).then(
        () => undefined,
        (e) => e as RemoteFailure,
      );
      await new Promise((r) => setTimeout(r, 300));
      // While the master waits for the stopped slave, its other writes go through.
      const t1 = Date.now();
      const net = await call<string>('network.create', { name_label: 'DURING', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
      const during = Date.now() - t1;
      const err = await plug;
      const waited = Date.now() - t0;
      expect(err?.details).to.deep.equal(['CANNOT_CONTACT_HOST', s1]);
      expect(waited, 'PIF.plug waited about --pool-call-timeout (1500 ms)').to.be.within(1400, 4000);
      expect(during, 'network.create while the slave hangs').to.be.below(1000);
      expect(await call<boolean>('PIF.get_currently_attached', eth2)).to.equal(false);
      expect(await call('network.get_name_label', net)).to.equal('DURING');
      // The host is marked not live, and the next call to it fails at once.
      await until('slave 1 marked not live', async () => !(await live(S1)), 5000);
      const t2 = Date.now();
      const again = await call('PIF.plug', eth2).then(
        () => undefined,
        (e) => e as RemoteFailure,
      );
      expect(again?.details).to.deep.equal(['CANNOT_CONTACT_HOST', s1]);
      expect(Date.now() - t2).to.be.below(500);
    } finally {
      S1.proc!.kill('SIGCONT');
    }
    // Resumed: it refuses the change the master gave up on, finds itself not live and syncs.
    await until('slave 1 to refuse the stale change', async () => /refused a change from the master that it has given up on/.test(S1.out), 10_000);
    await until('slave 1 to resync', async () => live(S1), 20_000);
    expect(await eth2Bridge(), 'eth2 was not plugged late').to.equal(false);
    expect(await call<boolean>('PIF.get_currently_attached', eth2)).to.equal(false);
    // And it follows the master again.
    await call('PIF.plug', eth2);
    expect(await eth2Bridge()).to.equal(true);
    await call('PIF.unplug', eth2);
    expect(await eth2Bridge()).to.equal(false);
  });

  it('POOL-MP-04 the master killed and restarted while slaves run: they keep working and resync', async () => {
    const port = Number(new URL(M.url).port);
    const before = await S1.sb.appctl(['bond/list']);
    await halt(M, 'SIGKILL');
    session = '';
    await new Promise((r) => setTimeout(r, 1000));
    expect(await S1.sb.appctl(['bond/list'])).to.equal(before);
    // The datapath keeps forwarding without its master: a probe may be lost on a loaded machine
    // (userspace datapath), so a few are allowed within seconds, not one.
    await until('slave 1 to answer pings with its master gone', async () => S1.sb.ping(ip(1), 1000), 8_000);
    expect(S1.proc!.exitCode).to.equal(null);
    await launch(M, port);
    await until('slaves to resync', async () => (await live(S1)) && (await live(S2)), 30_000);
    expect(S1.out).to.match(/start-up sync with the master done/);
    // Forwarding works again: a VLAN made pool-wide on MGT appears on both slaves' bonds.
    const v200 = await call<string>('network.create', { name_label: 'V200', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
    await call('pool.create_VLAN_from_PIF', bondPif, v200, 200);
    const v200Bridge = await call<string>('network.get_bridge', v200);
    for (const s of [S1, S2]) {
      expect(await s.sb.vsctl(['br-to-vlan', v200Bridge])).to.equal('200');
      expect(await s.sb.vsctl(['br-to-parent', v200Bridge])).to.equal(mgtBridge);
    }
  });
});
