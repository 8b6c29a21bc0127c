// The store: SQL schema derived from the datamodel, type round trips through SQLite,
// all-or-nothing transactions, serialised writers, schema version and migration by addition.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { SCHEMA_VERSION, manySide, storedClasses, storedFields } from '../../schema/index.js';
import { NULL_REF, Store, defaultOf, type Row } from '../../src/store/store.js';
import { ApiError } from '../../src/errors.js';

const plain = (v: unknown) => JSON.parse(JSON.stringify(v));

describe('store', () => {
  let dir: string;
  let n = 0;
  const file = () => join(dir, `s${n++}.db`);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xenapi-netd-store-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates one table per stored class with one column per stored field, computed relation sides left out', () => {
    const s = new Store(':memory:');
    const tables = (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'").all() as { name: string }[])
      .map((t) => t.name)
      .sort();
    expect(tables).to.deep.equal(
      storedClasses()
        .map((c) => c.name)
        .sort(),
    );
    for (const c of storedClasses()) {
      const cols = s.db.prepare(`PRAGMA table_info("${c.name}")`).all() as { name: string; type: string }[];
      expect(
        cols.map((x) => x.name),
        c.name,
      ).to.deep.equal(['_ref', '_created', '_modified', ...storedFields(c).map((f) => f.name)]);
      for (const fd of storedFields(c)) {
        const want = fd.ty.k === 'bool' || fd.ty.k === 'int' ? 'INTEGER' : fd.ty.k === 'float' ? 'REAL' : 'TEXT';
        expect(cols.find((x) => x.name === fd.name)!.type, `${c.name}.${fd.name}`).to.equal(want);
      }
    }
    const netCols = (s.db.prepare('PRAGMA table_info("network")').all() as { name: string }[]).map((x) => x.name);
    expect(netCols).not.to.include('PIFs');
    expect(netCols).not.to.include('VIFs');
    expect(manySide('network', 'PIFs')).to.not.equal(undefined);
    s.close();
  });

  it('opens in WAL mode with every commit synced (synchronous FULL), and records schema_version and the generation', async () => {
    const f = file();
    const s = new Store(f);
    expect(s.db.pragma('journal_mode', { simple: true })).to.equal('wal');
    // 2 = FULL: a commit is on disk when write() returns, not only in the OS's cache (NORMAL, 1).
    expect(s.db.pragma('synchronous', { simple: true })).to.equal(2);
    await s.write((tx) => {
      tx.create('pool', { name_label: 'p' });
    });
    s.close();
    const db = new Database(f, { readonly: true });
    const meta = Object.fromEntries((db.prepare('SELECT key, value FROM _meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    expect(meta.schema_version).to.equal(String(SCHEMA_VERSION));
    expect(meta.generation).to.equal('1');
    db.close();
  });

  it('refuses a database written by a newer schema version', () => {
    const f = file();
    new Store(f).close();
    const db = new Database(f);
    db.prepare("UPDATE _meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION + 1));
    db.close();
    expect(() => new Store(f)).to.throw(/newer/);
  });

  it('round-trips every type through SQLite: strings, ints, floats, bools, enums, datetimes, refs, sets, maps with __proto__ keys', async () => {
    const f = file();
    const s = new Store(f);
    const oc = Object.create(null);
    oc.__proto__ = 'proto';
    oc['ü € 𝄞'] = 'quote " and \\ backslash';
    oc[''] = '';
    const fields = {
      name_label: 'ünïcødé 𝄞 <&>',
      name_description: '',
      MTU: 9000,
      tags: ['a', '', 'b'],
      other_config: oc,
      managed: false,
      bridge: 'xenbr9',
    };
    const net = await s.write((tx) => tx.create('network', fields));
    const task = await s.write((tx) =>
      tx.create('task', {
        progress: 0.123456789012345,
        created: '20250319T04:16:24Z',
        status: 'failure',
        error_info: ['X', 'y'],
        externalpid: -42,
        subtask_of: NULL_REF,
      }),
    );
    const vm = await s.write((tx) => tx.create('VM', { memory_static_max: 2 ** 40, name_label: 'vm' }));
    const before = { net: s.get('network', net), task: s.get('task', task), vm: s.get('VM', vm) };
    s.close();
    const t = new Store(f);
    const after = { net: t.get('network', net), task: t.get('task', task), vm: t.get('VM', vm) };
    expect(plain(after)).to.deep.equal(plain(before));
    expect(Object.keys(after.net.other_config as object)).to.deep.equal(['__proto__', 'ü € 𝄞', '']);
    expect((after.net.other_config as Record<string, string>)['__proto__']).to.equal('proto');
    expect(after.net.MTU).to.equal(9000);
    expect(after.net.managed).to.equal(false);
    expect(after.net.tags).to.deep.equal(['a', '', 'b']);
    expect(after.task.progress).to.equal(0.123456789012345);
    expect(after.task.externalpid).to.equal(-42);
    expect(after.task.created).to.equal('20250319T04:16:24Z');
    expect(after.task.status).to.equal('failure');
    expect(after.vm.memory_static_max).to.equal(2 ** 40);
    expect(t.byUuid('network', String(after.net.uuid))).to.equal(net);
    t.close();
  });

  it('keeps one frozen copy of a small string map that repeats across rows, in its key order, also after reopen', async () => {
    const f = file();
    const s = new Store(f);
    const props = () => Object.assign(Object.create(null), { gro: 'on', b: '1' });
    const [a, b, c, d] = await s.write((tx) => [
      tx.create('network', { other_config: props() }),
      tx.create('network', { other_config: props() }),
      tx.create('network', { other_config: Object.assign(Object.create(null), { b: '1', gro: 'on' }) }),
      tx.create('network', { other_config: props() }),
    ]);
    const oc = (st: Store, ref: string) => st.get('network', ref).other_config as Record<string, string>;
    expect(oc(s, a)).to.equal(oc(s, b));
    expect(Object.isFrozen(oc(s, a))).to.equal(true);
    expect(oc(s, c)).not.to.equal(oc(s, a));
    expect(Object.keys(oc(s, c))).to.deep.equal(['b', 'gro']);
    await s.write((tx) => tx.set('network', b, { other_config: Object.assign(Object.create(null), { gro: 'off', b: '1' }) }));
    expect(plain(oc(s, a))).to.deep.equal({ gro: 'on', b: '1' });
    expect(plain(oc(s, b))).to.deep.equal({ gro: 'off', b: '1' });
    s.close();
    const t = new Store(f);
    expect(oc(t, a)).to.equal(oc(t, d));
    expect(Object.keys(oc(t, a))).to.deep.equal(['gro', 'b']);
    expect(Object.keys(oc(t, c))).to.deep.equal(['b', 'gro']);
    t.close();
  });

  it('fills unspecified fields with datamodel defaults and a fresh uuid', async () => {
    const s = new Store(':memory:');
    const a = await s.write((tx) => tx.create('network', { other_config: {} }));
    const b = await s.write((tx) => tx.create('network', { other_config: {} }));
    expect(plain(s.get('network', a))).to.include({ MTU: 1500, managed: true, name_label: '', bridge: '' });
    expect(s.get('network', a).uuid).to.match(/^[0-9a-f-]{36}$/);
    expect(s.get('network', a).uuid).not.to.equal(s.get('network', b).uuid);
    expect(a).to.match(/^OpaqueRef:[0-9a-f-]{36}$/);
    s.close();
  });

  it('a savepoint puts the transaction back while it is held; an outer one still does after an inner one is released; none is put back after its release', async () => {
    const s = new Store(':memory:');
    await s.write((tx) => {
      const a = tx.create('network', { name_label: 'a' });
      const outer = tx.savepoint();
      tx.set('network', a, { name_label: 'b' });
      const inner = tx.savepoint();
      const c = tx.create('network', { name_label: 'c' });
      inner();
      expect(tx.find('network', c)).to.equal(undefined);
      inner.release();
      tx.set('network', a, { name_label: 'd' });
      const e = tx.create('network', { name_label: 'e' });
      outer();
      expect(tx.get('network', a).name_label).to.equal('a');
      expect(tx.find('network', e)).to.equal(undefined);
      outer.release();
      expect(() => outer()).to.throw(/after its release/);
      // Released: later changes stay whatever happens to the savepoints taken before.
      const again = tx.savepoint();
      tx.set('network', a, { name_label: 'f' });
      again.release();
      expect(tx.get('network', a).name_label).to.equal('f');
    });
    expect(s.refs('network').map((r) => s.get('network', r).name_label)).to.deep.equal(['f']);
    s.close();
  });

  it('a transaction that throws leaves SQLite and the mirror unchanged', async () => {
    const f = file();
    const s = new Store(f);
    const net = await s.write((tx) => tx.create('network', { name_label: 'keep', other_config: {} }));
    const gen = s.generation;
    let fired = 0;
    s.onCommit(() => fired++);
    const failed = await s
      .write((tx) => {
        tx.set('network', net, { name_label: 'changed' });
        tx.create('network', { name_label: 'new', other_config: {} });
        tx.destroy('network', net);
        throw new Error('abort');
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    // The write must reject with the transaction's own error (not resolve, not swallow it).
    expect(failed?.message).to.equal('abort');
    expect(s.get('network', net).name_label).to.equal('keep');
    expect(s.count('network')).to.equal(1);
    expect(s.generation).to.equal(gen);
    expect(fired).to.equal(0);
    s.close();
    const t = new Store(f);
    expect(t.get('network', net).name_label).to.equal('keep');
    expect(t.count('network')).to.equal(1);
    expect(t.generation).to.equal(gen);
    t.close();
  });

  it('a commit that SQLite refuses leaves SQLite and the mirror unchanged too', async () => {
    const f = file();
    const s = new Store(f);
    const net = await s.write((tx) => tx.create('network', { name_label: 'keep', other_config: {} }));
    const gen = s.generation;
    let failed = false;
    try {
      await s.write((tx) => {
        tx.create('network', { name_label: 'first', other_config: {} });
        tx.set('network', net, { name_label: 'changed' });
        tx.set('network', net, { MTU: { not: 'bindable' } as unknown as number });
      });
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    expect(s.get('network', net).name_label).to.equal('keep');
    expect(s.count('network')).to.equal(1);
    expect(s.generation).to.equal(gen);
    await s.write((tx) => tx.set('network', net, { name_label: 'later' }));
    expect(s.generation).to.equal(gen + 1);
    s.close();
    const t = new Store(f);
    expect(t.count('network')).to.equal(1);
    expect(t.get('network', net).name_label).to.equal('later');
    t.close();
  });

  it('serialises writers: a read-modify-write from 50 concurrent writers loses nothing, and they never interleave', async () => {
    const s = new Store(':memory:');
    const net = await s.write((tx) => tx.create('network', { MTU: 0, other_config: {} }));
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.write(async (tx) => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const v = tx.get('network', net).MTU as number;
          if (i % 3 === 0) await new Promise((r) => setTimeout(r, 1));
          else await Promise.resolve();
          tx.set('network', net, { MTU: v + 1 });
          inside--;
        }),
      ),
    );
    expect(s.get('network', net).MTU).to.equal(50);
    expect(maxInside).to.equal(1);
    s.close();
  });

  it('a failed writer does not block the ones queued behind it', async () => {
    const s = new Store(':memory:');
    const results = await Promise.allSettled([
      s.write(() => {
        throw new Error('x');
      }),
      s.write((tx) => tx.create('pool', {})),
    ]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'fulfilled']);
    expect(s.count('pool')).to.equal(1);
    s.close();
  });

  it('readers see committed state only, never a transaction in progress', async () => {
    const s = new Store(':memory:');
    const net = await s.write((tx) => tx.create('network', { name_label: 'a', other_config: {} }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = s.write(async (tx) => {
      tx.set('network', net, { name_label: 'b' });
      tx.create('network', { name_label: 'c', other_config: {} });
      expect(tx.get('network', net).name_label).to.equal('b');
      expect(tx.count('network')).to.equal(2);
      await gate;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(s.get('network', net).name_label).to.equal('a');
    expect(s.count('network')).to.equal(1);
    release();
    await w;
    expect(s.get('network', net).name_label).to.equal('b');
    expect(s.count('network')).to.equal(2);
    s.close();
  });

  it('computes relation sides from the stored side, inside a transaction and after commit', async () => {
    const s = new Store(':memory:');
    const [n1, n2, p] = await s.write((tx) => {
      const a = tx.create('network', { other_config: {} });
      const b = tx.create('network', { other_config: {} });
      const pif = tx.create('PIF', { network: a, device: 'eth9' });
      expect(tx.children('network', a, 'PIFs')).to.deep.equal([pif]);
      return [a, b, pif];
    });
    expect(s.children('network', n1, 'PIFs')).to.deep.equal([p]);
    await s.write((tx) => {
      tx.set('PIF', p, { network: n2 });
      expect(tx.children('network', n1, 'PIFs')).to.deep.equal([]);
      expect(tx.children('network', n2, 'PIFs')).to.deep.equal([p]);
    });
    expect(s.children('network', n1, 'PIFs')).to.deep.equal([]);
    expect(s.children('network', n2, 'PIFs')).to.deep.equal([p]);
    await s.write((tx) => tx.destroy('PIF', p));
    expect(s.children('network', n2, 'PIFs')).to.deep.equal([]);
    s.close();
  });

  it('HANDLE_INVALID and UUID_INVALID from reads of missing objects', async () => {
    const s = new Store(':memory:');
    expect(() => s.get('PIF', NULL_REF))
      .to.throw(ApiError)
      .with.property('code', 'HANDLE_INVALID');
    expect(() => s.byUuid('PIF', 'x'))
      .to.throw(ApiError)
      .with.property('code', 'UUID_INVALID');
    await s.write((tx) => {
      expect(() => tx.set('PIF', 'OpaqueRef:x', {})).to.throw(ApiError);
      expect(() => tx.destroy('PIF', 'OpaqueRef:x')).to.throw(ApiError);
    });
    s.close();
  });

  it('reports each commit once to listeners with its changes, and not for a write that changed nothing', async () => {
    const s = new Store(':memory:');
    const seen: [number, string[]][] = [];
    s.onCommit((gen, ch) => seen.push([gen, ch.map((c) => c.cls)]));
    await s.write((tx) => {
      tx.create('pool', {});
      tx.create('network', { other_config: {} });
    });
    await s.write(() => {});
    expect(seen).to.deep.equal([[1, ['pool', 'network']]]);
    s.close();
  });

  it('migrates by addition: a column missing from an existing file is added with the field default', async () => {
    const f = file();
    const s = new Store(f);
    const net = await s.write((tx) => tx.create('network', { name_label: 'old', other_config: {} }));
    const pif = await s.write((tx) => tx.create('PIF', { device: 'eth7', network: net }));
    s.close();
    const db = new Database(f);
    db.exec('ALTER TABLE "network" DROP COLUMN "MTU"');
    db.exec('ALTER TABLE "network" DROP COLUMN "tags"');
    db.exec('ALTER TABLE "PIF" DROP COLUMN "other_config"');
    db.exec('ALTER TABLE "PIF" DROP COLUMN "bond_slave_of"');
    db.close();
    const t = new Store(f);
    expect(t.get('network', net).name_label).to.equal('old');
    expect(t.get('network', net).MTU).to.equal(1500);
    expect(t.get('network', net).tags).to.deep.equal([]);
    expect(plain(t.get('PIF', pif).other_config)).to.deep.equal({});
    expect(t.get('PIF', pif).bond_slave_of).to.equal(NULL_REF);
    expect(t.children('network', net, 'PIFs')).to.deep.equal([pif]);
    t.close();
    const again = new Store(f);
    expect(again.get('network', net).MTU).to.equal(1500);
    again.close();
  });

  it('tells the relation listeners once per target a commit touches: a rewritten row, a moved link, a create and a delete', async () => {
    const s = new Store(':memory:');
    const told: string[] = [];
    s.onRelationChange((cls, ref) => told.push(`${cls} ${ref}`));
    const [n1, n2, h] = await s.write((tx) => [tx.create('network', { other_config: {} }), tx.create('network', { other_config: {} }), tx.create('host', {})]);
    const [p, q] = await s.write((tx) => [
      tx.create('PIF', { network: n1, host: h, device: 'eth8' }),
      tx.create('PIF', { network: n1, host: h, device: 'eth9' }),
    ]);
    expect(told.sort()).to.deep.equal([`host ${h}`, `host ${h}`, `network ${n1}`, `network ${n1}`]);
    // A rewrite that keeps its links: each target once (its ref moves last in the target's set).
    told.length = 0;
    await s.write((tx) => tx.set('PIF', p, { MTU: 9000 }));
    expect(told.sort()).to.deep.equal([`host ${h}`, `network ${n1}`]);
    expect(s.children('network', n1, 'PIFs')).to.deep.equal([q, p]);
    // A link moved: the old target and the new one, once each.
    told.length = 0;
    await s.write((tx) => tx.set('PIF', p, { network: n2 }));
    expect(told.sort()).to.deep.equal([`host ${h}`, `network ${n1}`, `network ${n2}`].sort());
    told.length = 0;
    await s.write((tx) => tx.destroy('PIF', p));
    expect(told.sort()).to.deep.equal([`host ${h}`, `network ${n2}`]);
    expect([s.children('network', n1, 'PIFs'), s.children('network', n2, 'PIFs'), s.children('host', h, 'PIFs')]).to.deep.equal([[q], [], [q]]);
    s.close();
  });

  it('migrates a table created by an older version with fewer columns, keeping its rows', async () => {
    const f = file();
    const db = new Database(f);
    db.exec('CREATE TABLE "pool" (_ref TEXT PRIMARY KEY, _created INTEGER NOT NULL, _modified INTEGER NOT NULL, "uuid" TEXT, "name_label" TEXT)');
    db.prepare('INSERT INTO "pool" VALUES (?, 1, 1, ?, ?)').run('OpaqueRef:old-pool', '11111111-2222-3333-4444-555555555555', 'legacy');
    db.close();
    const s = new Store(f);
    const row = s.get('pool', 'OpaqueRef:old-pool');
    expect(row.name_label).to.equal('legacy');
    const poolDef = storedClasses().find((c) => c.name === 'pool')!;
    for (const fd of storedFields(poolDef)) {
      if (fd.name === 'uuid' || fd.name === 'name_label') continue;
      expect(plain((row as Row)[fd.name]), fd.name).to.deep.equal(plain(defaultOf(fd)));
    }
    expect(s.byUuid('pool', '11111111-2222-3333-4444-555555555555')).to.equal('OpaqueRef:old-pool');
    s.close();
  });

  it('keeps the generation and deletions across reopen, so old tokens still see deletes', async () => {
    const f = file();
    const s = new Store(f);
    const a = await s.write((tx) => tx.create('network', { other_config: {} }));
    const g = s.generation;
    await s.write((tx) => tx.destroy('network', a));
    s.close();
    const t = new Store(f);
    expect(t.generation).to.equal(g + 1);
    expect(t.tombstones.get(`network/${a}`)).to.deep.include({ gen: g + 1, created: g });
    expect(t.log.some((c) => c.ref === a && c.gen === g + 1)).to.equal(true);
    t.close();
  });

  it('a write that called another host runs again only if a commit made meanwhile touched what it read, and creates the same refs when it does', async () => {
    const s = new Store(':memory:');
    const [h1, h2, net] = await s.write((tx) => [
      tx.create('host', { name_label: 'h1' }),
      tx.create('host', { name_label: 'h2' }),
      tx.create('network', { name_label: 'shared' }),
    ]);
    // A prepare hook asks for one remote call per write, keyed by the host the write names; its call waits for the test.
    let release!: () => void;
    let called!: () => void;
    const named = new WeakMap<object, string>();
    s.onPrepare((tx) => {
      const host = named.get(tx);
      if (!host) return;
      tx.remote.set(host, {
        key: host,
        payload: 'state',
        run: () =>
          new Promise<void>((r) => {
            release = r;
            called();
          }),
      });
    });
    const slow = async (host: string, meanwhile: (tx: import('../../src/store/store.js').Txn) => void) => {
      const before = [s.remoteReruns, s.remoteClean];
      const runs: string[] = [];
      const inFlight = new Promise<void>((r) => (called = r));
      const w = s.write((tx) => {
        named.set(tx, host);
        // Reads: its host's row, and the shared network's PIFs on its host only (a scoped read).
        tx.get('host', host);
        tx.children('network', net, 'PIFs', { field: 'host', value: host });
        const pif = tx.create('PIF', { host, network: net, device: `eth${runs.length}` });
        runs.push(pif);
        return pif;
      });
      await inFlight;
      await s.write(meanwhile);
      release();
      const pif = await w;
      return { pif, runs, reruns: s.remoteReruns - before[0], clean: s.remoteClean - before[1] };
    };
    // Another host's PIF joins the shared network, and another host is renamed: nothing this write read.
    const a = await slow(h1, (tx) => {
      tx.create('PIF', { host: h2, network: net, device: 'eth9' });
      tx.set('host', h2, { name_label: 'h2 renamed' });
    });
    expect([a.runs.length, a.reruns, a.clean]).to.deep.equal([1, 0, 1]);
    // Its own host's row changed: it runs again, and its new PIF keeps the ref the first run gave it.
    const b = await slow(h1, (tx) => tx.set('host', h1, { name_label: 'h1 renamed' }));
    expect([b.runs.length, b.reruns]).to.deep.equal([2, 1]);
    expect(b.runs[1]).to.equal(b.runs[0]);
    expect(b.pif).to.equal(b.runs[0]);
    // A PIF of its host joined the network it read (scoped to its host): it runs again.
    const c = await slow(h1, (tx) => {
      tx.create('PIF', { host: h1, network: net, device: 'eth8' });
    });
    expect(c.reruns).to.equal(1);
    expect(s.children('network', net, 'PIFs', { field: 'host', value: h1 }).sort()).to.deep.equal(
      [a.pif, b.pif, c.pif, ...s.children('host', h1, 'PIFs').filter((p) => s.get('PIF', p).device === 'eth8')].sort(),
    );
    s.close();
  });
});
