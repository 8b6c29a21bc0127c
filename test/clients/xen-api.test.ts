// The npm `xen-api@4.7.6` client (Xen Orchestra's XAPI connector, unmodified) in JSON-RPC and
// in XML-RPC mode against a harness daemon on loopback: connect, fill its event-fed object
// cache, see another session's network appear, query, run an Async call, disconnect.
import { expect } from 'chai';
import { createClient } from 'xen-api';
import { startHarness, type Harness } from '../helpers/harness.js';

type Obj = Record<string, any> & { $type: string; $ref: string };

async function waitFor<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const transport of ['json-rpc', 'xml-rpc'] as const) {
  describe(`clients/xen-api@4.7.6 (${transport})`, () => {
    let h: Harness;
    let xapi: any;
    const warnings: unknown[][] = [];
    const origWarn = console.warn;
    const byType = (t: string): Obj[] => Object.values(xapi.objects.all as Record<string, Obj>).filter((o) => o.$type === t);

    before(async () => {
      h = await startHarness();
      console.warn = (...a: unknown[]) => {
        warnings.push(a);
      };
      xapi = createClient({ url: h.url, auth: { user: 'root', password: 'secret' }, transport });
    });
    after(async () => {
      console.warn = origWarn;
      await h?.close();
    });

    it('connects and fills its object cache with the pool, host, six PIFs and six networks', async () => {
      await xapi.connect();
      expect(xapi.status).to.equal('connected');
      expect(xapi.pool.$ref).to.equal(h.r.d.poolRef);
      await xapi.objectsFetched;
      expect(byType('pool').map((o) => o.$ref)).to.deep.equal([h.r.d.poolRef]);
      expect(byType('host').map((o) => o.$ref)).to.deep.equal([h.r.d.hostRef]);
      expect(
        byType('PIF')
          .map((o) => o.device)
          .sort(),
      ).to.deep.equal(['eth0', 'eth1', 'eth2', 'eth3', 'eth4', 'eth5']);
      expect(
        byType('network')
          .map((o) => o.bridge)
          .sort(),
      ).to.deep.equal(['xenbr0', 'xenbr1', 'xenbr2', 'xenbr3', 'xenbr4', 'xenbr5']);
      const master = xapi.getObjectByRef(xapi.pool.master);
      expect(master.$type).to.equal('host');
      expect(String(master.API_version_major)).to.equal('2');
      const mgmt = byType('PIF').find((p) => p.management);
      expect(mgmt?.device).to.equal('eth0');
      expect(mgmt?.IP).to.equal('192.0.2.10');
      expect(mgmt?.$network?.bridge).to.equal('xenbr0');
    });

    it('its event loop runs: an event.from came back and no watch error was logged', async () => {
      await waitFor('first event.from reply', () => xapi.lastEventFetchedTimestamp);
      expect(xapi.watchEventsError).to.equal(undefined);
      expect(warnings).to.deep.equal([]);
    });

    it('sees the add event of a network created by another session', async () => {
      const t0 = Date.now();
      const ref = await h.call<string>('network.create', { name_label: `from-other-${transport}`, other_config: { automatic: 'false' } });
      const obj = await waitFor('the network in the cache', () => xapi.getObjectByRef(ref, undefined) as Obj | undefined, 5000);
      expect(Date.now() - t0).to.be.lessThan(3000);
      expect(obj.name_label).to.equal(`from-other-${transport}`);
      expect(obj.other_config).to.deep.equal({ automatic: 'false' });
      expect(obj.uuid).to.equal(await h.call('network.get_uuid', ref));
      await h.call('network.set_name_description', ref, 'modded');
      await waitFor('the mod in the cache', () => xapi.getObjectByRef(ref).name_description === 'modded', 5000);
      await h.call('network.destroy', ref);
      await waitFor('the del in the cache', () => xapi.getObjectByRef(ref, undefined) === undefined, 5000);
    });

    it('calls PIF.get_all_records_where through the client', async () => {
      const recs = await xapi.call('PIF.get_all_records_where', 'field "management" = "true"');
      expect(Object.keys(recs)).to.deep.equal([h.pif('eth0')]);
      const rec = recs[h.pif('eth0')];
      expect(rec.device).to.equal('eth0');
      expect(String(rec.MTU)).to.equal('1500');
      expect(rec.management).to.equal(true);
    });

    it('reports a XenAPI failure as a XapiError with code and params', async () => {
      try {
        await xapi.call('PIF.get_record', 'OpaqueRef:NULL');
        throw new Error('no error');
      } catch (e: any) {
        expect([e.code, e.params]).to.deep.equal(['HANDLE_INVALID', ['PIF', 'OpaqueRef:NULL']]);
      }
    });

    it('runs callAsync("network.create") through a task watched in its cache and gets the ref back', async () => {
      const ref = await xapi.callAsync('network.create', { name_label: `async-${transport}`, name_description: '', other_config: {} });
      expect(ref).to.match(/^OpaqueRef:[0-9a-f-]{36}$/);
      expect(await h.call('network.get_name_label', ref)).to.equal(`async-${transport}`);
      // callAsync destroys the task once it has settled.
      await waitFor('task destroyed', () => h.r.store.count('task') === 0, 5000);
    });

    it('a failing callAsync rejects with the task error_info', async () => {
      try {
        await xapi.callAsync('network.destroy', 'OpaqueRef:NULL');
        throw new Error('no error');
      } catch (e: any) {
        expect([e.code, e.params]).to.deep.equal(['HANDLE_INVALID', ['network', 'OpaqueRef:NULL']]);
      }
    });

    it('disconnects, logging its session out', async () => {
      const sessions = h.r.store.count('session');
      await xapi.disconnect();
      expect(xapi.status).to.equal('disconnected');
      await waitFor('session logged out', () => h.r.store.count('session') === sessions - 1, 5000);
      expect(warnings).to.deep.equal([]);
    });
  });
}
