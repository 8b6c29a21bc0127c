// Contract tests: the recorded sessions of real clients in test/contract/*.jsonl replay byte
// for byte against today's daemon (scripts/replay.ts); the normaliser lets through exactly what
// differs between runs; and a real xapi database dump (XenServer 6.0, test/contract/fixtures/) has
// every field we claim, in the same kind, with the naming our first start reproduces.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { classDef, visibleFields } from '../../schema/index.js';
import { dbString, recordOf } from '../../src/api/records.js';
import type { InventoryNic } from '../../src/xapi/startup.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DUMP_CLASSES } from '../../src/api/dump.js';
import { armFailpoint, disarmFailpoints } from '../../src/failpoints.js';
import { compareDumps, IdMap, parseRecording, replay, startReplayDaemon, type Recording } from '../../scripts/replay.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** The repository root (this file runs from dist/test/contract/). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CORPUS = join(ROOT, 'test/contract');
// BSD-2 (Citrix), shipped with its licence: test/contract/fixtures/README.md.
const STATE2 = join(CORPUS, 'fixtures/xenadmin-state2-networking-subset.xml');

const recordings = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.jsonl'))
  .sort();
const load = (name: string): Recording => parseRecording(readFileSync(join(CORPUS, name), 'utf8'));

describe('contract: recorded sessions of real clients replay byte for byte', () => {
  it('the corpus has the five recorded sessions (test/contract/README.md)', () => {
    expect(recordings).to.deep.equal([
      'os-xenapi-seed004.jsonl',
      'smoke-jsonrpc-negative.jsonl',
      'smoke-xmlrpc-negative.jsonl',
      'xen-api-jsonrpc.jsonl',
      'xen-api-xmlrpc.jsonl',
    ]);
  });
  for (const name of recordings) {
    it(`CONTRACT ${name.replace(/\.jsonl$/, '')}`, async () => {
      const rec = load(name);
      // Every recording ends with the state the session left (the daemon's --record dump at shutdown).
      expect(Object.keys(rec.dump ?? {}), `final dump of ${name}`).to.deep.equal([...DUMP_CLASSES]);
      expect(Object.keys(rec.dump!.PIF)).to.have.length.greaterThan(5);
      const res = await replay(rec);
      expect(res.differences.join('\n'), `differences in ${name}`).to.equal('');
      expect(res.ok).to.equal(true);
      expect(res.exchanges).to.be.greaterThan(10);
    });
  }
});

describe('contract: the normaliser', () => {
  const ref = (c: string) => `OpaqueRef:${c.repeat(8)}-${c.repeat(4)}-${c.repeat(4)}-${c.repeat(4)}-${c.repeat(12)}`;
  const uuid = (c: string) => ref(c).slice('OpaqueRef:'.length);

  it('a different ref, uuid, token or datetime is not a difference; ids map one to one in order of first appearance', () => {
    const m = new IdMap();
    const rec = `<value>${ref('a')}</value><value>${uuid('b')}</value><t>${'7'.padStart(20, '0')},${'0'.repeat(20)}</t><d>20240101T00:00:00Z</d>`;
    const got = `<value>${ref('c')}</value><value>${uuid('d')}</value><t>${'9'.padStart(20, '0')},${'0'.repeat(20)}</t><d>20990505T12:34:56Z</d>`;
    expect(m.compare(rec, got)).to.equal(null);
    expect([...m.fwd]).to.deep.equal([
      [ref('a'), ref('c')],
      [uuid('b'), uuid('d')],
      [`${'7'.padStart(20, '0')},${'0'.repeat(20)}`, `${'9'.padStart(20, '0')},${'0'.repeat(20)}`],
    ]);
    // Later requests carry the replay's ids.
    expect(m.translate(`["${ref('a')}", "${uuid('b')}", "${ref('e')}"]`)).to.equal(`["${ref('c')}", "${uuid('d')}", "${ref('e')}"]`);
    // The same recorded id must come back as the same replay id...
    expect(m.compare(`x ${ref('a')}`, `x ${ref('f')}`)).to.match(/^ref OpaqueRef:a{8}.* came back as OpaqueRef:f{8}/);
    // ...and two recorded ids cannot become one.
    expect(m.compare(`x ${ref('e')}`, `x ${ref('c')}`)).to.match(/the replay id of recorded OpaqueRef:a{8}/);
    // A failed comparison learns nothing.
    expect(m.compare(`${ref('5')} y`, `${ref('6')} z`)).to.match(/text differs/);
    expect(m.fwd.has(ref('5'))).to.equal(false);
  });

  it('a changed field value, an extra field or a different kind of id IS a difference', () => {
    const m = new IdMap();
    expect(m.compare('<name>MTU</name><value>1500</value>', '<name>MTU</name><value>1501</value>')).to.match(/text differs at byte 26 /);
    expect(m.compare('{"a":"x"}', '{"a":"x","b":"y"}')).to.match(/text differs/);
    expect(m.compare(`"${uuid('a')}"`, `"${ref('a')}"`)).to.match(/text differs|came back/);
    expect(m.compare('<dateTime.iso8601>20240101T00:00:00Z</dateTime.iso8601>', `<dateTime.iso8601>${uuid('1')}</dateTime.iso8601>`)).to.match(/came back/);
  });

  it('a recording whose ids are all renamed still replays: uuids and refs are not differences', async function () {
    this.timeout(20_000);
    const rec = load('os-xenapi-seed004.jsonl');
    const fresh = new Map<string, string>();
    const rename = (s: string) =>
      s.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (u) => {
        if (!fresh.has(u)) fresh.set(u, `${(fresh.size + 0x10000000).toString(16)}-1111-4222-8333-${'4'.repeat(12)}`);
        return fresh.get(u)!;
      });
    const renamed: Recording = {
      header: rec.header,
      exchanges: rec.exchanges.map((e) => ({ ...e, request: rename(e.request), response: rename(e.response) })),
    };
    expect(fresh.size).to.be.greaterThan(20);
    const res = await replay(renamed);
    expect(res.difference ?? '').to.equal('');
  });

  it('a recorded reply with one changed value fails the replay, naming the exchange and showing both bodies', async function () {
    this.timeout(20_000);
    const rec = load('os-xenapi-seed004.jsonl');
    const i = rec.exchanges.findIndex((e) => e.request.includes('<methodName>Bond.get_record</methodName>'));
    expect(i).to.be.greaterThan(0);
    const ex = rec.exchanges[i];
    expect(ex.response).to.include('<name>mode</name><value>active-backup</value>');
    const changed: Recording = {
      ...rec,
      exchanges: rec.exchanges.map((e, j) => (j === i ? { ...e, response: e.response.replace('active-backup', 'balance-slb') } : e)),
    };
    const res = await replay(changed);
    expect(res.ok).to.equal(false);
    expect(res.difference).to.include(`exchange ${i + 1} of ${rec.exchanges.length}`);
    expect(res.difference).to.include('Bond.get_record POST /');
    expect(res.difference).to.include('>>> "balance-slb');
    expect(res.difference).to.include('>>> "active-backup');
  });

  it('a changed HTTP status or Content-Type is a difference', async function () {
    this.timeout(20_000);
    const rec = load('smoke-jsonrpc-negative.jsonl');
    const withStatus: Recording = { ...rec, exchanges: rec.exchanges.map((e, j) => (j === 2 ? { ...e, status: 500 } : e)) };
    expect((await replay(withStatus)).difference).to.match(/^exchange 3 of \d+ .*: HTTP status 200, recorded 500$/);
    const withType: Recording = { ...rec, exchanges: rec.exchanges.map((e, j) => (j === 1 ? { ...e, contentType: 'text/xml' } : e)) };
    expect((await replay(withType)).difference).to.match(/^exchange 2 of \d+ .*: Content-Type application\/json, recorded text\/xml$/);
  });
});

describe('contract: the final state, every difference, --url', () => {
  const seed004 = () => load('os-xenapi-seed004.jsonl');

  afterEach(() => disarmFailpoints());

  it('a Bond.destroy that plugs only the primary slave fails the replay of seed 004, and only through the final state', async function () {
    this.timeout(30_000);
    armFailpoint('bond.destroy.plug-primary-only', 'on');
    const res = await replay(seed004());
    expect(res.ok).to.equal(false);
    // eth0 (management, the primary slave) is plugged either way; eth3 was plugged by the real Bond.destroy.
    expect(res.differences).to.have.length(1);
    expect(res.differences[0]).to.match(/^final state: PIF eth3 OpaqueRef:[0-9a-f-]{36}: currently_attached is false in the replay, recorded true$/);
    // The recorded ref named is the recording's own, not the replay's.
    const eth3 = /OpaqueRef:[0-9a-f-]{36}/.exec(res.differences[0])![0];
    expect(seed004().dump!.PIF[eth3]).to.deep.include({ device: 'eth3', currently_attached: true });
    // Without the final dump, no reply of the session shows it: this is what the dump adds.
    const { dump: _dump, ...withoutDump } = seed004();
    expect((await replay(withoutDump)).differences).to.deep.equal([]);
    disarmFailpoints();
    expect((await replay(seed004())).differences).to.deep.equal([]);
  });

  it('every difference is reported, not only the first, with the replay ids written as the recording names them', async function () {
    this.timeout(30_000);
    const rec = seed004();
    const at = (m: string) => rec.exchanges.findIndex((e) => e.request.includes(`<methodName>${m}</methodName>`));
    const i = at('Bond.get_record');
    const j = rec.exchanges.findIndex(
      (e, k) => k > i && e.request.includes('<methodName>PIF.get_record</methodName>') && e.response.includes('<value>Success</value>'),
    );
    expect(i).to.be.greaterThan(0);
    expect(j).to.be.greaterThan(i);
    const pif = Object.entries(rec.dump!.PIF).find(([, r]) => r.device === 'eth1')!;
    const changed: Recording = {
      ...rec,
      exchanges: rec.exchanges.map((e, k) =>
        k === i
          ? { ...e, response: e.response.replace('active-backup', 'balance-slb') }
          : k === j
            ? { ...e, response: e.response.replace('<name>MTU</name><value>1500</value>', '<name>MTU</name><value>9000</value>') }
            : e,
      ),
      dump: { ...rec.dump!, PIF: { ...rec.dump!.PIF, [pif[0]]: { ...pif[1], MTU: 1234 } } },
    };
    const res = await replay(changed);
    expect(res.differences).to.have.length(3);
    expect(res.differences[0]).to.match(new RegExp(`^exchange ${i + 1} of .*Bond.get_record POST /: reply differs`));
    expect(res.differences[1]).to.match(new RegExp(`^exchange ${j + 1} of .*PIF.get_record POST /: reply differs`));
    expect(res.differences[2]).to.equal(`final state: PIF eth1 ${pif[0]}: MTU is 1500 in the replay, recorded 1234`);
    expect(res.difference).to.equal(res.differences[0]);
    // Replay ids in the replayed context are shown as the recorded ids: every ref quoted is the recording's.
    const recorded = new Set(rec.exchanges.flatMap((e) => [...`${e.request}${e.response}`.matchAll(/OpaqueRef:[0-9a-f-]{36}/g)].map((m) => m[0])));
    const quoted = [...res.differences.join('\n').matchAll(/OpaqueRef:[0-9a-f-]{36}/g)].map((m) => m[0]);
    expect(quoted.length).to.be.greaterThan(0);
    for (const q of quoted) expect(recorded.has(q) || q in rec.dump!.PIF, q).to.equal(true);
  });

  it('the final state: a missing object, an extra object and a changed field, each on its own line', () => {
    const ref = (n: number) => `OpaqueRef:${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;
    const uuid = (n: number) => `${String(n).padStart(8, '0')}-1111-4000-8000-000000000000`;
    const dump = (pifs: [number, string, boolean][], other: string) => ({
      pool: { [ref(90 + (other === 'r' ? 0 : 5))]: { uuid: uuid(90 + (other === 'r' ? 0 : 5)), master: ref(other === 'r' ? 91 : 96) } },
      host: { [ref(other === 'r' ? 91 : 96)]: { uuid: uuid(other === 'r' ? 91 : 96), hostname: 'h', PIFs: pifs.map(([n]) => ref(n)) } },
      network: {},
      PIF: Object.fromEntries(
        pifs.map(([n, dev, up]) => [ref(n), { uuid: uuid(n), device: dev, VLAN: -1, currently_attached: up, host: ref(other === 'r' ? 91 : 96) }]),
      ),
      PIF_metrics: {},
      Bond: {},
      VLAN: {},
      tunnel: {},
      VIF: {},
    });
    const recorded = dump(
      [
        [1, 'eth0', true],
        [2, 'eth1', true],
        [3, 'eth2', false],
      ],
      'r',
    );
    const replayed = dump(
      [
        [11, 'eth0', true],
        [12, 'eth1', false],
        [14, 'eth9', false],
      ],
      'a',
    );
    const out = compareDumps(recorded, replayed, new IdMap());
    expect(out).to.deep.equal([
      `final state: host h ${ref(91)}: PIFs is ["${ref(1)}","${ref(2)}","${ref(14)}"] in the replay, recorded ["${ref(1)}","${ref(2)}","${ref(3)}"]`,
      `final state: PIF eth1 ${ref(2)}: currently_attached is false in the replay, recorded true`,
      `final state: PIF eth2 ${ref(3)} is not in the replay`,
      `final state: the replay has an extra PIF eth9 ${ref(14)} (replay ref)`,
    ]);
  });

  it('replay --url: against a running daemon, exit 0 when it matches; run again on the changed daemon, every difference listed', async function () {
    this.timeout(60_000);
    const file = join(CORPUS, 'os-xenapi-seed004.jsonl');
    const d = await startReplayDaemon(seed004().header);
    const script = join(ROOT, 'dist/scripts/replay.js');
    try {
      const ok = await promisify(execFile)(process.execPath, [script, file, '--url', d.url], { timeout: 30_000 });
      expect(ok.stdout).to.match(/21 exchanges replayed against http:\/\/127\.0\.0\.1:\d+, every reply and the final state match/);
      // The same session again: the daemon is no longer fresh (a second MGT network, the VLAN 42 left on eth0...).
      const again = await promisify(execFile)(process.execPath, [script, file, '--url', d.url], { timeout: 30_000 }).then(
        () => {
          throw new Error('the second replay should fail');
        },
        (e: { code: number; stderr: string }) => e,
      );
      expect(again.code).to.equal(1);
      const lines = again.stderr.split('\n').filter((l) => l.startsWith('- '));
      expect(again.stderr).to.match(
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${lines.length} difference\\(s\\) replaying against http://127`),
      );
      expect(lines.length).to.be.greaterThan(2);
      expect(lines.some((l) => l.startsWith('- exchange '))).to.equal(true);
      expect(lines.some((l) => l.startsWith('- final state: '))).to.equal(true);
    } finally {
      await d.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** One row of the xapi DB dump: attributes as stored (DB names, S-expression values). */
type DbRow = Record<string, string>;

function readState2(): Map<string, DbRow[]> {
  const xml = readFileSync(STATE2, 'utf8');
  const unescape = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const tables = new Map<string, DbRow[]>();
  for (const t of xml.matchAll(/<table name="([^"]+)"(?:\/>|>([\s\S]*?)<\/table>)/g)) {
    const rows: DbRow[] = [];
    for (const r of (t[2] ?? '').matchAll(/<row ([^>]*)\/>/g)) {
      const row: DbRow = {};
      for (const a of r[1].matchAll(/([A-Za-z_][\w-]*)="([^"]*)"/g)) row[a[1]] = unescape(a[2]);
      rows.push(row);
    }
    tables.set(t[1], rows);
  }
  return tables;
}

/** The kind of a value in xapi's DB string form. */
function kind(v: string): string {
  if (v === 'true' || v === 'false') return 'bool';
  if (/^-?\d+$/.test(v)) return 'int';
  if (/^-?\d+\.\d*(e[-+]?\d+)?$/.test(v)) return 'float';
  if (/^\d{8}T\d\d:\d\d:\d\dZ$/.test(v)) return 'datetime';
  if (v.startsWith('OpaqueRef:')) return 'ref';
  if (v === '()') return 'empty set or map';
  if (v.startsWith("(('")) return 'map';
  if (v.startsWith("('")) return 'set';
  return 'string';
}
const sameKind = (a: string, b: string) =>
  a === b || (a === 'empty set or map' && (b === 'set' || b === 'map')) || (b === 'empty set or map' && (a === 'set' || a === 'map'));

/**
 * Fields of the dump that no XenAPI record carries: none was removed from xapi since 6.0; these
 * are `~internal_only:true` in xapi's datamodel today (xapi-project/xen-api ocaml/idl/), stored in
 * its database but never marshalled, so a XenAPI-compatible record must not have them.
 */
const INTERNAL_ONLY: Record<string, Record<string, string>> = {
  pool: { wlb_password: 'internal_only (a Ref _secret), datamodel_pool.ml' },
  host: { boot_free_mem: 'internal_only, datamodel_host.ml' },
  PIF: { device_name: 'internal_only ("actual dom0 device name"), datamodel.ml' },
};
/** The tables the contract covers. */
const TABLES = ['pool', 'host', 'network', 'PIF', 'PIF_metrics', 'Bond', 'VLAN'];

describe('contract: xapi 6.0 database dump (xenadmin state2.xml, test/contract/fixtures)', () => {
  let tables: Map<string, DbRow[]>;
  let h: Harness;
  let grimsby: DbRow;
  let pifs: DbRow[];
  before(async () => {
    tables = readState2();
    grimsby = tables.get('host')!.find((r) => r.name__label === 'grimsby')!;
    pifs = tables
      .get('PIF')!
      .filter((p) => p.host === grimsby._ref)
      .sort((a, b) => a.device.localeCompare(b.device));
    // An equivalent inventory: grimsby's NICs, management on its management PIF with its static IP.
    const inventory: InventoryNic[] = pifs.map((p) => ({
      device: p.device,
      MAC: p.MAC,
      MTU: Number(p.MTU),
      carrier: true,
      ...(p.management === 'true'
        ? { management: true, ip: { mode: p.ip_configuration_mode as 'Static', address: p.IP, netmask: p.netmask, gateway: p.gateway, dns: p.DNS } }
        : {}),
    }));
    h = await startHarness({ inventory, config: { hostname: grimsby.hostname } });
  });
  after(async () => {
    await h?.close();
  });

  it('has the tables and rows its README describes', () => {
    expect(TABLES.map((t) => [t, tables.get(t)?.length])).to.deep.equal([
      ['pool', 1],
      ['host', 2],
      ['network', 6],
      ['PIF', 10],
      ['PIF_metrics', 0],
      ['Bond', 0],
      ['VLAN', 0],
    ]);
  });

  it('every field of every recorded row exists in our record of its class, with a value of the same kind', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const cls of TABLES) {
      const ours = h.find(cls, () => true);
      const def = classDef(cls)!;
      const fields = new Set(visibleFields(def).map((f) => f.name));
      for (const row of tables.get(cls)!) {
        for (const [dbName, value] of Object.entries(row)) {
          if (dbName === 'ref' || dbName === '_ref') continue; // the row's own reference
          const name = dbName.replace(/__/g, '_');
          if (INTERNAL_ONLY[cls]?.[name]) {
            if (fields.has(name)) problems.push(`${cls}.${name} is internal_only in xapi but in our record`);
            continue;
          }
          checked++;
          if (!fields.has(name)) {
            problems.push(`${cls}.${name} (DB ${dbName}) is not a field of our ${cls}`);
            continue;
          }
          // Our value, as xapi's DB would store it; compared with any of our objects of the class.
          const kinds = new Set(ours.map((ref) => kind(dbString(recordOf(h.r.store, cls, ref)[name]))));
          if (![...kinds].some((k) => sameKind(k, kind(value))))
            problems.push(`${cls}.${name}: recorded ${kind(value)} ${JSON.stringify(value.slice(0, 60))}, ours ${[...kinds].join('/')}`);
        }
      }
    }
    expect(problems).to.deep.equal([]);
    expect(checked).to.equal(336); // 1 pool + 2 hosts + 6 networks + 10 PIFs, less the internal-only fields
  });

  it('the pool-wide networks, bridges and management PIF are named as our first start names them', () => {
    const byRef = new Map(tables.get('network')!.map((n) => [n._ref, n]));
    const fmt = (n: { name_label: string; bridge: string }, p: Record<string, string>) =>
      `${p.device}: "${n.name_label}" ${n.bridge} management=${p.management} ${p.ip_configuration_mode} ${p.IP}/${p.netmask} gw ${p.gateway} dns ${p.DNS} physical=${p.physical} VLAN=${p.VLAN}`;
    const recorded = pifs.map((p) => {
      const n = byRef.get(p.network)!;
      return fmt({ name_label: n.name__label, bridge: n.bridge }, p);
    });
    const ours = pifs.map((p) => {
      const ref = h.pif(p.device);
      const rec = recordOf(h.r.store, 'PIF', ref);
      const n = recordOf(h.r.store, 'network', String(rec.network));
      const s = (k: string) => dbString(rec[k]);
      return fmt(
        { name_label: String(n.name_label), bridge: String(n.bridge) },
        {
          device: s('device'),
          management: s('management'),
          ip_configuration_mode: s('ip_configuration_mode'),
          IP: s('IP'),
          netmask: s('netmask'),
          gateway: s('gateway'),
          DNS: s('DNS'),
          physical: s('physical'),
          VLAN: s('VLAN'),
        },
      );
    });
    expect(ours).to.deep.equal(recorded);
    expect(recorded[0]).to.equal(
      'eth0: "Pool-wide network associated with eth0" xenbr0 management=true Static 10.80.226.1/255.255.240.0 gw 10.80.224.1 dns 10.80.237.76 physical=true VLAN=-1',
    );
    // The host itself: named after its host name, its address the management IP.
    const host = recordOf(h.r.store, 'host', h.r.d.hostRef);
    expect([host.name_label, host.hostname, host.address]).to.deep.equal([grimsby.name__label, grimsby.hostname, grimsby.address]);
    // What xapi's installer adds and we do not: the guest installer network (xapi0, no PIF).
    const extra = tables
      .get('network')!
      .filter((n) => !pifs.some((p) => p.network === n._ref))
      .map((n) => `${n.name__label} ${n.bridge}`);
    expect(extra).to.deep.equal(['Guest installer network xapi0']);
  });
});
