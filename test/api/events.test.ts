// Events: event.from (adds from "", then mod/del coalescing, subscriptions, long-poll timing,
// valid_ref_counts), event.inject, and the legacy register/next/unregister.
import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/harness.js';
import { post, xmlCall } from './rawhttp.js';

type Ev = { id: string; timestamp: string; class: string; operation: string; ref: string; snapshot?: Record<string, any> };
type From = { events: Ev[]; valid_ref_counts: Record<string, number>; token: string };

describe('api/events: event.from', () => {
  let h: Harness;
  const from = (classes: string[], token: string, timeout: number) => h.call<From>('event.from', classes, token, timeout);
  const brief = (r: From) => r.events.map((e) => [e.class, e.operation, e.ref]);
  const newNet = (label: string) => h.call<string>('network.create', { name_label: label, other_config: {} });
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('with token "" returns every object of the subscribed classes as an add with its snapshot', async () => {
    const r = await from(['PIF'], '', 0);
    expect(r.events).to.have.length(6);
    for (const e of r.events) {
      expect(Object.keys(e)).to.deep.equal(['id', 'timestamp', 'class', 'operation', 'ref', 'snapshot']);
      expect(e.class).to.equal('pif');
      expect(e.operation).to.equal('add');
      expect(e.timestamp).to.equal('0.0');
      expect(e.id).to.match(/^\d+$/);
      expect(e.snapshot).to.deep.equal(await h.call('PIF.get_record', e.ref));
    }
    expect(r.events.map((e) => e.ref).sort()).to.deep.equal((await h.call<string[]>('PIF.get_all')).sort());
    expect(r.token).to.match(/^\d{20},\d{20}$/);
  });

  it('valid_ref_counts is always present, lower-case, covers every evented class incl. task, whatever the subscription', async () => {
    const r = await from(['bond'], '', 0);
    expect(r.events).to.deep.equal([]);
    expect(r.valid_ref_counts).to.include({ pif: 6, network: 6, pool: 1, host: 1, bond: 0, task: 0, vlan: 0, tunnel: 0 });
    for (const k of Object.keys(r.valid_ref_counts)) expect(k).to.equal(k.toLowerCase());
    expect(r.valid_ref_counts).not.to.have.property('session');
  });

  it('sends valid_ref_counts as <i4> and nothing else as a typed int over XML-RPC', async () => {
    const r = await post(
      h.r.port,
      '/',
      xmlCall('event.from', h.session, '<value><array><data><value>pool</value></data></array></value>', '', '<value><double>0</double></value>'),
    );
    expect(r.body).to.contain('<member><name>pool</name><value><i4>1</i4></value></member>');
    expect(r.body).to.contain('<member><name>task</name><value><i4>');
    expect(r.body).not.to.contain('<i8>');
    expect(r.body).not.to.contain('<int>');
    expect(r.body).not.to.match(/>\s+</);
  });

  it('subscriptions match class names case-insensitively; "*" is everything; unknown classes are ignored', async () => {
    const upper = await from(['PIF'], '', 0);
    const lower = await from(['pif'], '', 0);
    expect(lower.events.map((e) => e.ref)).to.deep.equal(upper.events.map((e) => e.ref));
    const star = await from(['*'], '', 0);
    const classes = new Set(star.events.map((e) => e.class));
    for (const c of ['pool', 'host', 'network', 'pif', 'pif_metrics', 'vm']) expect(classes, c).to.include(c);
    expect(classes).not.to.include('session');
    expect((await from(['no_such_class'], '', 0)).events).to.deep.equal([]);
  });

  it('EVENT_FROM_TOKEN_PARSE_FAILURE [token] for a token that does not parse', async () => {
    expect(await h.fails('event.from', ['pool'], 'garbage', 0)).to.deep.equal(['EVENT_FROM_TOKEN_PARSE_FAILURE', 'garbage']);
    expect(await h.fails('event.from', ['pool'], '12,x', 0)).to.deep.equal(['EVENT_FROM_TOKEN_PARSE_FAILURE', '12,x']);
  });

  it('EVENT_SUBSCRIPTION_PARSE_FAILURE for a malformed entry', async () => {
    expect(await h.fails('event.from', ['network/'], '', 0)).to.deep.equal(['EVENT_SUBSCRIPTION_PARSE_FAILURE', 'network/']);
  });

  it('reports a mod after a change, with the new snapshot, and the token moves on', async () => {
    const net = await newNet('ev-mod');
    const t0 = (await from(['network'], '', 0)).token;
    await h.call('network.set_name_description', net, 'changed');
    const r = await from(['network'], t0, 0);
    expect(brief(r)).to.deep.equal([['network', 'mod', net]]);
    expect(r.events[0].snapshot!.name_description).to.equal('changed');
    expect(r.token > t0).to.equal(true);
    expect((await from(['network'], r.token, 0)).events).to.deep.equal([]);
    await h.call('network.destroy', net);
  });

  it('coalesces: created then changed in the window is one add with the latest snapshot', async () => {
    const t0 = (await from(['network'], '', 0)).token;
    const net = await newNet('ev-a');
    await h.call('network.set_name_label', net, 'ev-b');
    await h.call('network.add_tags', net, 't');
    const r = await from(['network'], t0, 0);
    expect(brief(r)).to.deep.equal([['network', 'add', net]]);
    expect(r.events[0].snapshot!.name_label).to.equal('ev-b');
    expect(r.events[0].snapshot!.tags).to.deep.equal(['t']);
    await h.call('network.destroy', net);
  });

  it('coalesces: created and destroyed in the window is nothing; an older object destroyed is one del without snapshot', async () => {
    const old = await newNet('ev-old');
    await h.call('network.set_name_description', old, 'x');
    const t0 = (await from(['network'], '', 0)).token;
    const tmp = await newNet('ev-tmp');
    await h.call('network.destroy', tmp);
    await h.call('network.set_name_description', old, 'y');
    await h.call('network.destroy', old);
    const r = await from(['network'], t0, 0);
    expect(brief(r)).to.deep.equal([['network', 'del', old]]);
    expect(r.events[0]).not.to.have.property('snapshot');
  });

  it('orders events of different objects by the change that last touched them', async () => {
    const a = await newNet('ord-a');
    const b = await newNet('ord-b');
    const t0 = (await from(['network'], '', 0)).token;
    await h.call('network.set_name_description', b, '1');
    await h.call('network.set_name_description', a, '2');
    expect(brief(await from(['network'], t0, 0))).to.deep.equal([
      ['network', 'mod', b],
      ['network', 'mod', a],
    ]);
    await h.call('network.destroy', a);
    await h.call('network.destroy', b);
  });

  it('a class/ref subscription sees only that object', async () => {
    const a = await newNet('sub-a');
    const b = await newNet('sub-b');
    const t0 = (await from(['network'], '', 0)).token;
    await h.call('network.set_name_description', a, 'x');
    await h.call('network.set_name_description', b, 'y');
    expect(brief(await from([`network/${b}`], t0, 0))).to.deep.equal([['network', 'mod', b]]);
    expect(brief(await from([`network/${b}`], '', 0))).to.deep.equal([['network', 'add', b]]);
    await h.call('network.destroy', a);
    await h.call('network.destroy', b);
  });

  it('a change to an unsubscribed class does not wake or fill a subscription', async () => {
    const t0 = (await from(['Bond'], '', 0)).token;
    const t = Date.now();
    const p = from(['Bond'], t0, 0.5);
    await h.call('pool.set_name_description', h.r.d.poolRef, 'noise');
    const r = await p;
    expect(r.events).to.deep.equal([]);
    expect(Date.now() - t).to.be.at.least(490);
  });

  it('long-poll returns within 500 ms of the commit of a matching change', async () => {
    const t0 = (await from(['network'], '', 0)).token;
    const t = Date.now();
    const p = from(['network'], t0, 30).then((r) => ({ r, at: Date.now() }));
    await new Promise((res) => setTimeout(res, 300));
    const committedBy = Date.now();
    const net = await newNet('lp');
    const { r, at } = await p;
    expect(brief(r)).to.deep.equal([['network', 'add', net]]);
    expect(at - committedBy).to.be.lessThan(500);
    expect(at - t).to.be.at.least(290);
    await h.call('network.destroy', net);
  });

  it('a timeout of 0.5 s returns in [0.5, 1.0) s with no events and a usable token', async () => {
    const t0 = (await from(['VLAN'], '', 0)).token;
    const t = Date.now();
    const r = await from(['VLAN'], t0, 0.5);
    const dt = (Date.now() - t) / 1000;
    expect(r.events).to.deep.equal([]);
    expect(dt).to.be.at.least(0.5);
    expect(dt).to.be.lessThan(1.0);
    expect(r.token).to.match(/^\d{20},\d{20}$/);
  });

  it('a timeout given as an XML-RPC <double> (as Xen Orchestra sends 60.1) is honoured', async () => {
    const t0 = (await from(['VLAN'], '', 0)).token;
    const t = Date.now();
    const r = await post(
      h.r.port,
      '/',
      xmlCall('event.from', h.session, '<value><array><data><value>VLAN</value></data></array></value>', t0, '<value><double>0.3</double></value>'),
    );
    expect(r.body).to.contain('<member><name>events</name><value><array><data></data></array></value></member>');
    expect(Date.now() - t).to.be.within(290, 900);
  });

  it('a huge timeout waits without spinning, and still returns on a change; a NaN timeout returns at once', async () => {
    const store = h.r.store as unknown as { log: unknown };
    let real = store.log;
    let reads = 0;
    Object.defineProperty(store, 'log', {
      configurable: true,
      get: () => {
        reads++;
        return real;
      },
      set: (v) => {
        real = v;
      },
    });
    try {
      const t0 = (await from(['network'], '', 0)).token;
      const sub = '<value><array><data><value>network</value></data></array></value>';
      let done = false;
      const p = post(h.r.port, '/', xmlCall('event.from', h.session, sub, t0, '<value><double>1e10</double></value>')).then((r) => {
        done = true;
        return r;
      });
      await new Promise((res) => setTimeout(res, 300));
      expect(done).to.equal(false);
      expect(reads).to.be.at.most(3);
      const net = await newNet('huge-timeout');
      expect((await p).body).to.contain(net);
      const t = Date.now();
      const r = await post(h.r.port, '/', xmlCall('event.from', h.session, sub, (await from(['network'], '', 0)).token, '<value><double>nan</double></value>'));
      expect(r.body).to.contain('<member><name>events</name><value><array><data></data></array></value></member>');
      expect(Date.now() - t).to.be.lessThan(200);
      await h.call('network.destroy', net);
    } finally {
      Object.defineProperty(store, 'log', { configurable: true, writable: true, enumerable: true, value: real });
    }
  });

  it('event.inject returns a token after which a mod of that object is seen', async () => {
    const tok = await h.call<string>('event.inject', 'pool', h.r.d.poolRef);
    expect(tok).to.match(/^\d{20},\d{20}$/);
    const r = await from(['pool'], tok, 0);
    expect(brief(r)).to.deep.equal([['pool', 'mod', h.r.d.poolRef]]);
    const tok2 = await h.call<string>('event.inject', 'PIF', h.pif('eth1'));
    expect(brief(await from(['pif'], tok2, 0))).to.deep.equal([['pif', 'mod', h.pif('eth1')]]);
  });

  it('event.inject of a ref that is not of that class is HANDLE_INVALID', async () => {
    expect(await h.fails('event.inject', 'pool', h.pif('eth1'))).to.deep.equal(['HANDLE_INVALID', 'pool', h.pif('eth1')]);
    expect(await h.fails('event.inject', 'pool', 'OpaqueRef:NULL')).to.deep.equal(['HANDLE_INVALID', 'pool', 'OpaqueRef:NULL']);
  });

  it('two concurrent long-polls are both woken by one commit', async () => {
    const t0 = (await from(['network'], '', 0)).token;
    const p1 = from(['network'], t0, 10);
    const p2 = from(['*'], t0, 10);
    await new Promise((res) => setTimeout(res, 100));
    const net = await newNet('both');
    const [r1, r2] = await Promise.all([p1, p2]);
    expect(brief(r1)).to.deep.equal([['network', 'add', net]]);
    expect(brief(r2)).to.deep.include(['network', 'add', net]);
    await h.call('network.destroy', net);
  });
});

describe('api/events: legacy register/next/unregister', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('event.next before register is SESSION_NOT_REGISTERED [session]', async () => {
    expect(await h.fails('event.next')).to.deep.equal(['SESSION_NOT_REGISTERED', h.session]);
  });

  it('register then next returns the changes since register as legacy events (obj_uuid, int id, Unix timestamp)', async () => {
    await h.call('event.register', ['network']);
    const net = await h.call<string>('network.create', { name_label: 'legacy', other_config: {} });
    const evs = await h.call<any[]>('event.next');
    expect(evs.map((e) => [e.class, e.operation, e.ref])).to.deep.equal([['network', 'add', net]]);
    const e = evs[0];
    expect(e.obj_uuid).to.equal(await h.call('network.get_uuid', net));
    expect(e.id).to.match(/^\d+$/);
    expect(Math.abs(Number(e.timestamp) - Date.now() / 1000)).to.be.lessThan(60);
    expect(e.snapshot.name_label).to.equal('legacy');
    // next blocks until the next change, then returns just that.
    const p = h.call<any[]>('event.next');
    await new Promise((res) => setTimeout(res, 100));
    await h.call('network.destroy', net);
    expect((await p).map((x) => [x.operation, x.ref, x.obj_uuid])).to.deep.equal([['del', net, e.obj_uuid]]);
  });

  it('unregister of a class stops its events; other registered classes keep coming', async () => {
    await h.call('event.register', ['pool']);
    await h.call('event.unregister', ['network']);
    const net = await h.call<string>('network.create', { name_label: 'unseen', other_config: {} });
    await h.call('pool.set_name_description', h.r.d.poolRef, 'seen');
    const evs = await h.call<any[]>('event.next');
    expect(evs.map((x) => [x.class, x.operation])).to.deep.equal([['pool', 'mod']]);
    await h.call('network.destroy', net);
  });

  it('registrations belong to one session', async () => {
    const s2 = await h.raw<string>('session.login_with_password', 'root', 'secret');
    try {
      await h.raw('event.next', s2);
      throw new Error('event.next succeeded');
    } catch (e: any) {
      expect(e.details).to.deep.equal(['SESSION_NOT_REGISTERED', s2]);
    }
    await h.raw('session.logout', s2);
  });
});
