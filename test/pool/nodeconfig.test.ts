// Issue 11 §4: the managed node controller on a pool slave. A slave's own database is not the
// pool's, so POST /ifcfg/config on it answers 307 with the master's URL (path and query kept);
// a client that follows it (fetch re-sends the POST body on a 307) gets the master's answer, which
// is the configuration of the member the report identifies — here the slave itself, by its MACs.
import { expect } from 'chai';
import { join } from 'node:path';
import { SCRIPTS_DIR } from '../../src/backends/ifcfg.js';
import { poolFixture, synced } from '../helpers/running.js';
import { inventory } from '../helpers/nodes.js';
import { xapiCall } from '../../src/pool/rpc.js';

describe('pool: POST /ifcfg/config on a slave', function () {
  this.timeout(30_000);
  const fx = poolFixture();

  it("POOL-NODECFG-01 a slave redirects (307) to the master, which answers with the slave host's configuration", async () => {
    const m = await fx.start({ h: 0, db: join(fx.dir, 'm.db') });
    const s = await fx.start({ h: 1, db: join(fx.dir, 's.db'), master: m.url });
    await synced(s);
    // The node is the slave's hardware: its NICs reported under the node's own names.
    const report = Object.fromEntries(inventory(1).map((n, i) => [n.MAC, `em${i + 1}`]));
    // A session of the pool (the master's): it survives the redirect in the query, where an
    // Authorization header would not (fetch drops it when the redirect changes origin).
    const session = await xapiCall<string>(m.url, 'session.login_with_password', ['root', 'secret']);
    const auth = {};
    const path = `/ifcfg/config?session_id=${encodeURIComponent(session)}`;

    const res = await fetch(`${s.url}${path}`, { method: 'POST', body: JSON.stringify(report), headers: auth, redirect: 'manual' });
    // Unauthenticated, a slave still only points at the master (it holds no pool sessions to check).
    expect((await fetch(`${s.url}/ifcfg/config`, { method: 'POST', body: '{}', redirect: 'manual' })).status).to.equal(307);
    expect(res.status).to.equal(307);
    expect(res.headers.get('location')).to.equal(`${m.url}${path}`);
    expect(await res.text()).to.match(/pool slave: ask the master/);

    // Followed (the body re-sent): the master identifies the slave by its MACs.
    const followed = await fetch(`${s.url}${path}`, { method: 'POST', body: JSON.stringify(report), headers: auth, redirect: 'follow' });
    const text = await followed.text();
    expect(followed.status, text).to.equal(200);
    expect(followed.url).to.equal(`${m.url}${path}`);
    expect(text).to.include(`set /files/${SCRIPTS_DIR}/ifcfg-xenbr0/IPADDR 192.0.2.11`);
    expect(text).to.include(`set /files/${SCRIPTS_DIR}/ifcfg-em1/HWADDR ${inventory(1)[0].MAC}`);
    expect(text).to.not.include('192.0.2.10');

    // The master's own answer for the same report is the same file.
    const direct = await fetch(`${m.url}${path}`, { method: 'POST', body: JSON.stringify(report), headers: auth });
    expect(await direct.text()).to.equal(text);
  });
});
