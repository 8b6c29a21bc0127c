// Start of day as xapi (xapi_pif.calculate_pifs_required_at_start_of_day,
// start_of_day_best_effort_bring_up, Sync_networking.fix_bonds) on a restarted master or standalone
// daemon and on a slave, with in-process daemons on simulated backends; host.sync_vlans called
// directly ignores sync_vlans=nosync.
import { expect } from 'chai';
import { join } from 'node:path';
import { xapiCall } from '../../src/pool/rpc.js';
import { NULL_REF } from '../../src/store/store.js';
import { vlanCreateInternal } from '../../src/xapi/vlan.js';
import { inventory, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';
import { poolFixture } from '../helpers/running.js';

const net = (m: Node, name: string) => m.call<string>('network.create', { name_label: name, name_description: '', MTU: 1500, other_config: {}, bridge: '' });
function pifOf(m: Node, host: string, device: string): string {
  const refs = [...m.r.store.rows('PIF')].filter(([, p]) => p.host === host && p.device === device && p.physical === true && p.VLAN === -1).map(([r]) => r);
  if (refs.length !== 1) throw new Error(`no single PIF ${device} on ${host}`);
  return refs[0];
}
const SIX = ['eth0', 'eth1', 'eth2', 'eth3', 'eth4', 'eth5'];

describe('start of day (as xapi) on every start', function () {
  this.timeout(30_000);
  const fx = poolFixture();
  const start = fx.start;
  const stop = fx.stop;

  it('SOD-01 a restarted standalone host brings up every physical PIF that is not a bond slave and every bond master; VLAN PIFs without an IP stay as they are', async () => {
    let m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const host = m.r.d.hostRef;
    const bn = await net(m, 'B');
    const bond = await m.call<string>('Bond.create', bn, [pifOf(m, host, 'eth2'), pifOf(m, host, 'eth3')], '', 'balance-slb', {});
    const bondPif = await m.call<string>('Bond.get_master', bond);
    if (m.r.store.get('PIF', bondPif).currently_attached) await m.call('PIF.unplug', bondPif);
    const vn = await net(m, 'V');
    const vlan = await m.call<string>('VLAN.create', pifOf(m, host, 'eth1'), 7, vn);
    const vlanPif = await m.call<string>('VLAN.get_untagged_PIF', vlan);
    if (m.r.store.get('PIF', vlanPif).currently_attached) await m.call('PIF.unplug', vlanPif);
    expect(m.r.store.get('PIF', pifOf(m, host, 'eth1')).currently_attached).to.equal(false);
    const state = await m.backend.read();
    expect(state.bridges.xenbr1).to.equal(undefined);
    await stop(m);
    m = await start({ h: 0, db: join(fx.dir, 'm.db'), state });
    const attached = (p: string) => m.r.store.get('PIF', p).currently_attached;
    expect(attached(pifOf(m, host, 'eth0'))).to.equal(true);
    expect(attached(pifOf(m, host, 'eth1'))).to.equal(true);
    expect(attached(bondPif)).to.equal(true);
    expect([attached(pifOf(m, host, 'eth2')), attached(pifOf(m, host, 'eth3'))]).to.deep.equal([false, false]);
    expect(attached(vlanPif)).to.equal(false);
    const st = (await m.backend.read()).bridges;
    expect(st.xenbr1.uplink).to.deep.equal({ kind: 'nic', device: 'eth1' });
    const bridge = String(m.r.store.get('network', bn).bridge);
    expect(st[bridge].uplink).to.include({ kind: 'bond', mode: 'balance-slb' });
    expect(st.xenbr2).to.equal(undefined);
    expect(st[String(m.r.store.get('network', vn).bridge)]).to.equal(undefined);
  });

  it('SOD-02 fix_bonds runs at the start of a master too: a VLAN left on a bond slave moves up to the bond', async () => {
    let m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const host = m.r.d.hostRef;
    const bn = await net(m, 'B');
    const bond = await m.call<string>('Bond.create', bn, [pifOf(m, host, 'eth2'), pifOf(m, host, 'eth3')], '', 'active-backup', {});
    const bondPif = await m.call<string>('Bond.get_master', bond);
    const vn = await net(m, 'V');
    // What a database written by an older toolstack can hold: a VLAN on a member of a bond.
    let vlan = '';
    await m.r.store.write((tx) => {
      vlan = vlanCreateInternal(tx, host, pifOf(m, host, 'eth2'), 9, vn, 'eth2').vlan;
    });
    expect(m.r.store.get('VLAN', vlan).tagged_PIF).to.equal(pifOf(m, host, 'eth2'));
    const state = await m.backend.read();
    await stop(m);
    m = await start({ h: 0, db: join(fx.dir, 'm.db'), state });
    // fix_bonds moves it as Bond.create does (a new VLAN on the bond master, same tag and network).
    const vlans = [...m.r.store.rows('VLAN')].filter(([, v]) => v.tag === 9);
    expect(vlans.map(([, v]) => v.tagged_PIF)).to.deep.equal([bondPif]);
    const untagged = m.r.store.get('PIF', String(vlans[0][1].untagged_PIF));
    expect([untagged.network, untagged.device]).to.deep.equal([vn, m.r.store.get('PIF', bondPif).device]);
    expect(m.r.store.get('PIF', pifOf(m, host, 'eth2')).bond_slave_of).to.not.equal(NULL_REF);
  });

  it('SOD-03 seed 004: a slave restarted with the NAS and PUB bonds copied gets both working (bond0 eth4,eth2; bond1 eth1,eth5), eth3 on its own bridge', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db'), nics: inventory(0, SIX) });
    const mh = m.r.d.hostRef;
    const nas = await net(m, 'NAS');
    const pub = await net(m, 'PUB');
    const b0 = await m.call<string>('Bond.create', nas, [pifOf(m, mh, 'eth4'), pifOf(m, mh, 'eth2')], '', 'active-backup', {});
    const b1 = await m.call<string>('Bond.create', pub, [pifOf(m, mh, 'eth1'), pifOf(m, mh, 'eth5')], '', 'balance-slb', {});
    for (const b of [b0, b1]) {
      const p = await m.call<string>('Bond.get_master', b);
      if (!m.r.store.get('PIF', p).currently_attached) await m.call('PIF.plug', p);
    }
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url, nics: inventory(1, SIX) });
    await until('slave sync', () => (s.pool.agent?.syncs ?? 0) >= 1, 10_000);
    const sh = m.r.store.byUuid('host', String(s.r.store.get('host', s.r.d.hostRef).uuid));
    const st = (await s.backend.read()).bridges;
    for (const [network, members, mode] of [
      [nas, ['eth4', 'eth2'], 'active-backup'],
      [pub, ['eth1', 'eth5'], 'balance-slb'],
    ] as const) {
      const bridge = String(m.r.store.get('network', network).bridge);
      expect(st[bridge]?.uplink, `bond on ${bridge}`).to.include({ kind: 'bond', mode });
      expect([...(st[bridge].uplink as { members: string[] }).members].sort()).to.deep.equal([...members].sort());
      const copy = [...m.r.store.rows('PIF')].find(([, p]) => p.host === sh && p.network === network)!;
      expect(copy[1].currently_attached, `the copied bond on ${bridge} is plugged`).to.equal(true);
    }
    expect(st.xenbr3?.uplink).to.deep.equal({ kind: 'nic', device: 'eth3' });
    expect(st.xenbr0?.ip?.address).to.equal('192.0.2.11');
  });

  it('SOD-04 host.sync_vlans called directly copies VLANs even with sync_vlans=nosync (only the start-up copy honours it)', async () => {
    const m = await start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await until('slave sync', () => (s.pool.agent?.syncs ?? 0) >= 1, 10_000);
    const sh = m.r.store.byUuid('host', String(s.r.store.get('host', s.r.d.hostRef).uuid));
    await m.call('host.add_to_other_config', sh, 'sync_vlans', 'nosync');
    const vn = await net(m, 'V');
    await m.call('VLAN.create', pifOf(m, m.r.d.hostRef, 'eth1'), 30, vn);
    const vlansOn = () => [...m.r.store.rows('PIF')].filter(([, p]) => p.host === sh && p.VLAN === 30);
    expect(vlansOn()).to.have.length(0);
    // host.sync_vlans is pool-internal: called with a pool session, as a slave would.
    const pool = await xapiCall<string>(m.url, 'session.slave_login', [sh, m.pool.role.secret]);
    await xapiCall(m.url, 'host.sync_vlans', [pool, sh]);
    expect(vlansOn().map(([, p]) => p.network)).to.deep.equal([vn]);
  });
});
