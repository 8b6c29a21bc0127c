// The forwarder's cache of committed desired states (src/pool/forward.ts CommittedCache): a commit
// the forwarder did not see empties it only when it changed a class desired states are read from
// (DESIRED_CLASSES), so an Async call's task commits leave it whole; and DESIRED_CLASSES names
// every class desiredState reads, checked by reading a host with a bond, a VLAN, a tunnel and a
// running VM through a view that records each class asked for.
import { expect } from 'chai';
import { manySide } from '../../schema/index.js';
import { CommittedCache } from '../../src/pool/forward.js';
import { DESIRED_CLASSES, desiredState } from '../../src/reconciler/desired.js';
import type { View } from '../../src/store/store.js';
import { settleTask, startHarness, type Harness } from '../helpers/harness.js';
import { giveIp, makeNetwork, makeVIF, makeVM, setFields } from '../helpers/vmfix.js';

describe('pool forwarder: the cache of committed desired states', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.close());

  const settle = (task: string) => settleTask(h, task);

  it("an Async call's task commits leave it whole; a change of a PIF empties it and the next state is the new one", async () => {
    const store = h.r.store;
    const host = h.r.d.hostRef;
    const cache = new CommittedCache(store);
    /** A commit the forwarder sees (its prepare hook reports each one it passes). */
    const seenWrite = (fn: Parameters<typeof store.write>[0]) =>
      store.write((tx) => {
        tx.after.push(() => cache.committed(store.generation, [], new Map()));
        return fn(tx);
      });
    const first = cache.get(store, host);
    expect([cache.computed, cache.size]).to.deep.equal([1, 1]);
    const gen = store.generation;
    const pool = [...store.rows('pool')][0][0];
    // Store.createNow (the task) and the task's end: commits the forwarder does not see. The call
    // itself fails (no such network), so they are the only commits.
    expect((await settle(await h.call('Async.network.destroy', 'OpaqueRef:no-such-network'))).status).to.equal('failure');
    expect(store.generation - gen).to.be.above(1);
    await seenWrite((tx) => tx.set('pool', pool, { name_label: 'seen' }));
    expect(cache.get(store, host)).to.equal(first);
    expect([cache.computed, cache.size]).to.deep.equal([1, 1]);
    // A commit the forwarder did not see that changes a PIF: the state is computed again, and is the new one.
    await giveIp(h, h.pif('eth0'), '198.51.100.77');
    const now = cache.get(store, host);
    expect(cache.computed).to.equal(2);
    expect(now).to.not.equal(first);
    expect(now).to.equal(JSON.stringify(desiredState(store, host)));
    expect(now).to.contain('198.51.100.77');
    // The same, noticed at the next commit the forwarder sees rather than at a read.
    await giveIp(h, h.pif('eth0'), '198.51.100.78');
    await seenWrite((tx) => tx.set('pool', pool, { name_label: 'seen again' }));
    expect(cache.size).to.equal(0);
    expect(cache.get(store, host)).to.contain('198.51.100.78');
  });

  it('DESIRED_CLASSES names every class desiredState reads (a host with a bond, a VLAN, a tunnel and a running VM)', async () => {
    const host = h.r.d.hostRef;
    const sv = await h.call<Record<string, string>>('host.get_software_version', host);
    await setFields(h, 'host', host, { software_version: { ...sv, network_backend: 'openvswitch' } });
    const nb = await makeNetwork(h);
    const bond = await h.call('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'active-backup', {});
    await h.call('PIF.plug', await h.call('Bond.get_master', bond));
    const vlan = await h.call('VLAN.create', h.pif('eth3'), 5, await makeNetwork(h));
    await h.call('PIF.plug', await h.call('VLAN.get_untagged_PIF', vlan));
    await giveIp(h, h.pif('eth4'), '198.51.100.44');
    const tunnel = await h.call('tunnel.create', h.pif('eth4'), await makeNetwork(h), 'gre');
    await h.call('PIF.plug', await h.call('tunnel.get_access_PIF', tunnel));
    const vm = await makeVM(h);
    await makeVIF(h, vm, nb);
    await h.call('VM.start', vm, false, false);
    const read = new Set<string>();
    const store = h.r.store;
    // Each read names its class; a relation read names the class whose field feeds it too.
    const view: View = {
      find: (cls, ref) => (read.add(cls), store.find(cls, ref)),
      get: (cls, ref) => (read.add(cls), store.get(cls, ref)),
      refs: (cls) => (read.add(cls), store.refs(cls)),
      rows: (cls) => (read.add(cls), store.rows(cls)),
      children: (cls, ref, field, where) => (read.add(cls).add(manySide(cls, field)!.one.cls), store.children(cls, ref, field, where)),
      byUuid: (cls, uuid) => (read.add(cls), store.byUuid(cls, uuid)),
      count: (cls) => (read.add(cls), store.count(cls)),
    };
    const state = desiredState(view, host);
    expect(Object.values(state.bridges).some((b) => b.vifs.length)).to.equal(true);
    expect([...read].sort()).to.deep.equal([...DESIRED_CLASSES].sort());
  });
});
