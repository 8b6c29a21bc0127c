// Sessions: the login forms clients send, logout, the session getters, and persistence of
// sessions and event tokens across a daemon restart on a database file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/harness.js';
import { expireSessions, SESSION_IDLE_MS } from '../../src/api/session.js';

describe('api/sessions', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('login_with_password takes 2, 3 and 4 arguments (and ignores a 5th) and returns distinct session refs', async () => {
    const refs = [
      await h.raw<string>('session.login_with_password', 'root', 'secret'),
      await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0'),
      await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'orig'),
      await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'orig', 'extra'),
    ];
    for (const r of refs) expect(r).to.match(/^OpaqueRef:[0-9a-f-]{36}$/);
    expect(new Set(refs).size).to.equal(4);
    for (const r of refs) expect(await h.raw('pool.get_all', r)).to.deep.equal([h.r.d.poolRef]);
    for (const r of refs) await h.raw('session.logout', r);
  });

  it('stores user name and originator on the session; get_this_host is this host', async () => {
    const s = await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'my-script');
    expect(await h.raw('session.get_this_host', s, s)).to.equal(h.r.d.hostRef);
    expect(await h.raw('session.get_originator', s, s)).to.equal('my-script');
    expect(await h.raw('session.get_auth_user_name', s, s)).to.equal('root');
    expect(await h.raw('session.get_is_local_superuser', s, s)).to.equal(true);
    expect(await h.raw('session.get_this_user', s, s)).to.equal('OpaqueRef:NULL');
    await h.raw('session.logout', s);
  });

  it('logout ends the session: any later call, logout included, is SESSION_INVALID', async () => {
    const s = await h.raw<string>('session.login_with_password', 'root', 'secret');
    expect(await h.raw('session.logout', s)).to.equal('');
    expect(await h.rawFails('pool.get_all', s)).to.deep.equal(['SESSION_INVALID', s]);
    expect(await h.rawFails('session.logout', s)).to.deep.equal(['SESSION_INVALID', s]);
    expect(h.r.store.find('session', s)).to.equal(undefined);
  });

  it('local_logout ends the session too', async () => {
    const s = await h.raw<string>('session.login_with_password', 'root', 'secret');
    await h.raw('session.local_logout', s);
    expect(await h.rawFails('pool.get_all', s)).to.deep.equal(['SESSION_INVALID', s]);
  });

  it('a session made over XML-RPC works over JSON-RPC', async () => {
    const { post, jsonCall } = await import('./rawhttp.js');
    const r = await post(h.r.port, '/jsonrpc', jsonCall('session.get_this_host', [h.session, h.session]));
    expect(JSON.parse(r.body)).to.deep.equal({ jsonrpc: '2.0', result: h.r.d.hostRef, id: 0 });
  });

  it('the login probe clients make answers: pool.get_all, pool.get_master, API version 2.23, software_version', async () => {
    const [pool] = await h.call<string[]>('pool.get_all');
    const master = await h.call<string>('pool.get_master', pool);
    expect(master).to.equal(h.r.d.hostRef);
    expect(await h.call('host.get_API_version_major', master)).to.equal('2');
    expect(await h.call('host.get_API_version_minor', master)).to.equal('23');
    expect(await h.call('host.get_API_version_vendor', master)).to.equal('XenSource');
    const sw = await h.call<Record<string, string>>('host.get_software_version', master);
    expect(sw).to.be.an('object');
    expect(Object.keys(sw).length).to.be.greaterThan(0);
  });
});

describe('api/sessions: restart on a database file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xenapi-netd-sess-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps sessions, refs, uuids and event tokens across a restart', async () => {
    const db = join(dir, 'x.db');
    const a = await startHarness({ config: { db } });
    const s = a.session;
    const net = await a.call<string>('network.create', { name_label: 'persist', other_config: { k: 'v' } });
    const uuid = await a.call<string>('network.get_uuid', net);
    const tok = (await a.call('event.from', ['network'], '', 0)).token as string;
    const pool = a.r.d.poolRef;
    const host = a.r.d.hostRef;
    await a.close();

    const b = await startHarness({ config: { db } });
    try {
      expect(b.r.d.poolRef).to.equal(pool);
      expect(b.r.d.hostRef).to.equal(host);
      expect(await b.raw('network.get_record', s, net)).to.include({ name_label: 'persist', uuid });
      expect(await b.raw('session.get_this_host', s, s)).to.equal(host);
      expect(await b.raw<string[]>('PIF.get_all', s)).to.have.length(6);
      expect(await b.raw<string[]>('pool.get_all', s)).to.deep.equal([pool]);
      // The old token is still good: nothing new yet, then a change made after the restart shows.
      const quiet = await b.raw('event.from', s, ['network'], tok, 0.1);
      expect(quiet.events).to.deep.equal([]);
      await b.raw('network.set_name_description', s, net, 'after restart');
      const ev = await b.raw('event.from', s, ['network'], tok, 0);
      expect(ev.events.map((e: any) => [e.operation, e.ref, e.snapshot.name_description])).to.deep.equal([['mod', net, 'after restart']]);
      expect(ev.token > tok).to.equal(true);
      // A delete after the restart is seen as del from the old token too.
      await b.raw('network.destroy', s, net);
      const del = await b.raw('event.from', s, ['network'], tok, 0);
      expect(del.events.map((e: any) => [e.operation, e.ref, 'snapshot' in e])).to.deep.equal([['del', net, false]]);
    } finally {
      await b.close();
    }
  });
});

describe('api/sessions: idle expiry', () => {
  it('SESS-IDLE destroys sessions idle for more than 24 h (activity tracked in memory) and keeps the others', async () => {
    const h = await startHarness();
    try {
      const other = await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'idle-test');
      await h.call('pool.get_all');
      // A day and a second later, neither session has been used since: both go.
      const later = Date.now() + SESSION_IDLE_MS + 1000;
      expect(await expireSessions(h.r.store, later)).to.equal(2);
      expect(h.r.store.find('session', other)).to.equal(undefined);
      expect(h.r.store.count('session')).to.equal(0);
      const fresh = await h.raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'idle-test');
      expect(await expireSessions(h.r.store)).to.equal(0);
      expect(h.r.store.find('session', fresh)).to.not.equal(undefined);
    } finally {
      await h.close();
    }
  });
});
