// Pool traffic over HTTPS: master and slave serve TLS (--tls-cert/--tls-key, one self-signed
// certificate for 127.0.0.1 made by openssl for the test); the slave trusts it with --pool-ca,
// so the registration, the start-up sync and the master's forwarding all travel encrypted and
// verified. Without the CA the slave cannot reach the master at all.
import { expect } from 'chai';
import { join } from 'node:path';
import { trustPoolCa } from '../../src/pool/rpc.js';
import { cleanupDirs, startNode, tempDir, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';
import { selfSignedCert } from '../helpers/tls.js';

describe('pool over HTTPS (--tls-cert, --pool-ca)', function () {
  this.timeout(30_000);
  let dir: string;
  const running: Node[] = [];
  before(() => {
    dir = tempDir();
    selfSignedCert(dir, 'xenapi-netd-test', 'IP:127.0.0.1');
  });
  afterEach(async () => {
    for (const n of running.splice(0)) await n.stop();
  });
  after(() => {
    trustPoolCa(undefined); // the trust store is per process: leave it as the other tests expect
    cleanupDirs();
  });
  const tlsConfig = () => ({ tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') });

  it('POOL-TLS-01 a slave with --pool-ca registers over https, syncs, and the master forwards a bond to it over https', async () => {
    const m = await startNode({ h: 0, db: join(dir, 'm1.db'), config: tlsConfig() });
    running.push(m);
    expect(m.url).to.match(/^https:\/\//);
    const s = await startNode({ h: 1, db: join(dir, 's1.db'), master: m.url, config: { ...tlsConfig(), poolCa: join(dir, 'cert.pem') } });
    running.push(s);
    await until('slave start-up sync over https', () => (s.pool.agent?.syncs ?? 0) >= 1, 10_000);
    expect(m.r.store.count('host')).to.equal(2);
    const slaveHost = m.r.store.byUuid('host', String(s.r.store.get('host', s.r.d.hostRef).uuid));
    const pif = (dev: string) => [...m.r.store.rows('PIF')].find(([, p]) => p.host === slaveHost && p.device === dev && p.physical)![0];
    const net = await m.call<string>('network.create', { name_label: 'B', name_description: '', other_config: {} });
    // The management PIF is a member, so the bond is plugged (the seed's rule) and reaches the slave's host.
    await m.call('Bond.create', net, [pif('eth0'), pif('eth3')], '', 'active-backup', {});
    const bridge = String(m.r.store.get('network', net).bridge);
    expect((await s.backend.read()).bridges[bridge]?.uplink).to.deep.include({ kind: 'bond', members: ['eth0', 'eth3'], mode: 'active-backup' });
  });

  it('POOL-TLS-02 without the CA a slave cannot verify the master and stays unregistered', async () => {
    trustPoolCa(undefined);
    const m = await startNode({ h: 0, db: join(dir, 'm2.db'), config: tlsConfig() });
    running.push(m);
    const s = await startNode({ h: 1, db: join(dir, 's2.db'), master: m.url });
    running.push(s);
    await new Promise((r) => setTimeout(r, 800));
    expect(s.pool.agent?.syncs ?? 0).to.equal(0);
    expect(m.r.store.count('host')).to.equal(1);
  });
});
