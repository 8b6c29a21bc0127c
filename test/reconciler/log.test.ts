// The reconciler's log line for an applied plan: short plans spelled out, long ones (a pool
// slave's first state, ~600 steps) cut to their first steps and the journal entry that has them all.
import { expect } from 'chai';
import Database from 'better-sqlite3';
import type { NetState } from '../../src/backends/backend.js';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { Journal } from '../../src/reconciler/journal.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';

describe('reconciler: the log line of an applied plan', () => {
  it('RECON-LOG-01 a plan of up to 20 steps is logged whole; a longer one its first 20 steps, how many more and the journal entry that keeps them all', async () => {
    const lines: string[] = [];
    const r = new Reconciler(new SimulatedBackend({ nics: [] }), () => 'OpaqueRef:host', { info: (m) => lines.push(m) });
    const db = new Database(':memory:');
    r.journal = new Journal(db);
    const bridges = (n: number): NetState => ({
      bridges: Object.fromEntries(Array.from({ length: n }, (_, i) => [`br${i}`, { name: `br${i}`, MTU: 1500, vifs: [] }])),
    });
    await r.reconcile({ method: 'test', desired: bridges(20) });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^reconciler: test applied 20 steps: add bridge br0 \(MTU 1500\);.*; add bridge br9 \(MTU 1500\)$/);
    await r.reconcile({ method: 'test', desired: bridges(45) });
    const [e] = r.journal.recent(1);
    expect(e.steps).to.have.length(25);
    expect(lines[1].split('; ')).to.have.length(21);
    expect(lines[1]).to.match(new RegExp(`^reconciler: test applied 25 steps: add bridge br20 \\(MTU 1500\\);.*; … and 5 more \\(journal entry ${e.id}\\)$`));
    db.close();
  });
});
