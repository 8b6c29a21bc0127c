// Debian's python3-os-xenapi (XenAPI.py, XML-RPC, typed pretty-printed requests, eager
// API-version probe at login) drives a harness daemon on loopback; the output is exact.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/harness.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../../test/clients/os_xenapi_client.py', import.meta.url));
const PY = '/usr/bin/python3';

describe('clients/os_xenapi (Debian python3-os-xenapi)', () => {
  let h: Harness;
  before(async function () {
    if (!existsSync('/usr/lib/python3/dist-packages/os_xenapi/client/XenAPI.py')) {
      throw new Error('python3-os-xenapi is not installed (make test-deps installs it)');
    }
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('logs in, lists PIFs, filters, creates a network, gets Failures, runs an Async task, re-logs in, logs out', async () => {
    const { stdout, stderr } = await run(PY, [SCRIPT, `${h.url}/`, 'root', 'secret'], { timeout: 30_000 });
    expect(stderr).to.equal('');
    expect(stdout).to.equal(
      [
        'API_version 2.23',
        'PIF.get_all_records 6',
        "devices ['eth0', 'eth1', 'eth2', 'eth3', 'eth4', 'eth5']",
        'types str bool',
        "management ['eth0'] ['192.0.2.10']",
        'network.create True',
        "network.get_record py-net made by os_xenapi 9000 {'from': 'python'} [] [] True",
        'network.get_by_name_label True',
        "Failure ['HANDLE_INVALID', 'PIF', 'OpaqueRef:NULL']",
        'Failure MAP_DUPLICATE_KEY network other_config True from',
        'Async.network.create success True py-async',
        'after server-side logout 1 True',
        'logout None',
        '',
      ].join('\n'),
    );
    expect(await h.call('network.get_by_name_label', 'py-net')).to.deep.equal([]);
  });

  it('works the same when the URL has no path (POST /RPC2)', async () => {
    const { stdout } = await run(
      PY,
      [
        '-c',
        [
          'import sys',
          'from os_xenapi.client import XenAPI',
          's = XenAPI.Session(sys.argv[1])',
          's.xenapi.login_with_password("root", "secret")',
          'print(s.API_version, len(s.xenapi.network.get_all()))',
          's.xenapi.session.logout()',
        ].join('\n'),
        h.url,
      ],
      { timeout: 30_000 },
    );
    expect(stdout).to.equal('2.23 6\n');
  });

  it('a wrong password is a Failure with SESSION_AUTHENTICATION_FAILED', async () => {
    const { stdout } = await run(
      PY,
      [
        '-c',
        [
          'import sys',
          'from os_xenapi.client import XenAPI',
          's = XenAPI.Session(sys.argv[1])',
          'try:',
          '    s.xenapi.login_with_password("root", "nope")',
          'except XenAPI.Failure as f:',
          '    print(f.details)',
        ].join('\n'),
        h.url,
      ],
      { timeout: 30_000 },
    );
    expect(stdout).to.equal("['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']\n");
  });
});
