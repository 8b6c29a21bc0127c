// A database commit that fails after the plan reached the host (failpoint reconciler.db-commit,
// which throws inside the SQLite transaction and so rolls it back): the reconciler's undo must
// put the host back, the journal entry must say `undone`, the database must be as before, and
// the daemon must go on serving. Host facts are written out here (bridges, uplinks, addresses)
// rather than compared with the product's own desired state, so a wrong desired state or a
// missing undo is caught. The same on Open vSwitch: test/e2e/crash.test.ts CRASH-02.
import { expect } from 'chai';
import { armFailpoint, disarmFailpoints } from '../../src/failpoints.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeNetwork } from '../helpers/vmfix.js';

describe('reconciler: a failed database commit after the plan was applied', function () {
  this.timeout(30000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    disarmFailpoints();
    await h.close();
  });

  it('COMMIT-01 Bond.create (seed 004): host back to eth0 on xenbr0 with its IP, database as before, journal undone, then the call succeeds', async () => {
    await h.call('PIF.plug', h.pif('eth3'));
    const mgt = await makeNetwork(h, { name_label: 'MGT' });
    const bridge = await h.call<string>('network.get_bridge', mgt);
    const before = h.dump();
    const hostBefore = h.backend.host();
    // The host as seed 004 starts: the management NIC on xenbr0 with 192.0.2.10, eth3 on xenbr3.
    expect(hostBefore.uplinks).to.deep.equal({ xenbr0: 'eth0', xenbr3: 'eth3' });
    expect(hostBefore.ips).to.deep.equal({ xenbr0: '192.0.2.10' });
    expect(hostBefore.bonds).to.deep.equal([]);

    armFailpoint('reconciler.db-commit', '1*error(Bond.create)');
    const plans = h.backend.stats.plans;
    const err = await h.fails('Bond.create', mgt, [h.pif('eth0'), h.pif('eth3')], '', 'active-backup', {});
    expect(err[0]).to.equal('INTERNAL_ERROR');
    // The plan did reach the host (and was undone): two applies, the plan and its inverse.
    expect(h.backend.stats.plans - plans).to.equal(2);
    expect(h.backend.host()).to.deep.equal(hostBefore);
    expect(h.dump()).to.deep.equal(before);
    expect(h.r.reconciler.journal!.openEntries()).to.deep.equal([]);
    const [entry] = h.r.reconciler.journal!.recent(1);
    expect([entry.method, entry.status, entry.note]).to.deep.equal(['Bond.create', 'undone', 'database commit failed; plan undone']);

    // Disarmed after one firing: the same call now commits, and the host has the bond, written out.
    const bond = await h.call<string>('Bond.create', mgt, [h.pif('eth0'), h.pif('eth3')], '', 'active-backup', {});
    expect(await h.call('Bond.get_mode', bond)).to.equal('active-backup');
    const host = h.backend.host();
    expect(host.uplinks).to.deep.equal({ [bridge]: 'bond0' });
    expect(host.bondMembers).to.deep.equal({ bond0: ['eth0', 'eth3'] });
    expect(host.ips).to.deep.equal({ [bridge]: '192.0.2.10' });
    expect(h.r.reconciler.journal!.recent(1)[0].status).to.equal('committed');
  });

  it('COMMIT-02 a failpoint armed for another call does not fire', async () => {
    armFailpoint('reconciler.db-commit', 'error(Bond.destroy)');
    await h.call('PIF.plug', h.pif('eth1'));
    expect(h.backend.host().uplinks.xenbr1).to.equal('eth1');
    expect(h.r.reconciler.journal!.recent(1)[0]).to.include({ method: 'PIF.plug', status: 'committed' });
  });
});
