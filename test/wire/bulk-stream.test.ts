// Streamed bulk replies (src/wire/http.ts sendParts) when the client goes away mid-reply.
import { expect } from 'chai';
import http from 'node:http';
import { LazyMap, T } from '../../schema/index.js';
import { startWire } from '../../src/wire/http.js';

describe('wire/bulk-stream: a client gone mid-reply', () => {
  it('BULK-ABORT-01: a reply waiting for the socket to drain stops when the client closes, and lets go of its records', async () => {
    let produced = 0;
    let closed = false;
    // ~12 MB of members: far more than the socket buffers hold, so the reply waits for 'drain'.
    const entries = function* (): Generator<[string, unknown]> {
      try {
        for (let i = 0; i < 24_000; i++) {
          produced++;
          yield [`OpaqueRef:${i}`, 'x'.repeat(500)];
        }
      } finally {
        closed = true;
      }
    };
    const wire = await startWire({
      host: '127.0.0.1',
      port: 0,
      maxBody: 4096,
      handler: { call: () => ({ ok: true, value: new LazyMap(24_000, entries()), ty: T.map(T.ref('PIF'), T.string) }) },
    });
    try {
      const body = '<?xml version="1.0"?><methodCall><methodName>PIF.get_all_records</methodName><params></params></methodCall>';
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: wire.port, method: 'POST', path: '/', agent: false }, (res) => {
          res.pause(); // read nothing: the server's buffer fills
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 500);
        });
        req.on('error', (e) => (e.message.includes('socket hang up') || (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
        req.end(body);
      });
      const t0 = Date.now();
      while (!closed && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
      expect(produced, 'the reply stopped before its end').to.be.below(24_000);
      expect(closed, "the records' generator was closed once the client had gone").to.equal(true);
    } finally {
      await wire.close();
    }
  });
});
