// Security of pool calls (issue 8 §3): pool-internal messages take only a pool session, bound
// to its host; a join ends every earlier local session; DryRun. changes nothing anywhere (pool.join
// and pool.eject refuse it; a forwarded call asks the slave for its plan without applying it).
import { expect } from 'chai';
import { join } from 'node:path';
import { xapiCall } from '../../src/pool/rpc.js';
import { failure, type Node } from '../helpers/nodes.js';
import { poolFixture, synced } from '../helpers/running.js';

function pifOf(m: Node, host: string, device: string): string {
  const refs = [...m.r.store.rows('PIF')].filter(([, p]) => p.host === host && p.device === device && p.physical === true && p.VLAN === -1).map(([r]) => r);
  if (refs.length !== 1) throw new Error(`no single PIF ${device} on ${host}`);
  return refs[0];
}
const hostOf = (m: Node, s: Node) => m.r.store.byUuid('host', String(s.r.store.get('host', s.r.d.hostRef).uuid));
const login = (n: Node) => xapiCall<string>(n.url, 'session.login_with_password', ['root', 'secret']);

describe('security: pool calls (§3)', function () {
  this.timeout(30_000);
  const fx = poolFixture();
  const start = fx.start;

  it('host.pool_slave_startup and host.sync_* refuse an ordinary session (no pool secret for it, no slave re-pointed); a pool session acts only for its own host', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    const uuid = String(m.r.store.get('host', host).uuid);
    const user = await login(m);
    const report = JSON.stringify({ hostname: 'evil', nics: [], token: 'attacker-token' });
    const nonPool = (msg: string) => ['INTERNAL_ERROR', `Internal API "${msg}" call attempted with non-pool (external) session`];
    expect(await failure(xapiCall(m.url, 'host.pool_slave_startup', [user, uuid, 'http://127.0.0.1:1', report]))).to.deep.equal(
      nonPool('host.pool_slave_startup'),
    );
    expect(await failure(xapiCall(m.url, 'host.pool_slave_startup', [user, 'a-new-uuid', 'http://127.0.0.1:1', report]))).to.deep.equal(
      nonPool('host.pool_slave_startup'),
    );
    for (const msg of ['host.sync_vlans', 'host.sync_tunnels', 'host.sync_bonds']) {
      expect(await failure(xapiCall(m.url, msg, [user, host]))).to.deep.equal(nonPool(msg));
    }
    expect(m.pool.roles.member(uuid)!.url).to.equal(s.url);
    // The slave's own pool session cannot act for another host; a registering session not for a registered one.
    const secret = m.pool.role.secret!;
    const other = await xapiCall<string>(m.url, 'session.slave_login', [m.r.d.hostRef, secret]);
    expect((await failure(xapiCall(m.url, 'host.pool_slave_startup', [other, uuid, 'http://127.0.0.1:1', report])))[0]).to.equal('SESSION_INVALID');
    const fresh = await xapiCall<string>(m.url, 'session.slave_login', ['OpaqueRef:NULL', secret]);
    expect((await failure(xapiCall(m.url, 'host.pool_slave_startup', [fresh, uuid, 'http://127.0.0.1:1', report])))[0]).to.equal('SESSION_INVALID');
    expect(m.pool.roles.member(uuid)!.url).to.equal(s.url);
    expect(m.pool.roles.member(uuid)!.token).to.not.equal('attacker-token');
    // A wrong secret is refused.
    expect(await failure(xapiCall(m.url, 'session.slave_login', ['OpaqueRef:NULL', 'wrong']))).to.deep.equal([
      'SESSION_AUTHENTICATION_FAILED',
      'pool',
      'Authentication failure',
    ]);
  });

  it("values for a slave are checked on the master: a user's injection shapes and a slave report's bad NICs store nothing and reach no slave", async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    const uuid = String(m.r.store.get('host', host).uuid);
    const eth1 = pifOf(m, host, 'eth1');
    await m.call('PIF.add_to_other_config', eth1, 'defaultroute', 'true');
    await synced(s);
    const before = JSON.stringify(await s.backend.read());
    const stats = { ...s.backend.stats };
    const records = () => JSON.stringify(['PIF', 'VLAN', 'Bond', 'network'].map((c) => [...m.r.store.rows(c)]));
    const shapes: [unknown[], string[]][] = [
      [
        ['Static', '192.0.2.50\nnetns exec x id', '255.255.255.0', '', ''],
        ['INVALID_IP_ADDRESS_SPECIFIED', 'IP'],
      ],
      [
        ['Static', '192.0.2.50', '255.255.255.0\nlink set dev eth2 down', '', ''],
        ['INVALID_IP_ADDRESS_SPECIFIED', 'netmask'],
      ],
      [
        ['Static', '192.0.2.50', '255.255.255.0', '192.0.2.1\nlink set dev eth2 down', ''],
        ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'],
      ],
    ];
    const r0 = records();
    for (const [args, code] of shapes) expect((await failure(m.call('PIF.reconfigure_ip', eth1, ...args))).slice(0, 2), String(args)).to.deep.equal(code);
    expect(records()).to.equal(r0);
    const net = await m.call<string>('network.create', { name_label: 'x', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
    const stored = records();
    expect((await failure(m.call('VLAN.create', eth1, 4095, net))).slice(0, 1)).to.deep.equal(['VLAN_TAG_INVALID']);
    expect((await failure(m.call('Bond.create', net, [eth1, pifOf(m, host, 'eth3')], '02:00:00:00:00:01\nx', 'active-backup', {})))[0]).to.equal('MAC_INVALID');
    // The slave's own pool session reporting NICs no interface may have: refused before anything is recorded or re-pointed.
    const ps = await xapiCall<string>(m.url, 'session.slave_login', [host, m.pool.role.secret!]);
    for (const nic of [
      { device: 'eth9\nx', MAC: '02:00:5e:00:53:99', MTU: 1500 },
      { device: '-h', MAC: '02:00:5e:00:53:99', MTU: 1500 },
      { device: 'eth9', MAC: '02:00:5e:00:53:99 x', MTU: 1500 },
      { device: 'eth9', MAC: '02:00:5e:00:53:99', MTU: 70000 },
    ]) {
      const report = JSON.stringify({ hostname: 'h', nics: [nic], token: 'attacker-token' });
      expect((await failure(xapiCall(m.url, 'host.pool_slave_startup', [ps, uuid, 'http://127.0.0.1:1', report])))[0], JSON.stringify(nic)).to.match(
        /^(INVALID_VALUE|MAC_INVALID)$/,
      );
    }
    expect(m.pool.roles.member(uuid)!.url).to.equal(s.url);
    expect(records()).to.equal(stored);
    await new Promise((r) => setTimeout(r, 200));
    expect(JSON.stringify(await s.backend.read())).to.equal(before);
    expect(s.backend.stats).to.deep.equal(stats);
  });

  it('SEC-POOL-PROTO bridge names from the master such as __proto__ and constructor are plain names: a delta creates and deletes them, a VLAN on a missing toString parent is refused, Object.prototype is untouched', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, heartbeatMs: 60_000 });
    await synced(s);
    const token = s.pool.role.token!;
    let seq = Date.now() * 1000 * 2;
    // Written as text: a JS object literal's __proto__ would set its prototype, JSON.parse makes a key.
    const send = (set: string, del: string[] = []) =>
      xapiCall(s.url, 'host.apply_network_state', [
        token,
        `{"base":${s.pool.role.stateSeq},"set":{${set}},"del":${JSON.stringify(del)}}`,
        JSON.stringify({ seq: ++seq, deadline: Date.now() + 5000 }),
      ]);
    const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
    const names = ['__proto__', 'constructor', 'hasOwnProperty'];
    await send('"__proto__":{"MTU":1500},"constructor":{"MTU":1400},"hasOwnProperty":{"MTU":1400,"vlan":{"parent":"constructor","tag":7}}');
    const host = await s.backend.read();
    expect(names.map((n) => own(host.bridges, n))).to.deep.equal([true, true, true]);
    expect(names.map((n) => own(s.pool.role.lastState!.bridges, n))).to.deep.equal([true, true, true]);
    expect(Object.getOwnPropertyDescriptor(host.bridges, '__proto__')!.value.MTU).to.equal(1500);
    expect(host.bridges['hasOwnProperty' as string].vlan).to.deep.equal({ parent: 'constructor', tag: 7 });
    // A VLAN whose parent is not a bridge is refused, whatever Object.prototype has under that name.
    expect(await failure(send('"vlan9":{"MTU":1500,"vlan":{"parent":"toString","tag":9}}'))).to.deep.equal([
      'INVALID_VALUE',
      'state',
      'bridge vlan9: VLAN parent toString does not exist',
    ]);
    await send('', names);
    const after = await s.backend.read();
    expect(names.map((n) => own(after.bridges, n))).to.deep.equal([false, false, false]);
    expect(own(after.bridges, 'vlan9')).to.equal(false);
    expect(({} as Record<string, unknown>).MTU).to.equal(undefined);
  });

  it('after pool.join every session opened on the joining daemon before is gone', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db') });
    const before = [await login(s), await login(s)];
    await s.call('pool.join', m.url, 'root', 'secret');
    expect(s.pool.isSlave).to.equal(true);
    expect(s.r.store.count('session')).to.equal(0);
    for (const old of before) expect(await failure(xapiCall(s.url, 'pool.get_all', [old]))).to.deep.equal(['SESSION_INVALID', old]);
  });

  it('DryRun.pool.join and DryRun.pool.eject are refused with a clear error and change nothing', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db') });
    const err = await failure(s.call('DryRun.pool.join', m.url, 'root', 'secret'));
    expect(err[0]).to.equal('Fault');
    expect(err[1]).to.match(/No dry run for pool\.join/);
    expect(s.pool.isSlave).to.equal(false);
    expect(m.r.store.count('host')).to.equal(1);
    await s.call('pool.join', m.url, 'root', 'secret');
    const host = hostOf(m, s);
    const applied = s.backend.stats.applied;
    const err2 = await failure(m.call('DryRun.pool.eject', host));
    expect(err2[1]).to.match(/No dry run for pool\.eject/);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.pool.isSlave).to.equal(true);
    expect(m.r.store.find('host', host)).to.not.equal(undefined);
    expect(s.backend.stats.applied).to.equal(applied);
  });

  it("DryRun.Bond.create on a slave's management PIF asks the slave for its plan: the slave's host is untouched and the reply lists its steps", async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const host = hostOf(m, s);
    const mgmt = pifOf(m, host, 'eth0');
    const network = await m.call<string>('network.create', { name_label: 'bond', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
    const before = JSON.stringify(await s.backend.read());
    const stats = { ...s.backend.stats };
    const gen = m.r.store.generation;
    const r = await m.call<{ steps: string[]; moves: string[] }>('DryRun.Bond.create', network, [mgmt, pifOf(m, host, 'eth3')], '', 'active-backup', {});
    expect(JSON.stringify(await s.backend.read())).to.equal(before);
    expect(s.backend.stats).to.deep.equal(stats);
    expect(m.r.store.generation).to.equal(gen);
    expect(r.steps.length).to.be.greaterThan(0);
    expect(r.steps.every((l) => l.startsWith('host1: '))).to.equal(true);
    expect(r.moves.some((l) => /IP 192\.0\.2\.11/.test(l))).to.equal(true);
    // The real call then applies that plan.
    await m.call('Bond.create', network, [mgmt, pifOf(m, host, 'eth3')], '', 'active-backup', {});
    expect(s.backend.stats.applied - stats.applied).to.equal(r.steps.length);
  });
});
