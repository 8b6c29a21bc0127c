// Pool start-up sync benchmark (simulated backends, in-process daemons talking XML-RPC over
// loopback): a master with 50 bonds (100 NICs, 50 bond networks) and 500 VLANs (10 per bond, each
// on its own network); slaves with the same 100 NICs start and sync (register, NIC report,
// fix_bonds, copy 50 bonds and 500 VLANs, apply the resulting state). Reports the time for one
// slave, then for 1, 2, 4, 8 and 16 slaves started at once against one fresh master each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallCtx } from '../../src/api/context.js';
import { bondCreate } from '../../src/xapi/bond.js';
import { vlanCreate } from '../../src/xapi/vlan.js';
import { inventory, startNode, until, type Node } from '../pool/nodes.js';

const NICS = Array.from({ length: 100 }, (_, i) => `eth${i}`);
const BONDS = 50;
const VLANS_PER_BOND = 10;

/** A master whose host has 50 bonds and 500 VLANs on them (built in three transactions). */
async function bigMaster(dir: string): Promise<Node> {
  const m = await startNode({ h: 0, db: join(dir, 'm.db'), nics: inventory(0, NICS) });
  const store = m.r.store;
  const host = m.r.d.hostRef;
  const pif = (dev: string) => [...store.rows('PIF')].find(([, p]) => p.host === host && p.device === dev && p.physical === true)![0];
  const net = (tx: any, name: string) => tx.create('network', { name_label: name, name_description: '', MTU: 1500, other_config: Object.create(null), bridge: name.toLowerCase(), managed: true });
  const bondMasters: string[] = [];
  await store.write((tx) => {
    const ctx = { d: m.r.d, session: '', db: tx, tx, method: 'bench' } as CallCtx;
    for (let b = 0; b < BONDS; b++) {
      const n = net(tx, `xapib${b}`);
      const bond = bondCreate(ctx, n, [pif(`eth${2 * b}`), pif(`eth${2 * b + 1}`)], '', b === 0 ? 'active-backup' : 'balance-slb', {});
      bondMasters.push(String(tx.get('Bond', bond).master));
    }
  });
  await store.write((tx) => {
    for (let b = 0; b < BONDS; b++) {
      for (let v = 0; v < VLANS_PER_BOND; v++) vlanCreate(tx, bondMasters[b], 100 + b * VLANS_PER_BOND + v, net(tx, `xapiv${b}x${v}`));
    }
  });
  return m;
}

/** Starts `n` slaves at once; returns the ms until every one finished its start-up sync. */
async function startSlaves(m: Node, dir: string, n: number): Promise<{ ms: number; slaves: Node[] }> {
  const t0 = performance.now();
  const slaves = await Promise.all(Array.from({ length: n }, (_, i) =>
    startNode({ h: (i % 9) + 1, db: join(dir, `s${n}-${i}.db`), master: m.url, nics: inventory((i % 9) + 1, NICS), heartbeatMs: 60_000, config: { hostname: `slave${n}-${i}` } })));
  await until(() => slaves.every((s) => (s.pool.agent?.syncs ?? 0) >= 1), 300_000, `${n} slaves to sync`);
  return { ms: performance.now() - t0, slaves };
}

/** `make bench` lines for pool start-up sync. */
export async function benchPool(): Promise<string[]> {
  const out: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'xnd-pool-bench-'));
  try {
    const curve: string[] = [];
    for (const n of [1, 2, 4, 8, 16]) {
      const m = await bigMaster(mkdtempSync(join(dir, `m${n}-`)));
      const { ms, slaves } = await startSlaves(m, dir, n);
      if (n === 1) {
        const s = slaves[0];
        const h = m.r.store.byUuid('host', String(s.r.store.get('host', s.r.d.hostRef).uuid));
        const bonds = [...m.r.store.rows('Bond')].filter(([, b]) => m.r.store.get('PIF', String(b.master)).host === h).length;
        const vlans = [...m.r.store.rows('PIF')].filter(([, p]) => p.host === h && Number(p.VLAN) >= 0).length;
        out.push(`pool start-up sync, 1 slave (${BONDS} bonds, ${BONDS * VLANS_PER_BOND} VLANs, ${NICS.length} NICs on the master; copied ${bonds} bonds, ${vlans} VLANs): ${ms.toFixed(0)} ms (target < 2000 ms)`);
      }
      curve.push(`${n}: ${ms.toFixed(0)} ms`);
      for (const s of slaves) await s.stop();
      await m.stop();
    }
    out.push(`pool start-up sync, N slaves started at once against one master (all synced): ${curve.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// `node dist/test/bench/pool-bench.js` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  benchPool().then((lines) => {
    for (const l of lines) console.log(l);
    process.exit(0);
  }, (e) => {
    console.error(e);
    process.exit(1);
  });
}
