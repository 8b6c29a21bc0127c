// Crash recovery, for real: the daemon runs as a child process against a sandboxed Open vSwitch
// (scripts/ovs-sandbox.ts) and is SIGKILLed in the middle of seed 004's Bond.create (the management
// PIF eth0 bonded with eth3, active-backup, onto network MGT), once per kill point:
//   k = 0..n  — failpoint reconciler.step=crash(k): the plan's steps 0..k-1 reach OVS, then the process dies
//               before step k (k = n: the whole plan applied, the database not yet committed);
//   commit    — failpoint reconciler.commit=crash: dies just after the database commit (which also marked the
//               journal entry committed).
// For k = 0..n the journal entry is left open; the daemon is restarted on the same database and
// sandbox, and before it serves it must have brought the host to the committed database: the
// host (backend.read() through the sandbox) is exactly the layout before Bond.create when the
// bond did not commit, exactly the bonded layout when it did, the database (over XML-RPC) agrees,
// the log says what recovery did, and the journal has nothing open.
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import type { NetState } from '../../src/backends/backend.js';
import { OpenvswitchBackend } from '../../src/backends/ovs/backend.js';
import { DEMO_INVENTORY } from '../../src/config.js';
import { XenAPIFailure } from '../helpers/harness.js';
import { spawnDaemon, type Child } from '../helpers/child.js';

const NICS = ['eth0', 'eth1', 'eth2', 'eth3'];

function copyDb(from: string, to: string): void {
  for (const sfx of ['', '-wal', '-shm']) {
    rmSync(to + sfx, { force: true });
    if (existsSync(from + sfx)) copyFileSync(from + sfx, to + sfx);
  }
}

function journal(db: string): { status: string; method: string }[] {
  const d = new Database(db);
  try {
    return d.prepare('SELECT status, method FROM _journal ORDER BY id').all() as { status: string; method: string }[];
  } finally {
    d.close();
  }
}

describe('e2e: SIGKILL at every step of Bond.create, restart, host and database agree (OVS sandbox)', function () {
  this.timeout(180000);
  let sb: Sandbox;
  let be: OpenvswitchBackend;
  let dir: string;
  let base: string;
  const children: Child[] = [];
  let args: unknown[];
  let stateBefore: NetState;
  let stateAfter: NetState;
  let steps: string[];
  let mgtBridge: string;

  const start = async (db: string, env?: Record<string, string>) => {
    const c = await spawnDaemon({ db, sandboxDir: sb.dir, env });
    children.push(c);
    return c;
  };

  before(async function () {
    sb = await startSandbox({ name: 'crash', nics: NICS.map((device, i) => ({ device, mac: DEMO_INVENTORY[i].MAC })) });
    be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    dir = mkdtempSync(join(tmpdir(), 'xnd-crash-'));
    base = join(dir, 'base.db');
    // The database just before Bond.create: first start, every NIC plugged (as start of day leaves
    // them at every restart, so a restart here applies no plan of its own), network MGT.
    const c = await start(base);
    const pifs = await c.call<Record<string, Record<string, any>>>('PIF.get_all_records');
    const pif = (dev: string) => Object.keys(pifs).find((r) => pifs[r].device === dev && pifs[r].physical)!;
    for (const d of ['eth1', 'eth2', 'eth3']) await c.call('PIF.plug', pif(d));
    const mgt = await c.call<string>('network.create', { name_label: 'MGT', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    mgtBridge = await c.call<string>('network.get_bridge', mgt);
    args = [mgt, [pif('eth0'), pif('eth3')], '', 'active-backup', {}];
    const dry = await c.call<{ steps: string[] }>('DryRun.Bond.create', ...args);
    steps = dry.steps;
    await c.stop();
    stateBefore = await be.read();
    expect(Object.keys(stateBefore.bridges)).to.deep.equal(['xenbr0', 'xenbr1', 'xenbr2', 'xenbr3']);
    expect(stateBefore.bridges.xenbr0.ip?.address).to.equal('192.0.2.10');
    // The bonded layout, from an uninterrupted run on a copy.
    const ref = join(dir, 'ref.db');
    copyDb(base, ref);
    const r = await start(ref);
    await r.call('Bond.create', ...args);
    stateAfter = await be.read();
    await r.stop();
    expect(Object.keys(stateAfter.bridges).sort()).to.deep.equal([mgtBridge, 'xenbr1', 'xenbr2'].sort());
    expect(stateAfter.bridges[mgtBridge].uplink).to.deep.include({ kind: 'bond', members: ['eth0', 'eth3'], mode: 'active-backup' });
    console.log(`      seed 004 Bond.create plan (${steps.length} steps): ${steps.join('; ')}`);
  });

  after(async function () {
    for (const c of children) await c.stop().catch(() => undefined);
    await sb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const points = () => [...Array.from({ length: steps.length + 1 }, (_, k) => String(k)), 'commit'];

  it('CRASH-01 every kill point: after restart the bond exists in both database and OVS, or in neither', async function () {
    expect(steps.length).to.be.at.least(6);
    const seen: string[] = [];
    for (const k of points()) {
      const db = join(dir, `k${k}.db`);
      copyDb(base, db);
      const a = await start(db, { XND_FAILPOINTS: k === 'commit' ? 'reconciler.commit=crash' : `reconciler.step=crash(${k})` });
      const outcome = await a.call('Bond.create', ...args).then(
        () => 'returned',
        (e: Error) => e.message,
      );
      const exit = await Promise.race([
        a.exited,
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`kill point ${k}: the daemon did not die (call: ${outcome})\n${a.log()}`)), 20000)),
      ]);
      expect(exit.signal, `kill point ${k}: the daemon must die by SIGKILL (call: ${outcome})\n${a.log()}`).to.equal('SIGKILL');
      const committed = k === 'commit';
      const bondEntries = () =>
        journal(db)
          .filter((e) => e.method === 'Bond.create')
          .map((e) => e.status);
      // Not committed: the plan's entry is open. Committed: it was marked inside the database commit.
      expect(bondEntries(), `kill point ${k}: journal at the crash`).to.deep.equal([committed ? 'committed' : 'open']);

      const b = await start(db);
      const log = b.log();
      if (committed) expect(log).to.not.contain('crash recovery');
      else {
        expect(log, `kill point ${k}: recovery logged\n${log}`).to.match(
          new RegExp(`crash recovery: journal entry \\d+ \\(Bond.create, ${steps.length} steps: .*\\) was left open: its transaction did not commit`),
        );
        expect(log).to.match(
          /crash recovery: journal entry \d+: start-up applied \d+ steps.*; host matches the database; host is back to the journaled state before/,
        );
      }
      // The database, over the wire.
      const bonds = await b.call<Record<string, Record<string, any>>>('Bond.get_all_records');
      const pifs = await b.call<Record<string, Record<string, any>>>('PIF.get_all_records');
      const byDev = (d: string) => Object.values(pifs).find((p) => p.device === d && p.physical)!;
      // The host, through the sandbox.
      const host = await be.read();
      if (committed) {
        expect(Object.keys(bonds), `kill point ${k}: bond in the database`).to.have.length(1);
        const master = pifs[Object.values(bonds)[0].master];
        expect([master.device, master.currently_attached, master.management, master.IP]).to.deep.equal(['bond0', true, true, '192.0.2.10']);
        expect(host, `kill point ${k}: OVS has the bond`).to.deep.equal(stateAfter);
      } else {
        expect(bonds, `kill point ${k}: no bond in the database`).to.deep.equal({});
        expect([byDev('eth0').currently_attached, byDev('eth0').management, byDev('eth0').IP, byDev('eth3').currently_attached]).to.deep.equal([
          true,
          true,
          '192.0.2.10',
          true,
        ]);
        expect(host, `kill point ${k}: OVS is back to the layout before`).to.deep.equal(stateBefore);
      }
      expect(await sb.vsctl(['list-br'])).to.equal(committed ? [mgtBridge, 'xenbr1', 'xenbr2'].sort().join('\n') : 'xenbr0\nxenbr1\nxenbr2\nxenbr3');
      await b.stop();
      expect(bondEntries(), `kill point ${k}: journal closed`).to.deep.equal([committed ? 'committed' : 'recovered']);
      expect(journal(db).filter((e) => e.status === 'open')).to.deep.equal([]);
      seen.push(`${k}:${committed ? 'forward' : 'back'}`);
    }
    console.log(`      ${seen.length} kill points recovered: ${seen.join(' ')}`);
  });

  it('CRASH-02 a database commit failing after the plan reached OVS: the plan is undone, nothing is committed, the daemon serves on', async function () {
    const db = join(dir, 'commit-fails.db');
    copyDb(base, db);
    // Start-up brings OVS back to this database whatever the previous test left.
    const a = await start(db, { XND_FAILPOINTS: 'reconciler.db-commit=1*error(Bond.create)' });
    expect(await be.read()).to.deep.equal(stateBefore);
    const err = await a.call('Bond.create', ...args).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'Bond.create must fail').to.be.instanceOf(XenAPIFailure);
    expect((err as XenAPIFailure).details[0]).to.equal('INTERNAL_ERROR');
    expect(await be.read(), 'OVS back to the layout before').to.deep.equal(stateBefore);
    expect(await sb.vsctl(['list-br'])).to.equal('xenbr0\nxenbr1\nxenbr2\nxenbr3');
    expect(await a.call('Bond.get_all_records')).to.deep.equal({});
    const pifs = await a.call<Record<string, Record<string, any>>>('PIF.get_all_records');
    const eth0 = Object.values(pifs).find((p) => p.device === 'eth0' && p.physical)!;
    expect([eth0.currently_attached, eth0.management, eth0.IP]).to.deep.equal([true, true, '192.0.2.10']);
    expect(
      journal(db)
        .filter((e) => e.method === 'Bond.create')
        .map((e) => e.status),
    ).to.deep.equal(['undone']);
    // The failpoint fired once: the same call now commits and OVS has the bond.
    await a.call('Bond.create', ...args);
    expect(await be.read()).to.deep.equal(stateAfter);
    await a.stop();
  });
});
