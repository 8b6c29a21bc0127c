// Async.<Class>.<message> and tasks: the task ends success with an XML-RPC fragment result,
// failure with error_info, cancelled when cancelled before it ran; tasks show in event.from.
import { expect } from 'chai';
import { settleTask, startHarness, type Harness } from '../helpers/harness.js';
import { jsonCall, post } from './rawhttp.js';

describe('api/tasks', () => {
  let h: Harness;
  const settle = (task: string) => settleTask(h, task);
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('Async.network.create returns a task that ends success with result <value>OpaqueRef:…</value>', async () => {
    const t0 = Date.now();
    const task = await h.call<string>('Async.network.create', { name_label: 'async-net', other_config: {} });
    expect(task).to.match(/^OpaqueRef:[0-9a-f-]{36}$/);
    const r = await settle(task);
    expect(r.status).to.equal('success');
    expect(r.progress).to.equal(1);
    expect(r.error_info).to.deep.equal([]);
    expect(r.name_label).to.equal('Async.network.create');
    expect(r.resident_on).to.equal(h.r.d.hostRef);
    expect(r.allowed_operations).to.deep.equal([]);
    const m = /^<value>(OpaqueRef:[0-9a-f-]{36})<\/value>$/.exec(r.result);
    expect(m, r.result).to.not.equal(null);
    expect(await h.call('network.get_name_label', m![1])).to.equal('async-net');
    expect(r.created).to.be.instanceOf(Date);
    expect(r.finished).to.be.instanceOf(Date);
    expect((r.finished as Date).getTime()).to.be.at.least((r.created as Date).getTime());
    expect((r.created as Date).getTime()).to.be.within(Math.floor(t0 / 1000) * 1000 - 1000, Date.now() + 1000);
  });

  it('a void Async call ends success with result <value></value>', async () => {
    const n = await h.call<string>('network.create', { name_label: 'to-destroy', other_config: {} });
    const r = await settle(await h.call<string>('Async.network.destroy', n));
    expect([r.status, r.result]).to.deep.equal(['success', '<value></value>']);
    expect(await h.fails('network.get_record', n)).to.deep.equal(['HANDLE_INVALID', 'network', n]);
  });

  it('a failing Async call ends failure with error_info = the ErrorDescription and no result', async () => {
    const r = await settle(await h.call<string>('Async.network.destroy', 'OpaqueRef:NULL'));
    expect(r.status).to.equal('failure');
    expect(r.error_info).to.deep.equal(['HANDLE_INVALID', 'network', 'OpaqueRef:NULL']);
    expect(r.result).to.equal('');
  });

  it('an Async call still fails synchronously on a bad session, arity or type', async () => {
    const count = h.r.store.count('task');
    expect(await h.fails('Async.network.create', 'x')).to.deep.equal(['FIELD_TYPE_ERROR', 'args']);
    expect(await h.fails('Async.network.create', {}, 'extra')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'network.create', '1', '2']);
    expect(h.r.store.count('task')).to.equal(count);
  });

  it('the task result is the XML-RPC fragment even when read over JSON-RPC', async () => {
    const body = JSON.parse((await post(h.r.port, '/jsonrpc', jsonCall('Async.network.create', [h.session, { name_label: 'j', other_config: {} }]))).body);
    expect(body.result).to.match(/^OpaqueRef:/);
    await settle(body.result);
    const rec = JSON.parse((await post(h.r.port, '/jsonrpc', jsonCall('task.get_record', [h.session, body.result]))).body).result;
    expect(rec.result).to.match(/^<value>OpaqueRef:[0-9a-f-]{36}<\/value>$/);
    expect(rec.progress).to.equal(1);
  });

  it('task.cancel of a task that has not started yet ends it cancelled with TASK_CANCELLED and does nothing', async () => {
    const before = h.r.store.count('network');
    const sub = await h.r.dispatcher.call({ method: 'Async.network.create', params: [h.session, { name_label: 'never', other_config: {} }] }, 'xmlrpc');
    expect(sub.ok).to.equal(true);
    const task = (sub as { value: string }).value;
    const c = await h.r.dispatcher.call({ method: 'task.cancel', params: [h.session, task] }, 'xmlrpc');
    expect(c).to.deep.include({ ok: true });
    const r = await settle(task);
    expect(r.status).to.equal('cancelled');
    expect(r.error_info).to.deep.equal(['TASK_CANCELLED', task]);
    expect(h.r.store.count('network')).to.equal(before);
    expect(await h.call('network.get_by_name_label', 'never')).to.deep.equal([]);
  });

  it('TASK-LOCK an Async call returns its task while a long write holds the lock, and a cancel over HTTP reaches the queued task', async () => {
    // A write that holds the lock for 400 ms (what a slow backend apply does).
    let release!: () => void;
    const held = h.r.store.write(() => new Promise<void>((r) => (release = r)));
    const t0 = Date.now();
    const task = await h.call<string>('Async.network.create', { name_label: 'queued', other_config: {} });
    expect(Date.now() - t0, 'the task ref comes back without waiting for the lock').to.be.lessThan(300);
    expect((await h.call('task.get_record', task)).status).to.equal('pending');
    await h.call('task.cancel', task);
    expect((await h.call('task.get_record', task)).status).to.equal('cancelling');
    setTimeout(() => release(), 400);
    await held;
    const r = await settle(task);
    expect([r.status, r.error_info]).to.deep.equal(['cancelled', ['TASK_CANCELLED', task]]);
    expect(await h.call('network.get_by_name_label', 'queued')).to.deep.equal([]);
  });

  it('task.cancel of a finished task is OPERATION_NOT_ALLOWED', async () => {
    const task = await h.call<string>('Async.network.create', { name_label: 'done', other_config: {} });
    await settle(task);
    const d = await h.fails('task.cancel', task);
    expect(d[0]).to.equal('OPERATION_NOT_ALLOWED');
  });

  it('task.create / task.destroy; a destroyed task is HANDLE_INVALID', async () => {
    const t = await h.call<string>('task.create', 'mine', 'desc');
    const r = await h.call('task.get_record', t);
    expect([r.name_label, r.name_description, r.status, r.progress]).to.deep.equal(['mine', 'desc', 'pending', 0]);
    await h.call('task.destroy', t);
    expect(await h.fails('task.get_record', t)).to.deep.equal(['HANDLE_INVALID', 'task', t]);
  });

  it('tasks are visible through event.from: add while pending, then mod to success', async () => {
    const tok = (await h.call('event.from', ['task'], '', 0)).token;
    const task = await h.call<string>('Async.network.create', { name_label: 'watched', other_config: {} });
    const seen: string[] = [];
    let t = tok;
    for (let i = 0; i < 20 && !seen.includes('success'); i++) {
      const r = await h.call('event.from', ['task'], t, 5);
      t = r.token;
      for (const e of r.events) if (e.ref === task) seen.push(e.snapshot.status);
    }
    expect(seen[seen.length - 1]).to.equal('success');
    const again = await h.call('event.from', ['task'], '', 0);
    expect(again.valid_ref_counts.task).to.equal(h.r.store.count('task'));
    expect(again.events.some((e: any) => e.ref === task && e.class === 'task')).to.equal(true);
  });

  it('task.get_all_records_where finds tasks by status', async () => {
    const ok = await h.call('task.get_all_records_where', 'field "status" = "success"');
    expect(Object.values(ok).length).to.be.greaterThan(0);
    for (const r of Object.values(ok) as any[]) expect(r.status).to.equal('success');
  });
});
