// HTTPS, as xapi serves on 443: the daemon with --tls-cert/--tls-key (a self-signed certificate
// made for the test with openssl), reached by Xen Orchestra's xen-api client over an https URL
// (allowUnauthorized, as XO does for self-signed hosts) and by plain HTTPS XML-RPC.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'xen-api';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { DEFAULTS, DEMO_INVENTORY } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { selfSignedCert } from '../helpers/tls.js';

function post(port: number, body: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/', method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'text/xml' } },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: b }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('wire over HTTPS (--tls-cert, --tls-key)', () => {
  let dir: string;
  let r: Running;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xnd-tls-'));
    selfSignedCert(dir, 'localhost');
    const backend = new SimulatedBackend({ nics: DEMO_INVENTORY.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: true })) });
    r = await startDaemon(
      { ...DEFAULTS, db: ':memory:', port: 0, authFailDelayMs: 10, logLevel: 'error', tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') },
      { backend, log: makeLogger({ logLevel: 'error', logFile: '' }) },
    );
  });
  after(async () => {
    await r?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('TLS-01 serves XML-RPC over HTTPS with the same replies; the daemon URL says https', async () => {
    expect(r.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const out = await post(
      r.port,
      '<?xml version="1.0"?><methodCall><methodName>session.login_with_password</methodName><params><param><value>root</value></param><param><value>secret</value></param></params></methodCall>',
    );
    expect([out.status, out.type]).to.deep.equal([200, 'text/xml']);
    expect(out.body).to.match(
      /^<\?xml version="1.0"\?><methodResponse><params><param><value><struct><member><name>Status<\/name><value>Success<\/value><\/member><member><name>Value<\/name><value>OpaqueRef:[0-9a-f-]{36}<\/value>/,
    );
  });

  it('TLS-02 xen-api connects over https (JSON-RPC) and fills its cache', async () => {
    const xapi = createClient({ url: r.url, auth: { user: 'root', password: 'secret' }, allowUnauthorized: true, transport: 'json-rpc' });
    try {
      await xapi.connect();
      await xapi.objectsFetched;
      const pifs = Object.values(xapi.objects.all).filter((o) => o.$type === 'PIF');
      expect(pifs.length).to.equal(6);
      expect(await xapi.call('pool.get_all')).to.deep.equal([r.d.poolRef]);
    } finally {
      await xapi.disconnect();
    }
  });

  it('TLS-03 the certificate and key go together', async () => {
    let msg = '';
    try {
      await startDaemon(
        { ...DEFAULTS, db: ':memory:', port: 0, logLevel: 'error', tlsCert: join(dir, 'cert.pem') },
        { log: makeLogger({ logLevel: 'error', logFile: '' }) },
      );
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.equal('--tls-cert and --tls-key go together');
  });

  it('TLS-04 stopping the daemon does not wait for a client stuck before its TLS handshake (a pool peer connecting as the master stops)', async () => {
    const backend = new SimulatedBackend({ nics: DEMO_INVENTORY.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: true })) });
    const d = await startDaemon(
      { ...DEFAULTS, db: ':memory:', port: 0, authFailDelayMs: 10, logLevel: 'error', tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') },
      { backend, log: makeLogger({ logLevel: 'error', logFile: '' }) },
    );
    // A TCP connection that never sends its ClientHello: the TLS layer holds it, HTTP never sees it.
    const sock = net.connect(d.port, '127.0.0.1');
    await once(sock, 'connect');
    const closed = once(sock, 'close');
    await new Promise((res) => setTimeout(res, 50));
    const outcome = await Promise.race([d.close().then(() => 'closed'), new Promise((res) => setTimeout(() => res('still waiting'), 5000))]);
    expect(outcome).to.equal('closed');
    await closed;
  });
});
