// Security of logins and sessions (issue 8 §2, §3): a failing login waits outside the write
// lock and failing logins are bounded per address and in total; login cost and session count
// are bounded; no events for sessions, no secrets in records or logs; sessions die with their
// user or password; a session argument of the wrong type is SESSION_INVALID.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { hashPassword } from '../../src/api/session.js';
import { LoginGate } from '../../src/api/context.js';
import { checkUsers, DEFAULT_USERS, DEFAULTS, parseArgs, type Config } from '../../src/config.js';
import { makeLogger, startDaemon } from '../../src/daemon.js';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { DEMO_INVENTORY } from '../../src/config.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { jsonCall, post, xmlCall } from '../api/rawhttp.js';

/** An XML-RPC call from a chosen loopback source address; resolves to the parsed {Status, Value|ErrorDescription} and the time taken. */
function callFrom(port: number, from: string, method: string, params: string[]): Promise<{ ok: boolean; text: string; ms: number }> {
  const body = xmlCall(method, ...params.map((p) => `<value><string>${p}</string></value>`));
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/', localAddress: from, agent: false, headers: { 'Content-Type': 'text/xml' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ ok: text.includes('<value>Success</value>'), text, ms: Date.now() - t0 });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('security: logins wait outside the lock, bounded (§2)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { authFailDelayMs: 1500, loginsPerAddress: 2, loginsInProgress: 3 } });
  });
  after(async () => {
    await h.close();
  });

  it('a failing login delays only its caller: network.create and a good login finish while it waits', async () => {
    const bad = callFrom(h.r.port, '127.0.0.1', 'session.login_with_password', ['root', 'wrong']);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await h.call('network.create', { name_label: 'during-bad-login', name_description: '', MTU: 1500, other_config: {} });
    const good = await callFrom(h.r.port, '127.0.0.2', 'session.login_with_password', ['root', 'secret']);
    expect(good.ok).to.equal(true);
    expect(Date.now() - t0).to.be.below(700);
    const b = await bad;
    expect(b.ok).to.equal(false);
    expect(b.text).to.contain('SESSION_AUTHENTICATION_FAILED');
    expect(b.ms).to.be.at.least(1400);
  });

  it('past loginsPerAddress checks in progress from one address, a login waits in line (even with the right password); other addresses do not', async () => {
    const bad = [1, 2].map(() => callFrom(h.r.port, '127.0.0.3', 'session.login_with_password', ['root', 'wrong']));
    await new Promise((r) => setTimeout(r, 200));
    const queued = callFrom(h.r.port, '127.0.0.3', 'session.login_with_password', ['root', 'secret']);
    const other = await callFrom(h.r.port, '127.0.0.4', 'session.login_with_password', ['root', 'secret']);
    expect(other.ok).to.equal(true);
    expect(other.ms).to.be.below(500);
    const q = await queued;
    expect(q.ok).to.equal(true);
    expect(q.ms).to.be.at.least(1100); // it got a slot when a failing login's delay ended
    await Promise.all(bad);
    expect(h.r.d.loginGate.inUse).to.equal(0);
  });

  it('a full line (4 per slot) is refused at once, the password not looked at', async () => {
    // 2 failing in their delay + 8 waiting = the line for 127.0.0.3 is full.
    const bad = Array.from({ length: 10 }, () => callFrom(h.r.port, '127.0.0.3', 'session.login_with_password', ['root', 'wrong']));
    await new Promise((r) => setTimeout(r, 300));
    const refused = await callFrom(h.r.port, '127.0.0.3', 'session.login_with_password', ['root', 'secret']);
    expect(refused.ok).to.equal(false);
    expect(refused.text).to.contain('Too many logins in progress');
    expect(refused.ms).to.be.below(500);
    const all = await Promise.all(bad);
    expect(all.every((b) => b.text.includes('Authentication failure'))).to.equal(true);
    // Served two at a time: the last waited for four delays before its own.
    expect(Math.max(...all.map((b) => b.ms))).to.be.at.least(5 * 1500 - 300);
    expect(h.r.d.loginGate.inUse).to.equal(0);
  });

  it('past loginsInProgress in total, logins from every address wait for a slot', async () => {
    const bad = ['127.0.0.5', '127.0.0.6', '127.0.0.7'].map((a) => callFrom(h.r.port, a, 'session.login_with_password', ['root', 'wrong']));
    await new Promise((r) => setTimeout(r, 200));
    const waited = await callFrom(h.r.port, '127.0.0.8', 'session.login_with_password', ['root', 'secret']);
    expect(waited.ok).to.equal(true);
    expect(waited.ms).to.be.at.least(1100);
    await Promise.all(bad);
  });

  it('LoginGate: slots per address and in total, a bounded line, handed over in order', async () => {
    const g = new LoginGate(2, 3);
    expect(await g.acquire('a')).to.equal(true);
    expect(await g.acquire('a')).to.equal(true);
    const order: string[] = [];
    const waits = Array.from({ length: 8 }, (_, i) => g.acquire('a').then((ok) => order.push(`a${i}:${ok}`)));
    expect(await g.acquire('a')).to.equal(false); // 2 held + 8 waiting: full
    expect(await g.acquire('b')).to.equal(true); // total 3
    const b2 = g.acquire('b').then((ok) => order.push(`b:${ok}`)); // total full: waits
    g.release('b');
    await new Promise((r) => setImmediate(r));
    expect(order).to.deep.equal(['b:true']);
    for (let i = 0; i < 8; i++) g.release('a');
    await Promise.all(waits);
    await b2;
    expect(order.slice(1)).to.deep.equal(Array.from({ length: 8 }, (_, i) => `a${i}:true`));
    expect(g.inUse).to.equal(3); // a: 2, b: 1
  });

  it('session.slave_login with a wrong secret waits outside the lock too', async () => {
    const bad = callFrom(h.r.port, '127.0.0.9', 'session.slave_login', ['OpaqueRef:NULL', 'not-the-secret']);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await h.call('network.create', { name_label: 'during-bad-slave-login', name_description: '', MTU: 1500, other_config: {} });
    expect(Date.now() - t0).to.be.below(700);
    const b = await bad;
    expect(b.text).to.contain('SESSION_AUTHENTICATION_FAILED');
    expect(b.ms).to.be.at.least(1400);
  });

  it('the flags parse and refuse nonsense', () => {
    const c = parseArgs(['--logins-per-address', '3', '--logins-in-progress', '30', '--max-sessions', '1000']);
    expect([c.loginsPerAddress, c.loginsInProgress, c.maxSessions]).to.deep.equal([3, 30, 1000]);
    expect(() => parseArgs(['--max-sessions', '0'])).to.throw(/positive integer/);
  });
});

/** A POST from a chosen loopback source address: status, body text and the time taken. */
function postFrom(
  port: number,
  from: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, localAddress: from, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('security: POST /ifcfg/config is no faster password or token oracle than a login, and recording NICs needs PIF.introduce (§2, §5)', () => {
  let h: Harness;
  let report: Record<string, string>;
  const basic = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
  before(async () => {
    const hash = await hashPassword('pw', 1024);
    const users = checkUsers([...DEFAULT_USERS, { name: 'ro', hash, role: 'read-only' }, { name: 'po', hash, role: 'pool-operator' }]);
    h = await startHarness({ config: { users, authFailDelayMs: 1000, loginsPerAddress: 2, loginsInProgress: 8 } });
    await h.call('host.add_to_other_config', h.r.d.hostRef, 'node-config-token', 'the-node-token');
    report = { [String(await h.call('PIF.get_MAC', h.pif('eth0')))]: 'em1' };
  });
  after(async () => {
    await h.close();
  });

  it('a wrong Basic password or Bearer token waits --auth-fail-delay; a good one answers at once', async () => {
    const body = JSON.stringify(report);
    const good = await postFrom(h.r.port, '127.0.0.30', '/ifcfg/config', body, basic('po', 'pw'));
    expect(good.status, good.text).to.equal(200);
    expect(good.ms).to.be.below(800);
    const bad = await postFrom(h.r.port, '127.0.0.30', '/ifcfg/config', body, basic('po', 'guess'));
    expect(bad.status).to.equal(401);
    expect(bad.ms).to.be.at.least(950);
    const tok = await postFrom(h.r.port, '127.0.0.30', '/ifcfg/config', body, { Authorization: 'Bearer the-node-token' });
    expect(tok.status, tok.text).to.equal(200);
    const badTok = await postFrom(h.r.port, '127.0.0.30', '/ifcfg/config', body, { Authorization: 'Bearer guessed-token' });
    expect(badTok.status).to.equal(401);
    expect(badTok.ms).to.be.at.least(950);
  });

  it('guesses sent at once from one address go through the login gate: 2 at a time, a full line refused without a check', async () => {
    const body = JSON.stringify(report);
    const guesses = Array.from({ length: 6 }, (_, i) =>
      postFrom(h.r.port, '127.0.0.31', '/ifcfg/config', body, i % 2 ? basic('root', `guess${i}`) : { Authorization: `Bearer guess${i}` }),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(h.r.d.loginGate.inUse).to.equal(2);
    const all = await Promise.all(guesses);
    expect(all.every((g) => g.status === 401)).to.equal(true);
    // Served two at a time: the last two waited for two delays before their own.
    expect(Math.max(...all.map((g) => g.ms))).to.be.at.least(3 * 1000 - 100);
    expect(h.r.d.loginGate.inUse).to.equal(0);
    // 2 in their delay + 8 waiting fill the line: the next is refused at once, its password not looked at.
    const flood = Array.from({ length: 10 }, (_, i) => postFrom(h.r.port, '127.0.0.32', '/ifcfg/config', body, basic('root', `g${i}`)));
    await new Promise((r) => setTimeout(r, 200));
    const refused = await postFrom(h.r.port, '127.0.0.32', '/ifcfg/config', body, basic('root', 'secret'));
    expect(refused.status).to.equal(401);
    expect(refused.text).to.contain('Too many logins in progress');
    expect(refused.ms).to.be.below(500);
    await Promise.all(flood);
  });

  it('a report with NICs the host lacks needs pif.introduce: read-only gets 403 and nothing is recorded; pool-operator records them', async () => {
    const fresh = JSON.stringify({ ...report, '02:00:5e:00:53:99': 'em9' });
    const pifs = (await h.call<string[]>('PIF.get_all')).length;
    const ro = await postFrom(h.r.port, '127.0.0.33', '/ifcfg/config', fresh, basic('ro', 'pw'));
    expect(ro.status, ro.text).to.equal(403);
    expect(ro.text).to.contain('RBAC_PERMISSION_DENIED: pif.introduce');
    const roSession = await h.raw<string>('session.login_with_password', 'ro', 'pw');
    const viaSession = await postFrom(h.r.port, '127.0.0.33', `/ifcfg/config?session_id=${roSession}`, fresh, {});
    expect(viaSession.status).to.equal(403);
    expect((await h.call<string[]>('PIF.get_all')).length).to.equal(pifs);
    // read-only may still read the rendering of what the host has
    expect((await postFrom(h.r.port, '127.0.0.33', '/ifcfg/config', JSON.stringify(report), basic('ro', 'pw'))).status).to.equal(200);
    const po = await postFrom(h.r.port, '127.0.0.33', '/ifcfg/config', fresh, basic('po', 'pw'));
    expect(po.status, po.text).to.equal(200);
    expect((await h.call<string[]>('PIF.get_all')).length).to.equal(pifs + 1);
  });
});

describe('security: session count bounded, least recently used evicted (§2)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { maxSessions: 5 } });
  });
  after(async () => {
    await h.close();
  });

  it('past --max-sessions the least recently used session goes, not a busy one', async () => {
    const s: string[] = [];
    for (let i = 0; i < 4; i++) s.push(await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', `o${i}`));
    // h.session (the oldest login) and s[0] are used now: s[1] becomes the least recently used.
    await h.call('pool.get_all');
    await h.raw('pool.get_all', s[0]);
    const extra = await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'o9');
    expect(h.r.store.count('session')).to.equal(5);
    expect(h.r.store.find('session', s[1])).to.equal(undefined);
    for (const live of [h.session, s[0], s[2], s[3], extra]) expect(h.r.store.find('session', live)).to.not.equal(undefined);
    expect(await h.rawFails('pool.get_all', s[1])).to.deep.equal(['SESSION_INVALID', s[1]]);
  });
});

describe('security: xapi session groups (§2)', () => {
  let h: Harness;
  // A cheap hash (scrypt N=1024): 500 logins in a few seconds.
  before(async () => {
    h = await startHarness({ config: { users: [{ name: 'root', hash: await hashPassword('secret', 1024) }] } });
  });
  after(async () => {
    await h.close();
  });

  it('a group (root + originator) keeps at most 500 sessions, dropping its least recently used; other groups are untouched', async () => {
    const first = await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'flood');
    for (let i = 1; i < 500; i++) await h.raw('session.login_with_password', 'root', 'secret', '1.0', 'flood');
    const flood = () => [...h.r.store.rows('session')].filter(([, r]) => r.originator === 'flood').length;
    expect(flood()).to.equal(500);
    await h.raw('session.login_with_password', 'root', 'secret', '1.0', 'flood');
    expect(flood()).to.equal(500);
    expect(h.r.store.find('session', first)).to.equal(undefined);
    expect(h.r.store.find('session', h.session)).to.not.equal(undefined);
  });
});

describe('security: no session events, no secrets (§3)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('event.from never reports sessions: not for "session", not for "*", not by ref', async () => {
    for (const sub of [['session'], ['*'], [`session/${h.session}`]]) {
      const r = await h.call<{ events: { class: string }[]; valid_ref_counts: Record<string, number> }>('event.from', sub, '', 0);
      expect(r.events.filter((e) => e.class === 'session')).to.deep.equal([]);
      expect(r.valid_ref_counts).to.not.have.property('session');
    }
    const { token } = await h.call<{ token: string }>('event.from', ['session', 'network'], '', 0);
    await h.raw('session.login_with_password', 'root', 'secret');
    const r = await h.call<{ events: unknown[] }>('event.from', ['session'], token, 0.2);
    expect(r.events).to.deep.equal([]);
  });

  it('event.register(["session"]) + event.next report no session', async () => {
    const s = await h.raw<string>('session.login_with_password', 'root', 'secret');
    await h.raw('event.register', s, ['session', 'network']);
    await h.raw('session.login_with_password', 'root', 'secret');
    const net = await h.call<string>('network.create', { name_label: 'wake', name_description: '', MTU: 1500, other_config: {} });
    const evs = await h.raw<{ class: string; ref: string }[]>('event.next', s);
    expect(evs.map((e) => e.class)).to.deep.equal(['network']);
    expect(evs[0].ref).to.equal(net);
  });

  it('a session record carries no password material; failed logins never log the password', async () => {
    const rec = await h.call<Record<string, unknown>>('session.get_record', h.session);
    expect(rec).to.not.have.property('auth_fingerprint');
    expect(JSON.stringify(rec)).to.not.match(/scrypt/);
    const lines: string[] = [];
    const log = h.r.d.log;
    const orig = { info: log.info, warn: log.warn, error: log.error, debug: log.debug };
    for (const k of ['info', 'warn', 'error', 'debug'] as const) (log as any)[k] = (m: string) => lines.push(String(m));
    try {
      await h.rawFails('session.login_with_password', 'root', 'hunter2-not-it');
      await h.rawFails('session.slave_login', 'OpaqueRef:NULL', 'guessed-pool-secret');
    } finally {
      Object.assign(log, orig);
    }
    expect(lines.join('\n')).to.not.match(/hunter2|guessed-pool-secret/);
  });
});

describe('security: a session argument of the wrong type (§3)', () => {
  let h: Harness;
  const errors: string[] = [];
  before(async () => {
    h = await startHarness();
    const log = h.r.d.log;
    (log as any).error = (m: string) => errors.push(String(m));
  });
  after(async () => {
    await h.close();
  });

  it('a struct, an array, a number, a boolean as the session: SESSION_INVALID, nothing logged at error level (XML-RPC and JSON-RPC)', async () => {
    for (const v of [
      '<struct><member><name>a</name><value>1</value></member></struct>',
      '<struct></struct>',
      '<array><data></data></array>',
      '<int>5</int>',
      '<boolean>1</boolean>',
      '<double>1.5</double>',
    ]) {
      for (const method of ['pool.get_all', 'network.get_all_records', 'no.such_method']) {
        const r = await post(h.r.port, '/', xmlCall(method, `<value>${v}</value>`));
        expect(r.status, `${method} ${v}`).to.equal(200);
        expect(r.body, `${method} ${v}`).to.contain('<value>SESSION_INVALID</value>');
      }
    }
    for (const v of [{}, { __proto__: null }, [], 5, true, null]) {
      const r = await post(h.r.port, '/jsonrpc', jsonCall('pool.get_all', [v]));
      expect(JSON.parse(r.body).error.message, JSON.stringify(v)).to.equal('SESSION_INVALID');
    }
    expect(errors).to.deep.equal([]);
  });
});

describe('security: sessions die with their user or password (§3)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xnd-sec-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function start(users: { name: string; hash: string }[]) {
    const backend = new SimulatedBackend({ nics: DEMO_INVENTORY.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: true })) });
    const cfg: Config = { ...DEFAULTS, db: join(dir, 'x.db'), port: 0, authFailDelayMs: 10, hostname: 'sechost', logLevel: 'error', users };
    return startDaemon(cfg, { backend, log: makeLogger({ logLevel: 'error', logFile: '' }) });
  }
  const login = async (url: string, u: string, pw: string) =>
    (await import('../../src/pool/rpc.js')).xapiCall<string>(url, 'session.login_with_password', [u, pw]);
  const fails = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return (e as { details?: string[] }).details;
    }
    return undefined;
  };

  it('a user removed from --users, or whose password hash changed, loses its sessions at start-up; the others keep theirs', async () => {
    const { xapiCall } = await import('../../src/pool/rpc.js');
    const root = { name: 'root', hash: await hashPassword('secret', 1024) };
    const alice = { name: 'alice', hash: await hashPassword('alice-pw', 1024) };
    const bob = { name: 'bob', hash: await hashPassword('bob-pw', 1024) };
    let r = await start([root, alice, bob]);
    const sr = await login(r.url, 'root', 'secret');
    const sa = await login(r.url, 'alice', 'alice-pw');
    const sb = await login(r.url, 'bob', 'bob-pw');
    await r.close();
    // alice removed, bob's password changed.
    r = await start([root, { name: 'bob', hash: await hashPassword('bob-new', 1024) }]);
    try {
      expect(r.store.find('session', sa)).to.equal(undefined);
      expect(r.store.find('session', sb)).to.equal(undefined);
      expect(await fails(xapiCall(r.url, 'pool.get_all', [sa]))).to.deep.equal(['SESSION_INVALID', sa]);
      expect(await fails(xapiCall(r.url, 'pool.get_all', [sb]))).to.deep.equal(['SESSION_INVALID', sb]);
      expect(await xapiCall<string[]>(r.url, 'pool.get_all', [sr])).to.have.length(1);
    } finally {
      await r.close();
    }
  });
});
