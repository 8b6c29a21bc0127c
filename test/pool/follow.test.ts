// Real clients and HOST_IS_SLAVE: the master listens on 127.0.0.1:P and a slave on 127.0.0.2:P
// (two loopback addresses, one port, as two hosts would), so a client pointed at the slave is
// sent to the master by the address HOST_IS_SLAVE carries.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'xen-api';
import { cleanupDirs, startNode, tempDir, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';
import { portFreeOnBoth } from '../helpers/ports.js';

describe('pool: clients follow HOST_IS_SLAVE', function () {
  this.timeout(30_000);
  let m: Node;
  let s: Node;
  before(async () => {
    const dir = tempDir();
    const port = await portFreeOnBoth();
    m = await startNode({ h: 0, db: join(dir, 'm.db'), config: { host: '127.0.0.1', port } });
    s = await startNode({ h: 1, db: join(dir, 's.db'), master: m.url, config: { host: '127.0.0.2', port } });
    await until('slave start-up sync', () => (s.pool.agent?.syncs ?? 0) >= 1, 10_000);
  });
  after(async () => {
    await s?.stop();
    await m?.stop();
    cleanupDirs();
  });

  it('POOL-FOLLOW-01 xen-api pointed at the slave follows HOST_IS_SLAVE to the master (a slave answers nothing else) and sees both hosts', async () => {
    const xapi = createClient({ url: s.url, auth: { user: 'root', password: 'secret' }, allowUnauthorized: true, transport: 'json-rpc', watchEvents: false });
    try {
      await xapi.connect();
      const hosts = (await xapi.call('host.get_all_records')) as Record<string, { name_label: string }>;
      expect(
        Object.values(hosts)
          .map((h) => h.name_label)
          .sort(),
      ).to.deep.equal(['host0', 'host1']);
    } finally {
      await xapi.disconnect();
    }
  });

  it("POOL-FOLLOW-02 Debian's XenAPI.py gets the Failure HOST_IS_SLAVE with the master's address", async () => {
    const script = [
      'from os_xenapi.client import XenAPI',
      'import sys',
      `s = XenAPI.Session("${s.url}/")`,
      'try:',
      '    s.xenapi.login_with_password("root", "secret")',
      '    print("logged in")',
      'except XenAPI.Failure as f:',
      '    print(f.details)',
    ].join('\n');
    const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script]);
    expect(stdout.trim()).to.equal("['HOST_IS_SLAVE', '127.0.0.1']");
  });
});
