// --record FILE: the header line, one JSON line per POST exchange (request and reply bodies,
// status, Content-Types, arrival number), streamed bulk replies recorded whole.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseArgs } from '../../src/config.js';
import { parseRecording, replay } from '../../scripts/replay.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { post } from '../api/rawhttp.js';

describe('contract: --record FILE', () => {
  let h: Harness;
  let dir: string;
  let file: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xnd-record-'));
    file = join(dir, 's.jsonl');
    h = await startHarness({ config: { record: file } });
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a daemon flag', () => {
    expect(parseArgs(['--record', '/tmp/x.jsonl']).record).to.equal('/tmp/x.jsonl');
  });

  it('writes a header, then each exchange with its bodies; a streamed bulk reply is recorded whole', async function () {
    this.timeout(30_000);
    // Enough networks for network.get_all_records to pass the 1 MiB streaming threshold.
    await h.r.store.write((tx) => {
      for (let i = 0; i < 3000; i++) tx.create('network', { name_label: `bulk ${i}`, name_description: 'x'.repeat(100), bridge: `bulk${i}` });
    });
    const body = `<?xml version="1.0"?><methodCall><methodName>network.get_all_records</methodName><params><param><value>${h.session}</value></param></params></methodCall>`;
    const got = await post(h.r.port, '/', body, { 'Content-Type': 'text/xml' });
    expect(got.headers['transfer-encoding']).to.equal('chunked');
    const json = JSON.stringify({ jsonrpc: '2.0', method: 'network.get_by_name_label', params: [h.session, 'bulk 7'], id: 3 });
    const small = await post(h.r.port, '/jsonrpc', json, { 'Content-Type': 'application/json' });
    await new Promise((r) => setTimeout(r, 50));

    const rec = parseRecording(readFileSync(file, 'utf8'));
    expect(rec.header).to.deep.include({ recording: 1, hostname: 'testhost' });
    expect(rec.header.inventory.map((n) => n.device)).to.deep.equal(['eth0', 'eth1', 'eth2', 'eth3', 'eth4', 'eth5']);
    expect(Object.keys(rec.header.hostMetrics!)).to.deep.equal(['memory_total', 'memory_free']);
    // The harness's own login, then the two calls above.
    expect(rec.exchanges.map((e) => [e.seq, e.path, e.requestContentType, e.status, e.contentType])).to.deep.equal([
      [1, '/', 'text/xml', 200, 'text/xml'],
      [2, '/', 'text/xml', 200, 'text/xml'],
      [3, '/jsonrpc', 'application/json', 200, 'application/json'],
    ]);
    expect(rec.exchanges[1].request).to.equal(body);
    expect(rec.exchanges[1].response.length).to.be.greaterThan(1024 * 1024);
    expect(rec.exchanges[1].response).to.equal(got.body);
    expect(rec.exchanges[2].request).to.equal(json);
    expect(rec.exchanges[2].response).to.equal(small.body);
    // The bulk networks were written behind the wire's back: the replay sees six networks, not 3006.
    const res = await replay(rec);
    expect(res.ok).to.equal(false);
    expect(res.difference).to.match(/^exchange 2 of 3 \(seq 2, in arrival order\): network.get_all_records POST \/: reply differs/);
  });

  it('at shutdown, a last line with every networking record the session left', async () => {
    const net = await h.call<string>('network.create', { name_label: 'left-behind', name_description: '', other_config: {} });
    const before = parseRecording(readFileSync(file, 'utf8'));
    expect(before.dump).to.equal(undefined);
    const want = JSON.parse(JSON.stringify(h.r.store.get('network', net)));
    await h.close();
    h = undefined as unknown as Harness;
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(Object.keys(JSON.parse(lines[lines.length - 1]))).to.deep.equal(['dump']);
    const rec = parseRecording(readFileSync(file, 'utf8'));
    expect(Object.keys(rec.dump!)).to.deep.equal(['pool', 'host', 'network', 'PIF', 'PIF_metrics', 'Bond', 'VLAN', 'tunnel', 'VIF']);
    expect(rec.dump!.network[net]).to.deep.include({ uuid: want.uuid, name_label: 'left-behind', PIFs: [], VIFs: [] });
    expect(Object.keys(rec.dump!.network)).to.have.length(3007);
    expect(
      Object.values(rec.dump!.PIF)
        .map((p) => p.device)
        .sort(),
    ).to.deep.equal(['eth0', 'eth1', 'eth2', 'eth3', 'eth4', 'eth5']);
    expect(rec.exchanges).to.have.length(4);
  });
});
