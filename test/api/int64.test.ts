// 64-bit ints end to end: XenAPI ints are int64; past 2^53 a JS number would round, so they are
// kept as BigInt from the wire through the store (SQLite INTEGER) and back out, exact, as the
// untyped XML-RPC string and as a bare JSON number.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness } from '../helpers/harness.js';
import { jsonCall, post, xmlCall } from './rawhttp.js';

const MAX = '9223372036854775807';
const MIN = '-9223372036854775808';

describe('api: 64-bit ints', () => {
  it('INT64-01 the largest and smallest int64 round-trip exactly over XML-RPC and JSON-RPC, and survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xnd-int64-'));
    try {
      let h = await startHarness({ config: { db: join(dir, 'x.db') } });
      const net = await h.call<string>('network.create', { name_label: 'big', name_description: '', other_config: {} });
      await h.call('network.set_MTU', net, MAX);
      expect(await h.call('network.get_MTU', net)).to.equal(MAX);
      const j = await post(h.r.port, '/jsonrpc', jsonCall('network.get_MTU', [h.session, net]));
      expect(j.body).to.equal(`{"jsonrpc":"2.0","result":${MAX},"id":0}`);
      const x = await post(h.r.port, '/', xmlCall('network.get_MTU', h.session, net));
      expect(x.body).to.contain(`<name>Value</name><value>${MAX}</value>`);
      // A typed <i8> in a request is exact too.
      const set = await post(
        h.r.port,
        '/',
        `<?xml version="1.0"?><methodCall><methodName>network.set_MTU</methodName><params><param><value>${h.session}</value></param><param><value>${net}</value></param><param><value><i8>${MIN}</i8></value></param></params></methodCall>`,
      );
      expect(set.status).to.equal(200);
      expect(await h.call('network.get_MTU', net)).to.equal(MIN);
      const rec = JSON.parse((await post(h.r.port, '/jsonrpc', jsonCall('network.get_record', [h.session, net]))).body.replace(/"MTU":(-?\d+)/, '"MTU":"$1"'));
      expect(rec.result.MTU).to.equal(MIN);
      await h.close();
      h = await startHarness({ config: { db: join(dir, 'x.db') } });
      expect(await h.call('network.get_MTU', net)).to.equal(MIN);
      await h.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('INT64-02 an int past 64 bits is FIELD_TYPE_ERROR, not a rounded value', async () => {
    const h = await startHarness();
    try {
      const net = await h.call<string>('network.create', { name_label: 'big', name_description: '', other_config: {} });
      expect(await h.fails('network.set_MTU', net, '9223372036854775808')).to.deep.equal(['FIELD_TYPE_ERROR', 'value']);
      expect(await h.call('network.get_MTU', net)).to.equal('1500');
    } finally {
      await h.close();
    }
  });
});
