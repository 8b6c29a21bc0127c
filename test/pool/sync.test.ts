// Pool start-up sync and forwarding with in-process daemons on simulated backends: a master and
// slaves, each with its own file database and loopback port, talking XenAPI over HTTP.
import { expect } from 'chai';
import { join } from 'node:path';
import { xapiCall } from '../../src/pool/rpc.js';
import { diff, normalize } from '../../src/backends/plan.js';
import { desiredState } from '../../src/reconciler/desired.js';
import { failure, inventory, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';
import { poolFixture, synced } from '../helpers/running.js';
import { memLog } from '../helpers/log.js';

const net = (m: Node, name: string) => m.call<string>('network.create', { name_label: name, name_description: '', MTU: 1500, other_config: {}, bridge: '' });

/** The physical PIF `device` of `host` in the master's database. */
function pifOf(m: Node, host: string, device: string): string {
  const refs = [...m.r.store.rows('PIF')].filter(([, p]) => p.host === host && p.device === device && p.physical === true && p.VLAN === -1).map(([r]) => r);
  if (refs.length !== 1) throw new Error(`no single PIF ${device} on ${host}`);
  return refs[0];
}
/** The slave's host ref in the master's database. */
function hostOf(m: Node, s: Node): string {
  return m.r.store.byUuid('host', String(s.r.store.get('host', s.r.d.hostRef).uuid));
}
const bondsOf = (m: Node, host: string) => [...m.r.store.rows('Bond')].filter(([, b]) => m.r.store.get('PIF', String(b.master)).host === host);

describe('pool (simulated backends, in-process daemons)', function () {
  this.timeout(30_000);
  const fx = poolFixture();
  const start = fx.start;
  const stop = fx.stop;

  it('POOL-01 a slave registers: its NICs become PIFs on the pool-wide xenbr networks, its management IP is kept, clients get HOST_IS_SLAVE', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    expect(m.r.store.count('host')).to.equal(2);
    const eth0 = m.r.store.get('PIF', pifOf(m, host, 'eth0'));
    expect([eth0.MAC, eth0.IP, eth0.management, eth0.currently_attached]).to.deep.equal(['02:00:5e:01:00:10', '192.0.2.11', true, true]);
    expect(eth0.network).to.equal(m.r.store.get('PIF', pifOf(m, m.r.d.hostRef, 'eth0')).network);
    expect(m.r.store.get('host', host).address).to.equal('192.0.2.11');
    expect((await s.backend.read()).bridges.xenbr0.ip?.address).to.equal('192.0.2.11');
    expect(await failure(xapiCall(s.url, 'session.login_with_password', ['root', 'secret']))).to.deep.equal(['HOST_IS_SLAVE', new URL(m.url).hostname]);
  });

  it('POOL-02 seed 004: a bond (and a VLAN on it) made on the master appears on a slave when its daemon restarts', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    let s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const mgt = await net(m, 'MGT');
    const mgmt = await m.call<string>('host.get_management_interface', m.r.d.hostRef);
    const bond = await m.call<string>('Bond.create', mgt, [mgmt, pifOf(m, m.r.d.hostRef, 'eth3')], '', 'active-backup', {});
    const bondPif = await m.call<string>('Bond.get_master', bond);
    const v100 = await net(m, 'V100');
    await m.call('VLAN.create', bondPif, 100, v100);
    expect(bondsOf(m, hostOf(m, s))).to.have.length(0);
    await stop(s);
    s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, state: await s.backend.read() });
    await synced(s);
    const host = hostOf(m, s);
    const bonds = bondsOf(m, host);
    expect(bonds).to.have.length(1);
    expect(Object.keys(await m.call('Bond.get_all_records'))).to.have.length(2);
    const b = bonds[0][1];
    const master = m.r.store.get('PIF', String(b.master));
    expect([master.network, master.IP, master.management, b.mode]).to.deep.equal([mgt, '192.0.2.11', true, 'active-backup']);
    const bridge = String(m.r.store.get('network', mgt).bridge);
    const st = (await s.backend.read()).bridges;
    expect(st[bridge].uplink).to.include({ kind: 'bond', mode: 'active-backup' });
    expect((st[bridge].uplink as any).members).to.deep.equal(['eth0', 'eth3']);
    expect(st[bridge].ip?.address).to.equal('192.0.2.11');
    expect(st.xenbr0).to.equal(undefined);
    const vbridge = String(m.r.store.get('network', v100).bridge);
    expect(st[vbridge].vlan).to.deep.equal({ parent: bridge, tag: 100 });
    const vpif = [...m.r.store.rows('PIF')].filter(([, p]) => p.host === host && p.VLAN === 100);
    expect(vpif.map(([, p]) => p.network)).to.deep.equal([v100]);
    // A second restart changes nothing: same bond record, same state.
    const before = JSON.stringify(await s.backend.read());
    await stop(s);
    s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, state: JSON.parse(before) });
    await synced(s);
    expect(bondsOf(m, host).map(([r]) => r)).to.deep.equal([bonds[0][0]]);
    expect(JSON.stringify(await s.backend.read())).to.equal(before);
  });

  it('POOL-03 a slave missing one of the bond NICs gets a partial bond; a bond over its eth0 on another network is destroyed first', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    let s = await start({ h: 2, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    const other = await net(m, 'OTHER');
    // Forwarded: Bond.create on the slave's PIFs runs its plan on the slave's backend.
    const old = await m.call<string>('Bond.create', other, [pifOf(m, host, 'eth0'), pifOf(m, host, 'eth1')], '', 'balance-slb', {});
    const otherBridge = String(m.r.store.get('network', other).bridge);
    expect(((await s.backend.read()).bridges[otherBridge].uplink as any).members).to.deep.equal(['eth0', 'eth1']);
    const mgt = await net(m, 'MGT');
    await m.call('Bond.create', mgt, [await m.call('host.get_management_interface', m.r.d.hostRef), pifOf(m, m.r.d.hostRef, 'eth3')], '', 'active-backup', {});
    await stop(s);
    s = await start({ h: 2, db: join(fx.dir, 's.db'), master: m.url, nics: inventory(2, ['eth0', 'eth1', 'eth2']), state: await s.backend.read() });
    await synced(s);
    expect(m.r.store.find('Bond', old)).to.equal(undefined);
    const bonds = bondsOf(m, host);
    expect(bonds).to.have.length(1);
    const slaves = m.r.store.children('Bond', bonds[0][0], 'slaves').map((p) => m.r.store.get('PIF', p).device);
    expect(slaves).to.deep.equal(['eth0']);
    const st = (await s.backend.read()).bridges;
    const bridge = String(m.r.store.get('network', mgt).bridge);
    expect((st[bridge].uplink as any).members).to.deep.equal(['eth0']);
    expect(st[bridge].ip?.address).to.equal('192.0.2.12');
    expect(st[otherBridge]).to.equal(undefined);
    // eth3 is gone from the host and nothing uses it: its PIF is forgotten.
    expect([...m.r.store.rows('PIF')].filter(([, p]) => p.host === host && p.device === 'eth3')).to.have.length(0);
  });

  it('POOL-08 a bond only the slave has keeps working when one of its NICs is gone at restart: the slave applies the bond over the NIC it has', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    let s = await start({ h: 3, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    const local = await net(m, 'LOCAL');
    const bond = await m.call<string>('Bond.create', local, [pifOf(m, host, 'eth1'), pifOf(m, host, 'eth2')], '', 'active-backup', {});
    await m.call('PIF.plug', m.r.store.get('Bond', bond).master);
    const bridge = String(m.r.store.get('network', local).bridge);
    expect(((await s.backend.read()).bridges[bridge].uplink as any).members).to.deep.equal(['eth1', 'eth2']);
    await stop(s);
    s = await start({ h: 3, db: join(fx.dir, 's.db'), master: m.url, nics: inventory(3, ['eth0', 'eth1', 'eth3']), state: await s.backend.read() });
    await synced(s);
    // The master keeps eth2's PIF (a bond slave: used) and the bond; the host runs the bond over eth1.
    expect(m.r.store.find('Bond', bond)).to.not.equal(undefined);
    expect(((await s.backend.read()).bridges[bridge].uplink as any).members).to.deep.equal(['eth1']);
    expect((await s.backend.read()).bridges.xenbr0.ip?.address).to.equal('192.0.2.13');
  });

  it('POOL-04 a NIC that is gone but used (VLAN on it) keeps its PIF, unplugged; host.other_config:sync_vlans=nosync stops VLAN replication', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    let s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    const v5 = await net(m, 'V5');
    await m.call('VLAN.create', pifOf(m, host, 'eth2'), 5, v5);
    await m.call('host.add_to_other_config', host, 'sync_vlans', 'nosync');
    await m.call('VLAN.create', pifOf(m, m.r.d.hostRef, 'eth1'), 7, await net(m, 'V7'));
    await stop(s);
    s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, nics: inventory(1, ['eth0', 'eth1', 'eth3']), state: await s.backend.read() });
    await synced(s);
    const eth2 = m.r.store.get('PIF', pifOf(m, host, 'eth2'));
    expect(eth2.currently_attached).to.equal(false);
    expect([...m.r.store.rows('PIF')].filter(([, p]) => p.host === host && p.VLAN === 7)).to.have.length(0);
    await m.call('host.remove_from_other_config', host, 'sync_vlans');
    // Pool-internal: a pool session only (the secret from pool.initial_auth, as a joining host gets it).
    const secret = await m.call<string>('pool.initial_auth');
    const ps = await xapiCall<string>(m.url, 'session.slave_login', ['OpaqueRef:NULL', secret]);
    expect(await failure(m.call('host.sync_vlans', host))).to.deep.equal([
      'INTERNAL_ERROR',
      'Internal API "host.sync_vlans" call attempted with non-pool (external) session',
    ]);
    await xapiCall(m.url, 'host.sync_vlans', [ps, host]);
    expect([...m.r.store.rows('PIF')].filter(([, p]) => p.host === host && p.VLAN === 7)).to.have.length(1);
  });

  it('POOL-05 forwarding: a failing slave backend fails the call and leaves the master database unchanged; an unreachable slave gives CANNOT_CONTACT_HOST', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    await m.call('pool.get_all'); // logs in (a session row) before the generation is taken
    // Start of day brought eth1 up with the slave: take it down to plug it here.
    await m.call('PIF.unplug', pifOf(m, host, 'eth1'));
    const gen = m.r.store.generation;
    const before = JSON.stringify(await s.backend.read());
    s.backend.faults.failAt = (_st, i) => i === 1;
    const eth1 = pifOf(m, host, 'eth1');
    const err = await failure(m.call('PIF.plug', eth1));
    expect(err).to.have.length(3);
    expect(err.slice(0, 2)).to.deep.equal(['PIF_CONFIGURATION_ERROR', eth1]);
    expect(err[2]).to.match(/step 2 of 2/);
    expect(m.r.store.get('PIF', eth1).currently_attached).to.equal(false);
    expect(m.r.store.generation).to.equal(gen);
    expect(JSON.stringify(await s.backend.read())).to.equal(before);
    s.backend.faults.failAt = undefined;
    await m.call('PIF.plug', eth1);
    expect((await s.backend.read()).bridges.xenbr1.uplink).to.deep.equal({ kind: 'nic', device: 'eth1' });
    await m.call('PIF.unplug', eth1);
    await stop(s);
    const err2 = await failure(m.call('PIF.plug', pifOf(m, host, 'eth1')));
    expect(err2).to.deep.equal(['CANNOT_CONTACT_HOST', host]);
    expect(m.r.store.get('PIF', pifOf(m, host, 'eth1')).currently_attached).to.equal(false);
  });

  it('POOL-06 master down: the slave keeps its networking and resyncs when the master is back', async () => {
    let m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const before = JSON.stringify(await s.backend.read());
    const port = m.r.port;
    await stop(m);
    await until('slave to notice', () => s.pool.agent!.connected === false, 5000);
    expect(JSON.stringify(await s.backend.read())).to.equal(before);
    m = await start({ h: 0, db: join(fx.dir, 'm.db'), config: { port } });
    await synced(s, 2);
    const host = hostOf(m, s);
    expect(m.r.store.get('host_metrics', String(m.r.store.get('host', host).metrics)).live).to.equal(true);
    // Forwarding works again: a VLAN on the slave's eth1 appears on its backend.
    await m.call('VLAN.create', pifOf(m, host, 'eth1'), 9, await net(m, 'V9'));
    expect(Object.values((await s.backend.read()).bridges).some((b) => b.vlan?.tag === 9)).to.equal(true);
  });

  it('POOL-07 pool.join makes a standalone daemon a slave (bonds refused); pool.eject makes it standalone again', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db') });
    expect(await failure(s.call('pool.join', m.url, 'root', 'wrong'))).to.deep.equal(['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']);
    await s.call('pool.join', m.url, 'root', 'secret');
    expect(s.pool.isSlave).to.equal(true);
    const host = hostOf(m, s);
    expect(m.r.store.get('PIF', pifOf(m, host, 'eth0')).IP).to.equal('192.0.2.11');
    expect(await failure(xapiCall(s.url, 'session.login_with_password', ['root', 'secret']))).to.deep.equal(['HOST_IS_SLAVE', new URL(m.url).hostname]);
    expect(await failure(m.call('pool.eject', m.r.d.hostRef))).to.deep.equal(['HOST_IS_MASTER', m.r.d.hostRef]);
    await m.call('pool.eject', host);
    expect(m.r.store.find('host', host)).to.equal(undefined);
    expect([...m.r.store.rows('PIF')].filter(([, p]) => p.host === host)).to.have.length(0);
    await until('standalone', () => !s.pool.isSlave && s.r.store.count('host') === 1 && !!s.r.store.find('host', s.r.d.hostRef), 5000);
    const session = await xapiCall<string>(s.url, 'session.login_with_password', ['root', 'secret']);
    expect(session).to.match(/^OpaqueRef:/);
    expect((await s.backend.read()).bridges.xenbr0.ip?.address).to.equal('192.0.2.11');
  });

  it("POOL-09 a slave that answers after --pool-call-timeout: the call fails CANNOT_CONTACT_HOST [host] at the timeout, other writes go on meanwhile, and the slave, which applied the change late, is resynced at once to the master's state", async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db'), config: { poolCallTimeoutMs: 300 } });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, heartbeatMs: 60_000 });
    await synced(s);
    const host = hostOf(m, s);
    const eth1 = pifOf(m, host, 'eth1');
    await m.call('pool.get_all'); // logs in before anything is timed
    if (m.r.store.get('PIF', eth1).currently_attached) await m.call('PIF.unplug', eth1);
    const apply = s.backend.apply.bind(s.backend);
    let slow = 1;
    s.backend.apply = async (plan) => {
      if (slow-- > 0) await new Promise((r) => setTimeout(r, 1000));
      return apply(plan);
    };
    const t0 = Date.now();
    const plug = failure(m.call('PIF.plug', eth1));
    await new Promise((r) => setTimeout(r, 50));
    const t1 = Date.now();
    await net(m, 'DURING');
    expect(Date.now() - t1, 'network.create while the slave is slow').to.be.below(250);
    expect(await plug).to.deep.equal(['CANNOT_CONTACT_HOST', host]);
    expect(Date.now() - t0).to.be.within(250, 900);
    expect(m.r.store.get('PIF', eth1).currently_attached).to.equal(false);
    // Calls to the host fail at once until it syncs again.
    const t2 = Date.now();
    expect(await failure(m.call('PIF.plug', eth1))).to.deep.equal(['CANNOT_CONTACT_HOST', host]);
    expect(Date.now() - t2).to.be.below(100);
    // The slave applied the plug after the master gave up: it syncs at once (not at its next heartbeat, a minute away) and eth1 goes down again.
    await synced(s, 2);
    expect((await s.backend.read()).bridges.xenbr1?.uplink).to.equal(undefined);
    expect(m.r.store.get('host_metrics', String(m.r.store.get('host', host).metrics)).live).to.equal(true);
    await m.call('PIF.plug', eth1);
    expect((await s.backend.read()).bridges.xenbr1.uplink).to.deep.equal({ kind: 'nic', device: 'eth1' });
  });

  it('POOL-10 calls to different slaves run side by side; one that meets a commit made during its call runs again on the new state only if that commit touched what it read', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s1 = await start({ h: 1, db: join(fx.dir, 's1.db'), master: m.url });
    const s2 = await start({ h: 2, db: join(fx.dir, 's2.db'), master: m.url });
    await synced(s1);
    await synced(s2);
    const [h1, h2] = [hostOf(m, s1), hostOf(m, s2)];
    await m.call('pool.get_all'); // logs in before anything is timed
    for (const h of [h1, h2]) if (m.r.store.get('PIF', pifOf(m, h, 'eth1')).currently_attached) await m.call('PIF.unplug', pifOf(m, h, 'eth1'));
    const apply = s1.backend.apply.bind(s1.backend);
    // Slave 1 answers after 400 ms, and not before the commits below are made (a loaded machine).
    let meanwhileDone!: () => void;
    const meanwhile = new Promise<void>((r) => (meanwhileDone = r));
    s1.backend.apply = async (plan) => {
      await Promise.all([new Promise((r) => setTimeout(r, 400)), meanwhile]);
      return apply(plan);
    };
    const reruns = m.r.store.remoteReruns;
    const t0 = Date.now();
    const slow = m.call('PIF.plug', pifOf(m, h1, 'eth1')).then(() => Date.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
    await m.call('PIF.plug', pifOf(m, h2, 'eth1'));
    const fast = Date.now() - t0;
    const label = await net(m, 'MEANWHILE');
    // Slave 2's plug and the new network touch nothing the slow plug read; renaming the network of the
    // PIF it plugs does (it read that network's record), so it runs again on the new state, once.
    const xenbr1 = String(m.r.store.get('PIF', pifOf(m, h1, 'eth1')).network);
    await m.call('network.set_name_label', xenbr1, 'renamed meanwhile');
    meanwhileDone();
    expect(fast, 'the call to slave 2 did not wait for slave 1').to.be.below(350);
    expect(await slow).to.be.at.least(400);
    expect(m.r.store.remoteReruns, 'the slow call ran again after a commit touched what it read').to.equal(reruns + 1);
    expect(m.r.store.get('network', xenbr1).name_label).to.equal('renamed meanwhile');
    for (const [h, s] of [
      [h1, s1],
      [h2, s2],
    ] as const) {
      expect(m.r.store.get('PIF', pifOf(m, h, 'eth1')).currently_attached).to.equal(true);
      expect((await s.backend.read()).bridges.xenbr1.uplink).to.deep.equal({ kind: 'nic', device: 'eth1' });
    }
    expect(m.r.store.get('network', label).name_label).to.equal('MEANWHILE');
  });

  it("POOL-12 while a forwarded call waits on a slave that does not answer, another slave's start-up sync goes through (it needs only its own host's lock)", async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db'), config: { poolCallTimeoutMs: 8000 } });
    const s1 = await start({ h: 1, db: join(fx.dir, 's1.db'), master: m.url, heartbeatMs: 60_000 });
    let s2 = await start({ h: 2, db: join(fx.dir, 's2.db'), master: m.url, heartbeatMs: 60_000 });
    await synced(s1);
    await synced(s2);
    const state2 = await s2.backend.read();
    await stop(s2);
    const eth1 = pifOf(m, hostOf(m, s1), 'eth1');
    await m.call('pool.get_all'); // logs in before anything is timed
    if (m.r.store.get('PIF', eth1).currently_attached) await m.call('PIF.unplug', eth1);
    // Slave 1 applies nothing until slave 2 has synced: were that sync queued behind the call to
    // slave 1 (one pool-wide write lock), it would wait the whole --pool-call-timeout.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const apply = s1.backend.apply.bind(s1.backend);
    s1.backend.apply = async (plan) => {
      await gate;
      return apply(plan);
    };
    const plug = m.call('PIF.plug', eth1);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    try {
      s2 = await start({ h: 2, db: join(fx.dir, 's2.db'), master: m.url, heartbeatMs: 60_000, state: state2 });
      await synced(s2);
    } finally {
      release();
    }
    const took = Date.now() - t0;
    await plug;
    expect(took, "slave 2's restart and start-up sync while slave 1 hangs").to.be.below(4000);
    expect(m.r.store.get('host_metrics', String(m.r.store.get('host', hostOf(m, s2)).metrics)).live).to.equal(true);
    expect(m.r.store.get('PIF', eth1).currently_attached).to.equal(true);
    expect((await s1.backend.read()).bridges.xenbr1.uplink).to.deep.equal({ kind: 'nic', device: 'eth1' });
  });

  it('POOL-13 a master too busy to check logins (LOGINS_BUSY) has not refused the secret: the restarting slave retries slave_login with it and never registers again with the password', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    let s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const state = await s.backend.read();
    await stop(s);
    // The master's login line is full for the next four password or secret checks (one asked here, three by the slave).
    const gate = m.r.d.loginGate;
    const acquire = gate.acquire.bind(gate);
    let refused = 0;
    gate.acquire = async (peer: string) => (refused < 4 ? (refused++, false) : acquire(peer));
    // The refusal is xapi's TOO_BUSY, a code of its own (not SESSION_AUTHENTICATION_FAILED, whose reason text a slave would have to read).
    expect(await failure(xapiCall(m.url, 'session.slave_login', ['OpaqueRef:NULL', 'not-the-secret']))).to.deep.equal(['TOO_BUSY']);
    const { log, lines } = memLog();
    s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, state, log });
    await synced(s);
    expect(refused).to.equal(4);
    expect(
      lines.filter((l) => /registering again/.test(l)),
      lines.join('\n'),
    ).to.deep.equal([]);
    expect(lines.some((l) => /start-up sync with the master failed: .*TOO_BUSY/.test(l))).to.equal(true);
  });

  it('POOL-11 a forwarded state carries a ticket: one past its deadline, or older than the last applied, is refused and never applied', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, heartbeatMs: 60_000 });
    await synced(s);
    const token = s.pool.role.token!;
    const before = await s.backend.read();
    const next = JSON.parse(JSON.stringify(before));
    next.bridges.xenbr1 = { MTU: 1500, uplink: { kind: 'nic', device: 'eth1' } };
    const send = (ticket: object) => xapiCall(s.url, 'host.apply_network_state', [token, JSON.stringify(next), JSON.stringify(ticket)]);
    const seq = Date.now() * 1000 * 2;
    expect((await failure(send({ seq, deadline: Date.now() - 1 })))[0]).to.equal('CANNOT_CONTACT_HOST');
    expect(await s.backend.read()).to.deep.equal(before);
    await send({ seq, deadline: Date.now() + 5000 });
    expect((await s.backend.read()).bridges.xenbr1.uplink).to.deep.equal({ kind: 'nic', device: 'eth1' });
    const back = (ticket: object) => xapiCall(s.url, 'host.apply_network_state', [token, JSON.stringify(before), JSON.stringify(ticket)]);
    expect((await failure(back({ seq: seq - 1, deadline: Date.now() + 5000 })))[0]).to.equal('CANNOT_CONTACT_HOST');
    expect((await s.backend.read()).bridges.xenbr1.uplink).to.deep.equal({ kind: 'nic', device: 'eth1' });
    expect(await failure(xapiCall(s.url, 'host.apply_network_state', [token, JSON.stringify(before), '{}']))).to.deep.equal([
      'INVALID_VALUE',
      'ticket',
      'seq and deadline are required',
    ]);
  });

  it('POOL-14 a forwarded change goes to a slave as the bridges that differ from the state it last applied, naming that state as its base; a slave whose last state is not the base refuses it and gets the whole state; a failed change is rolled back', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, heartbeatMs: 60_000 });
    await synced(s);
    const host = hostOf(m, s);
    // What reaches the slave's agent, one line per message.
    const agent = s.pool.agent!;
    const [applyDelta, applyState] = [agent.applyDelta.bind(agent), agent.applyState.bind(agent)];
    const got: string[] = [];
    agent.applyDelta = (d, t) => {
      got.push(`delta on ${d.base === s.pool.role.stateSeq ? 'the last state' : 'another state'}: set ${Object.keys(d.set).join(',')}; del ${d.del.join(',')}`);
      return applyDelta(d, t);
    };
    agent.applyState = (st, t) => {
      got.push(`whole state of ${Object.keys(st.bridges).length} bridges`);
      return applyState(st, t);
    };
    const messages = () => got.splice(0);
    // The slave ends with the master's desired state for it, remembered and on the host.
    const inSync = async () => {
      const want = normalize(desiredState(m.r.store, host));
      expect(s.pool.role.lastState).to.deep.equal(want);
      expect(diff(await s.backend.read(), want)).to.deep.equal([]);
    };
    const wholeSize = Object.keys(desiredState(m.r.store, host).bridges).length;
    const vlan = async (tag: number) => {
      const n = await net(m, `V${tag}`);
      const v = await m.call<string>('VLAN.create', pifOf(m, host, 'eth1'), tag, n);
      return { v, bridge: String(m.r.store.get('network', n).bridge) };
    };

    const v5 = await vlan(5);
    expect(messages()).to.deep.equal([`delta on the last state: set ${v5.bridge}; del `]);
    expect((await s.backend.read()).bridges[v5.bridge].vlan).to.deep.equal({ parent: 'xenbr1', tag: 5 });
    await inSync();

    // A gap: the slave's last state is not the one the master saw it apply (as after a restart from an older copy).
    s.pool.role.stateSeq = 1;
    await m.call('VLAN.destroy', v5.v);
    expect(messages()).to.deep.equal([`delta on another state: set ; del ${v5.bridge}`, `whole state of ${wholeSize} bridges`]);
    expect((await s.backend.read()).bridges[v5.bridge]).to.equal(undefined);
    await inSync();
    // And the next change is a delta on that whole state again.
    const v6 = await vlan(6);
    expect(messages()).to.deep.equal([`delta on the last state: set ${v6.bridge}; del `]);
    await inSync();

    // A delta the host fails: the call fails, the master's database is unchanged, and the slave is put back (with the whole state:
    // after a failure the master no longer knows what it has).
    s.backend.faults.failAt = () => true;
    const n7 = await net(m, 'V7');
    expect((await failure(m.call('VLAN.create', pifOf(m, host, 'eth1'), 7, n7)))[0]).to.equal('PIF_CONFIGURATION_ERROR');
    s.backend.faults.failAt = undefined;
    expect(messages()).to.deep.equal([`delta on the last state: set ${m.r.store.get('network', n7).bridge}; del `, `whole state of ${wholeSize + 1} bridges`]);
    expect([...m.r.store.rows('VLAN')].filter(([, r]) => r.tag === 7)).to.deep.equal([]);
    await inSync();
    await m.call('VLAN.destroy', v6.v);
    expect(messages()).to.deep.equal([`delta on the last state: set ; del ${v6.bridge}`]);
    await inSync();
  });

  it("POOL-15 the master keeps a slave's delta base by host uuid: an eject forgets it, and after joining again (a new host ref, the same uuid) the first change is a delta on the state the join sent", async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, heartbeatMs: 60_000 });
    await synced(s);
    const uuid = String(s.r.store.get('host', s.r.d.hostRef).uuid);
    const before = hostOf(m, s);
    expect(m.pool.deltaBase(uuid)).to.equal(s.pool.role.stateSeq);
    await m.call('pool.eject', before);
    await until('the slave to be standalone', () => !s.pool.isSlave);
    expect(m.pool.deltaBase(uuid)).to.equal(undefined);
    await s.call('pool.join', m.url, 'root', 'secret');
    await synced(s);
    const host = hostOf(m, s);
    expect(host).to.not.equal(before);
    expect(m.pool.deltaBase(uuid)).to.equal(s.pool.role.stateSeq);
    const agent = s.pool.agent!;
    const applyDelta = agent.applyDelta.bind(agent);
    const bases: boolean[] = [];
    agent.applyDelta = (d, t) => {
      bases.push(d.base === s.pool.role.stateSeq);
      return applyDelta(d, t);
    };
    const n = await net(m, 'V5');
    await m.call('VLAN.create', pifOf(m, host, 'eth1'), 5, n);
    expect(bases).to.deep.equal([true]);
    expect(m.pool.deltaBase(uuid)).to.equal(s.pool.role.stateSeq);
  });
});
