// The record cache against the general codec: after random writes (stored fields, relation
// fields moving children between parents, creates, destroys, touches), every cached get_record
// reply and every get_all_records reply built from cached fragments must be byte for byte what
// the general encoders make from a freshly built record, in XML-RPC and in JSON-RPC. Reads are
// interleaved with the writes, so stale cache entries are there to be caught.
import { expect } from 'chai';
import { LazyMap, T, classDef, oneSides, storedFields, type FieldDef } from '../../schema/index.js';
import { cachedRecord, recordOf } from '../../src/api/records.js';
import '../../src/api/rbac.js'; // registers session.rbac_permissions
import { NULL_REF, Store, type Txn } from '../../src/store/store.js';
import * as jsonrpc from '../../src/wire/jsonrpc.js';
import * as xmlrpc from '../../src/wire/xmlrpc.js';
import { Encoded } from '../../src/wire/values.js';

/** A seeded PRNG (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'Z', '0', ' ', '<', '>', '&', '"', "'", 'é', '€', '😀', ']]>', '\t'];
const CLASSES = ['host', 'network', 'PIF', 'Bond', 'VLAN', 'tunnel', 'VM', 'VIF'];

const bytes = (parts: Iterable<string | Buffer>) => Buffer.concat([...parts].map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));

describe('api/record-cache: cached records equal the general codec', () => {
  // Seed 4 assembles bulk replies with the JavaScript assembler, as a daemon without the addon does (XND_NO_ADDONS, not built).
  for (const seed of [1, 2, 3, 4]) {
    const js = seed === 4;
    it(`seed ${seed}: 400 random writes, reads between them${js ? ' (bulk replies by the JavaScript assembler)' : ''}`, async () => {
      const r = rng(seed);
      if (js) xmlrpc.useAssembler(xmlrpc.jsAssembler());
      const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
      const str = () => Array.from({ length: Math.floor(r() * 6) }, () => pick(ALPHABET)).join('');
      const store = new Store(':memory:');
      try {
        const refs = (cls: string) => store.refs(cls);
        // Free fields (no value type, not other_config's checked keys) take random values.
        const free = (cls: string): FieldDef[] =>
          storedFields(classDef(cls)!).filter(
            (fd) =>
              !fd.vt &&
              !fd.internal &&
              fd.name !== 'uuid' &&
              (fd.ty.k === 'string' || fd.ty.k === 'int' || fd.ty.k === 'bool' || (fd.ty.k === 'map' && fd.name !== 'other_config')),
          );
        const randomOf = (fd: FieldDef): unknown => {
          switch (fd.ty.k) {
            case 'string':
              return str();
            case 'int':
              return pick([0, -1, 1500, 2 ** 40, 2n ** 62n]);
            case 'bool':
              return r() < 0.5;
            default: {
              const m: Record<string, string> = Object.create(null);
              for (let i = Math.floor(r() * 3); i > 0; i--) m[str() || 'k'] = str();
              return m;
            }
          }
        };
        const relFields = (cls: string) => oneSides(cls).map((rd) => ({ field: rd.one.field, target: rd.many.cls }));
        const randomTarget = (cls: string) => (r() < 0.15 ? NULL_REF : pick([...refs(cls), NULL_REF]));
        const mutate = (tx: Txn) => {
          const op = r();
          const cls = pick(CLASSES);
          const live = tx.refs(cls);
          if (op < 0.15 || live.length < 2) {
            const init: Record<string, unknown> = {};
            for (const { field, target } of relFields(cls)) init[field] = randomTarget(target);
            tx.create(cls, init);
          } else if (op < 0.22) {
            tx.destroy(cls, pick(live));
          } else if (op < 0.3) {
            tx.touch(cls, pick(live));
          } else if (op < 0.65 && relFields(cls).length) {
            const { field, target } = pick(relFields(cls));
            tx.set(cls, pick(live), { [field]: randomTarget(target) });
          } else {
            const fds = free(cls);
            if (fds.length) {
              const fd = pick(fds);
              tx.set(cls, pick(live), { [fd.name]: randomOf(fd) });
            }
          }
        };
        const check = (cls: string, ref: string) => {
          const c = cachedRecord(store, cls, ref);
          expect(c).to.be.instanceOf(Encoded);
          const e = c as Encoded;
          const plain = recordOf(store, cls, ref);
          const ty = T.record(cls);
          expect(e.xmlReply().toString('utf8'), `${cls} ${ref} XML-RPC reply`).to.equal(xmlrpc.successString(plain, ty));
          expect(e.xml().toString('utf8'), `${cls} ${ref} XML-RPC value`).to.equal(xmlrpc.encode(plain, ty));
          expect(e.json().toString('utf8'), `${cls} ${ref} JSON`).to.equal(jsonrpc.stringifyValue(plain, ty));
          // Inside a larger value (a task result, an event snapshot) the cached form encodes the same.
          expect(xmlrpc.encode(c, ty)).to.equal(xmlrpc.encode(plain, ty));
          expect(jsonrpc.stringifyValue([c], T.any)).to.equal(jsonrpc.stringifyValue([plain], T.any));
        };
        const checkAll = (cls: string) => {
          const ty = T.map(T.ref(cls), T.record(cls));
          const rows = [...store.rows(cls)];
          const lazy = (cached: boolean) =>
            new LazyMap(
              rows.length,
              rows.map(([ref, row]) => [ref, cached ? cachedRecord(store, cls, ref, row) : recordOf(store, cls, ref, row)] as [string, unknown]),
            );
          expect(bytes(xmlrpc.successParts(lazy(true), ty)).toString('utf8'), `${cls} get_all_records XML-RPC`).to.equal(
            bytes(xmlrpc.successParts(lazy(false), ty)).toString('utf8'),
          );
          for (const version of [1, 2] as const) {
            const call = { version, id: 7 };
            expect(bytes(jsonrpc.successParts(call, lazy(true), ty)).toString('utf8'), `${cls} get_all_records JSON v${version}`).to.equal(
              bytes(jsonrpc.successParts(call, lazy(false), ty)).toString('utf8'),
            );
          }
        };
        for (let i = 0; i < 400; i++) {
          await store.write((tx) => {
            for (let k = 1 + Math.floor(r() * 3); k > 0; k--) mutate(tx);
          });
          // Read a few objects (filling the cache, or checking what it holds) after every write.
          for (let k = 0; k < 4; k++) {
            const cls = pick(CLASSES);
            const live = refs(cls);
            if (live.length) check(cls, pick(live));
          }
          if (i % 50 === 49) for (const cls of CLASSES) checkAll(cls);
        }
        for (const cls of CLASSES) for (const ref of refs(cls)) check(cls, ref);
      } finally {
        if (js) xmlrpc.useAssembler();
        store.close();
      }
    });
  }

  it('a class with derived fields (session: rbac_permissions from its subject) is not cached', async () => {
    const store = new Store(':memory:');
    try {
      const ref = await store.write((tx) => tx.create('session', { is_local_superuser: true }));
      const rec = cachedRecord(store, 'session', ref);
      expect(rec).not.to.be.instanceOf(Encoded);
      expect(rec).to.deep.equal(recordOf(store, 'session', ref));
    } finally {
      store.close();
    }
  });
});
