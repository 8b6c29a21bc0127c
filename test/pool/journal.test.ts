// One host pipeline on a pool slave: what the master sends reaches the slave's host through its
// reconciler (Reconciler.reconcile), journaled like a local call, with lastState written when the
// entry closes; a slave that dies mid-apply is recovered at start-up like a master, back to its
// last applied state (docs/architecture.md "One host pipeline", docs/pool.md).
import { expect } from 'chai';
import { join } from 'node:path';
import type { Step } from '../../src/backends/backend.js';
import { applyPlan } from '../../src/backends/plan.js';
import { poolFixture, synced } from '../helpers/running.js';

describe('pool: the slave applies through its reconciler, journaled', function () {
  this.timeout(30_000);
  const fx = poolFixture();

  it('POOL-JOURNAL-01 a forwarded change is one journal entry on the slave (host.apply_network_state, committed), its state remembered as lastState', async () => {
    const m = await fx.start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await fx.start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    const slaveHost = s.pool.role.hostRef; // the slave's host on the master
    // The slave's eth2 PIF on the master, plugged at the slave's start of day: unplug it there.
    const pifs = await m.call<Record<string, { device: string; host: string; currently_attached: boolean }>>('PIF.get_all_records');
    const [ref] = Object.entries(pifs).find(([, p]) => p.device === 'eth2' && p.host === slaveHost && p.currently_attached)!;
    const before = s.r.reconciler.journal!.recent(1)[0]?.id ?? 0;
    await m.call('PIF.unplug', ref);
    const [e] = s.r.reconciler.journal!.recent(1);
    expect(e.id).to.be.above(before);
    expect(e).to.include({ method: 'host.apply_network_state', status: 'committed' });
    expect(e.steps.map((x) => x.op)).to.deep.equal(['uplink.del', 'bridge.del']);
    expect(Object.keys(e.before.bridges)).to.include('xenbr2');
    expect(Object.keys((await s.backend.read()).bridges)).to.not.include('xenbr2');
    expect(Object.keys(s.pool.role.lastState!.bridges)).to.not.include('xenbr2');
    expect(s.r.reconciler.journal!.openEntries()).to.deep.equal([]);
  });

  it('POOL-JOURNAL-02 a slave killed mid-apply: at start-up the host goes back to lastState and the entry is closed as recovered', async () => {
    const m = await fx.start({ h: 0, db: join(fx.dir, 'm.db') });
    const sdb = join(fx.dir, 's.db');
    let s = await fx.start({ h: 1, db: sdb, master: m.url });
    await synced(s);
    const last = s.pool.role.lastState!;
    const before = await s.backend.read();
    expect(Object.keys(before.bridges)).to.include('xenbr1');
    // What dying in the middle of an apply leaves: the plan journaled and on the host, lastState not yet moved.
    const plan: Step[] = [
      { op: 'uplink.del', bridge: 'xenbr1', uplink: { kind: 'nic', device: 'eth1' } },
      { op: 'bridge.del', bridge: 'xenbr1', MTU: 1500 },
    ];
    const id = s.r.reconciler.journal!.open(s.r.store.generation, 'host.apply_network_state', plan, before);
    await s.backend.apply(plan);
    const crashed = applyPlan(before, plan);
    await fx.stop(s);
    await fx.stop(m); // the master stays away: the recovery is the slave's own, before it talks to anyone

    s = await fx.start({ h: 1, db: sdb, master: m.url, state: crashed });
    expect(Object.keys((await s.backend.read()).bridges)).to.include('xenbr1');
    expect(await s.backend.read()).to.deep.equal(before);
    expect(s.pool.role.lastState).to.deep.equal(last);
    const e = s.r.reconciler.journal!.recent(5).find((x) => x.id === id)!;
    expect(e.status).to.equal('recovered');
    expect(e.note).to.match(/start-up applied 2 steps .*host is back to the journaled state before/);
    expect(s.r.reconciler.journal!.openEntries()).to.deep.equal([]);
  });
});
