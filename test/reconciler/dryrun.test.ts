// Dry run: `DryRun.<Class>.<message>` runs any call up to the point where the reconciler would
// touch the host, returns the plan (steps, moves, downs, interruptions, new things) instead of the
// call's result, and leaves database and host exactly as they were. Also: the journal's records of
// ordinary calls, start-up recovery of an entry left open (simulated host kept across restarts),
// and the bond monitor.
import { expect } from 'chai';
import { plugPif } from '../../src/xapi/network.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon } from '../../src/daemon.js';
import { applyPlan } from '../../src/backends/plan.js';
import { summarize } from '../../src/reconciler/reconciler.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { assertHostMatchesDb, makeNetwork, vmWithVifs } from '../helpers/vmfix.js';

interface Plan {
  method: string;
  steps: string[];
  moves: string[];
  down: string[];
  interrupted: string[];
  up: string[];
}

describe('reconciler: dry run (DryRun.<call>)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.close());

  it('DRY-01 seed 004 Bond.create: the plan lists steps, what moves and what goes down; DB and host unchanged; the real call applies exactly those steps', async () => {
    await h.call('PIF.plug', h.pif('eth3'));
    const mgmtNet = await h.call('PIF.get_network', h.pif('eth0'));
    const { vm } = await vmWithVifs(h, [mgmtNet]);
    const domid = await h.call('VM.get_domid', vm);
    const mgt = await makeNetwork(h, { name_label: 'MGT' });
    const bridge = await h.call('network.get_bridge', mgt);
    const before = h.dump();
    const host = h.backend.host();
    const plans = h.backend.stats.plans;
    const args = [mgt, [h.pif('eth0'), h.pif('eth3')], '', 'active-backup', {}];

    const dry = await h.call<Plan>('DryRun.Bond.create', ...args);
    expect(h.dump()).to.deep.equal(before);
    expect(h.backend.host()).to.deep.equal(host);
    expect(h.backend.stats.plans, 'the backend was not asked to apply anything').to.equal(plans);
    expect(h.r.reconciler.journal!.openEntries()).to.deep.equal([]);

    expect(dry.method).to.equal('Bond.create');
    expect(dry.steps).to.include(`bond bond0 (eth0,eth3 active-backup) → ${bridge}`);
    expect(dry.moves).to.have.members([
      `NIC eth0: xenbr0 → ${bridge} (bond bond0)`,
      `NIC eth3: xenbr3 → ${bridge} (bond bond0)`,
      `IP 192.0.2.10: xenbr0 → ${bridge}`,
      `VIF vif${domid}.0: xenbr0 → ${bridge}`,
    ]);
    expect(dry.down).to.have.members(['bridge xenbr0', 'bridge xenbr3']);
    expect(dry.up).to.have.members([`bridge ${bridge}`, `bond bond0 (on ${bridge})`]);
    expect(dry.interrupted).to.deep.equal([]);

    await h.call('Bond.create', ...args);
    expect(h.r.reconciler.last.lines).to.deep.equal(dry.steps);
    await assertHostMatchesDb(h);
  });

  it('DRY-02 a call that changes no networking dry-runs to an empty plan and is not made (network.create)', async () => {
    const before = h.dump();
    const dry = await h.call<Plan>('DryRun.network.create', { name_label: 'x', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
    expect(dry).to.deep.equal({ method: 'network.create', steps: [], moves: [], down: [], interrupted: [], up: [] });
    expect(h.dump()).to.deep.equal(before);
  });

  it('DRY-03 a call that would fail fails the same way in a dry run', async () => {
    const nb = await makeNetwork(h);
    const real = await h.fails('Bond.create', nb, [], '', 'balance-slb', {});
    expect(await h.fails('DryRun.Bond.create', nb, [], '', 'balance-slb', {})).to.deep.equal(real);
    expect(await h.fails('DryRun.Bond.nonsense')).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'DryRun.Bond.nonsense']);
  });

  it('DRY-04 read-only calls give an empty plan; Async and DryRun do not combine', async () => {
    expect((await h.call<Plan>('DryRun.PIF.get_all')).steps).to.deep.equal([]);
    const f = await h.fails('DryRun.Async.Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
    expect(f[0]).to.equal('Fault');
  });

  it('DRY-05 summarize: a re-created bridge is interrupted, a removed VIF goes down, a new IP comes up', () => {
    const s = summarize([
      { op: 'bridge.del', bridge: 'xapi1', MTU: 1500 },
      { op: 'bridge.add', bridge: 'xapi1', MTU: 9000 },
      { op: 'vif.del', bridge: 'xenbr1', vif: 'vif3.0' },
      { op: 'ip.set', bridge: 'xenbr2', ip: { mode: 'Static', address: '198.51.100.7', netmask: '255.255.255.0', gateway: '', dns: '' } },
    ]);
    expect(s.interrupted).to.deep.equal(['bridge xapi1']);
    expect(s.down).to.deep.equal(['VIF vif3.0 (from xenbr1)']);
    expect(s.up).to.deep.equal(['IP 198.51.100.7 (on xenbr2)']);
  });
});

describe('reconciler: journal', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xnd-journal-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cfg = (db: string): Config => ({ ...DEFAULTS, db, port: 0, authFailDelayMs: 10, inventory: DEMO_INVENTORY, hostname: 'j', logLevel: 'error' });
  const quiet = () => makeLogger({ logLevel: 'error', logFile: '' });
  const simHost = () => new SimulatedBackend({ nics: DEMO_INVENTORY.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: true })) });

  it('JOURNAL-01 every applied plan is journaled with its steps and state before, and marked committed with the commit', async () => {
    const h = await startHarness();
    try {
      await h.call('PIF.plug', h.pif('eth1'));
      const [e] = h.r.reconciler.journal!.recent(1);
      expect(e.status).to.equal('committed');
      expect(e.method).to.equal('PIF.plug');
      expect(e.steps.map((s) => s.op)).to.deep.equal(['bridge.add', 'uplink.add']);
      expect(Object.keys(e.before.bridges)).to.deep.equal(['xenbr0']);
      expect(e.gen).to.be.lessThan(h.r.store.generation);
    } finally {
      await h.close();
    }
  });

  it('JOURNAL-02 start-up with an entry left open (plan applied, never committed): the host goes back to the database, the entry is closed as recovered', async () => {
    const db = join(dir, 'j2.db');
    const host = simHost();
    let r = await startDaemon(cfg(db), { backend: host, log: quiet() });
    // Every NIC up, as start of day leaves them at a restart (so the restart below applies no plan of its own).
    await r.store.write((tx) => {
      for (const [p, row] of tx.rows('PIF')) if (row.physical && !row.currently_attached) plugPif(tx, p);
    });
    const before = await host.read();
    expect(Object.keys(before.bridges)).to.have.length.above(1);
    // What a crash in the middle of PIF.unplug eth1 leaves: the plan journaled and applied, no commit.
    const plan = [
      { op: 'uplink.del', bridge: 'xenbr1', uplink: { kind: 'nic', device: 'eth1' } },
      { op: 'bridge.del', bridge: 'xenbr1', MTU: 1500 },
    ] as const;
    const id = r.reconciler.journal!.open(r.store.generation, 'PIF.unplug', [...plan], before);
    await host.apply([...plan]);
    expect(await host.read()).to.deep.equal(applyPlan(before, [...plan]));
    await r.close();

    const lines: string[] = [];
    const log = quiet();
    log.on('data', (i: { message: string }) => lines.push(i.message));
    r = await startDaemon(cfg(db), { backend: host, log });
    try {
      expect(await host.read()).to.deep.equal(before);
      const e = r.reconciler.journal!.recent(5).find((x) => x.id === id)!;
      expect(e.status).to.equal('recovered');
      expect(e.note).to.match(/start-up applied 2 steps .*host matches the database; host is back to the journaled state before/);
      expect(r.reconciler.journal!.openEntries()).to.deep.equal([]);
      expect(
        lines.some((l) => /crash recovery: journal entry \d+ \(PIF.unplug, 2 steps: .*\) was left open/.test(l)),
        lines.join('\n'),
      ).to.equal(true);
    } finally {
      await r.close();
    }
  });
});

describe('link monitor (Bond.links_up, PIF_metrics carrier/speed/duplex)', () => {
  it('MON-02 PIF_metrics.carrier follows the link of NICs and bonds; speed and duplex where the backend knows them', async () => {
    const h = await startHarness();
    try {
      const monitor = h.r.d.services.monitor!;
      const metrics = async (pif: string) => {
        const m = await h.call('PIF_metrics.get_record', await h.call('PIF.get_metrics', pif));
        return { carrier: m.carrier, speed: m.speed, duplex: m.duplex };
      };
      const eth2 = h.pif('eth2');
      expect(await metrics(eth2)).to.deep.equal({ carrier: true, speed: '0', duplex: false });
      h.backend.setCarrier('eth2', false);
      await monitor.refresh();
      expect((await metrics(eth2)).carrier, 'cable pulled').to.equal(false);
      const lastUpdated = await h.call('PIF_metrics.get_last_updated', await h.call('PIF.get_metrics', eth2));
      expect(lastUpdated).to.not.equal('19700101T00:00:00Z');
      h.backend.setCarrier('eth2', true);
      expect(await monitor.refresh()).to.equal(1);
      expect((await metrics(eth2)).carrier, 'cable back').to.equal(true);
      // a NIC whose speed and duplex are known (hot-plugged, then PIF.scan)
      h.backend.addNic({ device: 'eth9', MAC: '02:00:5e:00:53:19', MTU: 1500, carrier: true, speed: 10000, duplex: true });
      await h.call('PIF.scan', h.r.d.hostRef);
      await monitor.refresh();
      expect(await metrics(h.pif('eth9'))).to.deep.equal({ carrier: true, speed: '10000', duplex: true });
      h.backend.addNic({ device: 'eth8', MAC: '02:00:5e:00:53:18', MTU: 1500, carrier: true, speed: 1000, duplex: true });
      await h.call('PIF.scan', h.r.d.hostRef);
      // a plugged bond: carrier if any member has it, speed the sum of the members with carrier
      const net = await makeNetwork(h);
      await h.call('PIF.plug', h.pif('eth9'));
      const b = await h.call('Bond.create', net, [h.pif('eth9'), h.pif('eth8')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      await monitor.refresh();
      expect(await metrics(master)).to.deep.equal({ carrier: true, speed: '11000', duplex: true });
      h.backend.setCarrier('eth9', false);
      await monitor.refresh();
      expect(await metrics(master)).to.deep.equal({ carrier: true, speed: '1000', duplex: true });
      expect(await metrics(h.pif('eth9'))).to.deep.equal({ carrier: false, speed: '0', duplex: false });
      h.backend.setCarrier('eth8', false);
      await monitor.refresh();
      expect(await metrics(master)).to.deep.equal({ carrier: false, speed: '0', duplex: false });
      expect(await monitor.refresh(), 'nothing changed, nothing written').to.equal(0);
    } finally {
      await h.close();
    }
  });

  it('MON-01 refresh() writes links_up from the backend: both members up, one cable pulled, master unplugged', async () => {
    const h = await startHarness();
    try {
      const monitor = h.r.d.services.monitor!;
      const net = await makeNetwork(h);
      await h.call('PIF.plug', h.pif('eth1'));
      const b = await h.call('Bond.create', net, [h.pif('eth1'), h.pif('eth2')], '', 'active-backup', {});
      expect(await h.call('Bond.get_links_up', b)).to.equal('0');
      expect(await monitor.refresh(), "links_up and the master's PIF_metrics.carrier").to.equal(2);
      expect(await h.call('Bond.get_links_up', b)).to.equal('2');
      expect(await monitor.refresh(), 'nothing changed, nothing written').to.equal(0);
      h.backend.setCarrier('eth2', false);
      await monitor.refresh();
      expect(await h.call('Bond.get_links_up', b)).to.equal('1');
      await h.call('PIF.unplug', await h.call('Bond.get_master', b));
      await monitor.refresh();
      expect(await h.call('Bond.get_links_up', b)).to.equal('0');
    } finally {
      await h.close();
    }
  });
});
