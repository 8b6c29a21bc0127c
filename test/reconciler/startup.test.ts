// Start-up when a NIC has gone since the database was written: the daemon still starts, does
// what the host can (a bond keeps the members it has) and says what it left out.
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitToNics } from '../../src/backends/plan.js';
import { DEMO_INVENTORY } from '../../src/config.js';
import { startHarness } from '../helpers/harness.js';

describe('reconciler: start-up with NICs missing', () => {
  it('START-01 fitToNics drops NIC uplinks and bond members the host lacks, and says which', () => {
    const state = {
      bridges: {
        xapi1: {
          name: 'xapi1',
          MTU: 1500,
          uplink: { kind: 'bond' as const, name: 'bond0', members: ['eth0', 'eth3'], mode: 'active-backup' as const, properties: {}, mac: '02:00:5e:00:53:10' },
          vifs: [],
        },
        xenbr2: { name: 'xenbr2', MTU: 1500, uplink: { kind: 'nic' as const, device: 'eth2' }, vifs: ['vif1.0'] },
        xapi9: {
          name: 'xapi9',
          MTU: 1500,
          uplink: { kind: 'bond' as const, name: 'bond1', members: ['eth4', 'eth5'], mode: 'lacp' as const, properties: {}, mac: '02:00:5e:00:53:14' },
          vifs: [],
        },
      },
    };
    const f = fitToNics(state, ['eth0', 'eth1']);
    expect(f.state.bridges.xapi1.uplink).to.deep.include({ members: ['eth0'] });
    expect(f.state.bridges.xenbr2).to.deep.equal({ name: 'xenbr2', MTU: 1500, vifs: ['vif1.0'] });
    expect(f.state.bridges.xapi9).to.deep.equal({ name: 'xapi9', MTU: 1500, vifs: [] });
    expect(f.dropped).to.deep.equal(['eth3 (member of bond0)', 'eth2 (uplink of xenbr2)', 'eth4 (member of bond1)', 'eth5 (member of bond1)']);
  });

  it('START-02 a daemon whose bond lost a NIC starts with the bond over the NIC it still has, management on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xnd-start-'));
    try {
      let h = await startHarness({ config: { db: join(dir, 'x.db') } });
      const net = await h.call<string>('network.create', { name_label: 'MGT', name_description: '', other_config: {} });
      await h.call('Bond.create', net, [h.pif('eth0'), h.pif('eth3')], '', 'active-backup', {});
      expect(h.backend.host().bondMembers).to.deep.equal({ bond0: ['eth0', 'eth3'] });
      await h.close();
      h = await startHarness({ config: { db: join(dir, 'x.db') }, inventory: DEMO_INVENTORY.filter((n) => n.device !== 'eth3') });
      try {
        expect(h.backend.host().bondMembers).to.deep.equal({ bond0: ['eth0'] });
        const bridge = String(h.r.store.get('network', net).bridge);
        expect(h.backend.host().ips).to.deep.equal({ [bridge]: '192.0.2.10' });
        expect(await h.call('pool.get_all')).to.have.length(1);
        // What the database already lacked at start-up is tolerated: later calls still work
        // (only a NIC a call newly needs fails it).
        await h.call('network.create', { name_label: 'other', name_description: '', other_config: {} });
        await h.call('PIF.plug', h.pif('eth2'));
        expect(h.backend.host().uplinks.xenbr2).to.equal('eth2');
        expect(h.backend.host().bondMembers).to.deep.equal({ bond0: ['eth0'] });
      } finally {
        await h.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('START-04 a NIC gone before the daemon started (no PIF.scan since): Bond.create over it fails PIF_CONFIGURATION_ERROR, nothing changed, host untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xnd-start-'));
    try {
      let h = await startHarness({ config: { db: join(dir, 'x.db') } });
      await h.call('PIF.plug', h.pif('eth1'));
      await h.call('PIF.plug', h.pif('eth2'));
      await h.close();
      h = await startHarness({ config: { db: join(dir, 'x.db') }, inventory: DEMO_INVENTORY.filter((n) => n.device !== 'eth2') });
      try {
        // Start-up fits the plan to the NICs present: xenbr2 without its NIC.
        expect(h.backend.host().uplinks.xenbr1).to.equal('eth1');
        expect(h.backend.host().uplinks.xenbr2).to.equal(undefined);
        const net = await h.call<string>('network.create', { name_label: 'B', name_description: '', other_config: {} });
        const before = h.dump();
        const host = h.backend.host();
        const plans = h.backend.stats.plans;
        const err = await h.fails('Bond.create', net, [h.pif('eth1'), h.pif('eth2')], '', 'active-backup', {});
        expect(err.slice(0, 2)).to.deep.equal(['PIF_CONFIGURATION_ERROR', h.pif('eth2')]);
        expect(err[2]).to.match(/^NIC eth2 is not present on this host/);
        expect(h.dump(), 'no Bond recorded with two slaves').to.deep.equal(before);
        expect(h.backend.host(), 'no one-member bond on the host').to.deep.equal(host);
        expect(h.backend.stats.plans, 'the backend was not asked').to.equal(plans);
      } finally {
        await h.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('START-03 $TMPDIR/xnd-ip-* directories a killed daemon left are removed at start; a batch in progress (fresh) is not', async () => {
    // A $TMPDIR of this test's own: every daemon started on the machine sweeps the shared one, so there
    // a leftover could go for reasons other than this start-up.
    const tmp = mkdtempSync(join(tmpdir(), 'xnd-start-tmp-'));
    const saved = process.env.TMPDIR;
    try {
      const old = mkdtempSync(join(tmp, 'xnd-ip-'));
      writeFileSync(join(old, 'batch'), 'link set eth1 up\n');
      const t = (Date.now() - 10 * 60_000) / 1000;
      utimesSync(old, t, t);
      const fresh = mkdtempSync(join(tmp, 'xnd-ip-'));
      const other = join(tmp, 'not-ours');
      writeFileSync(other, '');
      utimesSync(other, t, t);
      process.env.TMPDIR = tmp;
      const h = await startHarness();
      await h.close();
      expect(existsSync(old), 'leftover removed').to.equal(false);
      expect(existsSync(fresh), "a fresh one may be another daemon's batch in progress").to.equal(true);
      expect(existsSync(other), 'other files stay').to.equal(true);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
