// Security of the HTTP server and files (issue 8 §4): slowloris bounded (headers and bodies
// within --request-timeout, idle keep-alive closed, --max-connections), long polls unaffected;
// CORS only for allowed origins, blind cross-origin requests refused; database, WAL and --record
// files 0600, --record without passwords or pool secrets yet replayable; the embedded login only
// for the simulated backend.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { DEFAULTS, DEMO_INVENTORY, parseArgs, refuseToStart, type Config } from '../../src/config.js';
import { makeLogger, startDaemon } from '../../src/daemon.js';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { xapiCall } from '../../src/pool/rpc.js';
import { replay } from '../../scripts/replay.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { post, request, xmlCall } from '../api/rawhttp.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/** A raw socket; resolves when connected. Records when the server closed it. */
function connect(port: number): Promise<net.Socket & { closedAt?: number; data: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1') as net.Socket & { closedAt?: number; data: string };
    s.data = '';
    s.on('data', (b) => (s.data += b.toString()));
    s.on('close', () => (s.closedAt = Date.now()));
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('security: HTTP limits (§4)', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { requestTimeoutMs: 1000, keepAliveTimeoutMs: 500, maxConnections: 40 } });
  });
  after(async () => {
    await h.close();
  });

  it('sockets trickling headers or a body are closed once --request-timeout passes; a socket that sends nothing too', async () => {
    const socks = await Promise.all(Array.from({ length: 20 }, () => connect(h.r.port)));
    const silent = await connect(h.r.port);
    const t0 = Date.now();
    const trickle = setInterval(() => {
      socks.forEach((s, i) => {
        if (s.closedAt || s.destroyed) return;
        // Half trickle header bytes, half complete the headers and trickle the body.
        if (i % 2 === 0) s.write('X');
        else if (!(s as any).started) {
          (s as any).started = true;
          s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<');
        } else s.write('a');
      });
    }, 150);
    socks.forEach((s, i) => i % 2 === 0 && s.write('POST / HTTP/1.1\r\nHost: x\r\n'));
    try {
      for (let i = 0; i < 50 && (socks.some((s) => !s.closedAt) || !silent.closedAt); i++) await sleep(100);
    } finally {
      clearInterval(trickle);
    }
    expect(socks.filter((s) => !s.closedAt)).to.have.length(0);
    expect(silent.closedAt).to.be.a('number');
    expect(Math.max(...socks.map((s) => s.closedAt!)) - t0).to.be.below(4000);
    // The daemon still answers.
    expect(await h.call('pool.get_all')).to.deep.equal([h.r.d.poolRef]);
  });

  it('an idle keep-alive connection is closed after --keep-alive-timeout', async () => {
    const s = await connect(h.r.port);
    const body = xmlCall('pool.get_all', `<value>${h.session}</value>`);
    s.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    for (let i = 0; i < 20 && !s.data.includes('</methodResponse>'); i++) await sleep(50);
    expect(s.data).to.contain('Success');
    const answered = Date.now();
    for (let i = 0; i < 40 && !s.closedAt; i++) await sleep(100);
    expect(s.closedAt, 'closed').to.be.a('number');
    expect(s.closedAt! - answered).to.be.below(2500);
  });

  it('past --max-connections new connections are closed at once; the daemon serves again when they go', async () => {
    const socks = await Promise.all(Array.from({ length: 40 }, () => connect(h.r.port)));
    await sleep(100);
    const extra = await connect(h.r.port);
    for (let i = 0; i < 20 && !extra.closedAt; i++) await sleep(25);
    expect(extra.closedAt, 'the 41st connection is dropped').to.be.a('number');
    socks.forEach((s) => s.destroy());
    await sleep(100);
    expect(await h.call('pool.get_all')).to.deep.equal([h.r.d.poolRef]);
  });

  it('event.from long polls still wait their whole timeout (longer than --request-timeout)', async () => {
    const { token } = await h.call<{ token: string }>('event.from', ['network'], '', 0);
    const t0 = Date.now();
    const r = await h.call<{ events: unknown[] }>('event.from', ['network'], token, 2.5);
    expect(Date.now() - t0).to.be.at.least(2400);
    expect(r.events).to.deep.equal([]);
    const wait = h.call<{ events: unknown[] }>('event.from', ['network'], token, 3);
    await sleep(1800);
    await h.call('network.create', { name_label: 'late', name_description: '', MTU: 1500, other_config: {} });
    expect((await wait).events).to.have.length(1);
  });

  it('the flags parse', () => {
    const c = parseArgs([
      '--request-timeout',
      '30000',
      '--keep-alive-timeout',
      '5000',
      '--max-connections',
      '200',
      '--cors-origin',
      'https://XO.example.com:8443',
      '--cors-origin',
      'http://localhost:3000',
    ]);
    expect([c.requestTimeoutMs, c.keepAliveTimeoutMs, c.maxConnections]).to.deep.equal([30000, 5000, 200]);
    expect(c.corsOrigins).to.deep.equal(['https://xo.example.com:8443', 'http://localhost:3000']);
    expect(() => parseArgs(['--cors-origin', 'https://x.example/path'])).to.throw(/scheme:\/\/host/);
    expect(() => parseArgs(['--cors-origin', '*'])).to.throw(/scheme:\/\/host/);
  });
});

describe('security: CORS (§4)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { corsOrigins: ['https://xo.example.com'] } });
  });
  after(async () => {
    await h.close();
  });
  const login = xmlCall('session.login_with_password', '<value>root</value>', '<value>secret</value>');

  it('no Origin (a client that is not a browser): served, no CORS headers', async () => {
    const r = await post(h.r.port, '/', login);
    expect(r.status).to.equal(200);
    expect(r.body).to.contain('Success');
    expect(r.headers).to.not.have.property('access-control-allow-origin');
  });

  it('a page of another origin posting blind (text/plain, form, JSON-RPC; or Origin: null) is refused with 403 before any login; no session is made', async () => {
    const before = h.r.store.count('session');
    for (const [origin, ct, path] of [
      ['https://evil.example', 'text/plain', '/'],
      ['https://evil.example', 'application/x-www-form-urlencoded', '/'],
      ['null', 'text/plain', '/jsonrpc'],
      ['https://xo.example.com.evil.example', 'text/xml', '/'],
    ]) {
      const r = await post(h.r.port, path, login, { Origin: origin, 'Content-Type': ct });
      expect(r.status, origin).to.equal(403);
      expect(r.headers).to.not.have.property('access-control-allow-origin');
      expect(r.body).to.not.contain('OpaqueRef');
    }
    expect((await request(h.r.port, 'OPTIONS', '/', '', { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' })).status).to.equal(403);
    expect(h.r.store.count('session')).to.equal(before);
  });

  it('an allowed origin gets its own origin back (never *), on pre-flight and replies', async () => {
    const pre = await request(h.r.port, 'OPTIONS', '/', '', { Origin: 'https://xo.example.com', 'Access-Control-Request-Method': 'POST' });
    expect(pre.status).to.equal(200);
    expect(pre.headers['access-control-allow-origin']).to.equal('https://xo.example.com');
    const r = await post(h.r.port, '/', login, { Origin: 'https://xo.example.com' });
    expect(r.status).to.equal(200);
    expect(r.headers['access-control-allow-origin']).to.equal('https://xo.example.com');
    expect(r.headers.vary).to.equal('Origin');
  });
});

describe('security: files and --record (§4)', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xnd-sec-files-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cfgFor = (o: Partial<Config>): Config => ({
    ...DEFAULTS,
    port: 0,
    authFailDelayMs: 10,
    hostname: 'filehost',
    logLevel: 'error',
    inventory: DEMO_INVENTORY,
    ...o,
  });
  const sim = () => new SimulatedBackend({ nics: DEMO_INVENTORY.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: true })) });

  it('the database, its WAL and the --record file are created 0600 (whatever the umask); an existing 0644 database is tightened', async () => {
    const old = process.umask(0o022);
    try {
      const db = join(dir, 'a.db');
      const rec = join(dir, 'a.jsonl');
      const r = await startDaemon(cfgFor({ db, record: rec }), { backend: sim(), log: makeLogger({ logLevel: 'error', logFile: '' }) });
      await xapiCall(r.url, 'session.login_with_password', ['root', 'secret']);
      for (const f of [db, `${db}-wal`, `${db}-shm`, rec]) {
        expect(existsSync(f), f).to.equal(true);
        expect(statSync(f).mode & 0o777, f).to.equal(0o600);
      }
      await r.close();
      chmodSync(db, 0o644);
      if (existsSync(`${db}-wal`)) chmodSync(`${db}-wal`, 0o644);
      const r2 = await startDaemon(cfgFor({ db }), { backend: sim(), log: makeLogger({ logLevel: 'error', logFile: '' }) });
      expect(statSync(db).mode & 0o777).to.equal(0o600);
      for (const f of [`${db}-wal`, `${db}-shm`]) if (existsSync(f)) expect(statSync(f).mode & 0o777, f).to.equal(0o600);
      await r2.close();
    } finally {
      process.umask(old);
    }
  });

  it('--record keeps no password or pool secret (XML-RPC and JSON-RPC, good and bad logins) and still replays', async () => {
    const rec = join(dir, 'b.jsonl');
    const r = await startDaemon(cfgFor({ db: ':memory:', record: rec }), { backend: sim(), log: makeLogger({ logLevel: 'error', logFile: '' }) });
    const s = await xapiCall<string>(r.url, 'session.login_with_password', ['root', 'secret', '1.0', 'rec']);
    await xapiCall(r.url, 'session.login_with_password', ['root', 'Wrong&<pw>']).catch(() => undefined);
    await post(r.port, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', 'secret'], id: 7 }));
    await post(r.port, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', 'nope'], id: 8 }));
    const secret = await xapiCall<string>(r.url, 'pool.initial_auth', [s]);
    await xapiCall(r.url, 'session.slave_login', ['OpaqueRef:NULL', secret]);
    await xapiCall(r.url, 'pool.get_all', [s]);
    await r.close();
    const text = readFileSync(rec, 'utf8');
    expect(text).to.not.contain('secret<');
    expect(text).to.not.contain('"secret"');
    expect(text).to.not.contain('Wrong');
    expect(text).to.not.contain('nope');
    expect(text).to.not.contain(secret);
    expect(text).to.contain('(redacted)');
    expect(text).to.contain('(redacted: wrong)');
    // The recording still replays byte for byte (minus the pool calls, whose secret differs in a fresh daemon).
    const lines = text.split('\n').filter((l) => l && !/initial_auth|slave_login/.test(l));
    writeFileSync(rec, `${lines.join('\n')}\n`);
    const res = await replay(rec);
    expect(res.difference).to.equal(undefined);
  });
});

describe('security: the embedded login is for the simulated backend only (§4)', () => {
  it('a real backend without --users refuses to start and says how to make the users file', () => {
    expect(refuseToStart({ ...DEFAULTS })).to.equal(undefined);
    for (const backend of ['openvswitch', 'ifcfg']) expect(refuseToStart({ ...DEFAULTS, backend })).to.match(/hash-password/);
    expect(refuseToStart({ ...DEFAULTS, backend: 'openvswitch', users: [{ name: 'root', hash: DEFAULTS.users[0].hash }] })).to.equal(undefined);
    const p = spawnSync(process.execPath, [MAIN, '--backend', 'openvswitch', '--db', ':memory:', '--listen', '127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(p.status).to.equal(1);
    expect(p.stderr).to.match(/simulated backend/);
    expect(p.stderr).to.match(/xenapi-netd hash-password/);
    expect(p.stderr).to.match(/--users/);
  });
});
