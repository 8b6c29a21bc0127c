// The benchmarks' client (test/bench/post.ts): a reply cut short or not a Success fails the run instead of hanging it or being timed.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expectSuccess, post } from './post.js';

describe('bench/post: the benchmarks client', () => {
  it('BENCH-POST-01: a reply cut short after its headers rejects (it never settled: the bulk benchmark hung)', async () => {
    const srv = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/xml' }); // chunked, as a streamed bulk reply
        res.write(Buffer.alloc(64 * 1024, 'x'));
        setTimeout(() => res.destroy(), 50);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as AddressInfo).port;
      const out = await Promise.race([
        post(port, '<methodCall/>').then(
          () => 'resolved',
          (e: Error) => `rejected: ${e.message}`,
        ),
        new Promise<string>((r) => setTimeout(() => r('still pending after 3 s'), 3000)),
      ]);
      expect(out).to.match(/^rejected: (aborted|reply cut short)/);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it('BENCH-POST-02: a Failure or an HTTP error is not taken for a reply to time', () => {
    const ok = Buffer.from(
      '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value><struct></struct></value></member></struct></value></param></params></methodResponse>',
    );
    expect(() => expectSuccess('x', { status: 200, body: ok })).not.to.throw();
    const failure = Buffer.from(
      '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>SESSION_INVALID</value></data></array></value></member></struct></value></param></params></methodResponse>',
    );
    expect(() => expectSuccess('x', { status: 200, body: failure })).to.throw(/not a whole Success reply/);
    expect(() => expectSuccess('x', { status: 500, body: ok })).to.throw(/HTTP 500/);
    expect(() => expectSuccess('x', { status: 200, body: ok.subarray(0, ok.length - 5) })).to.throw(/not a whole/);
  });
});
