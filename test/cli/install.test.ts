// The README's set-up, done the documented way: `make install-cli` (npm link into a prefix, bash
// completion into a directory), then `xe-netd ...` typed as the docs type it, from PATH, and its
// completion loaded the way bash-completion loads it.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness } from '../helpers/harness.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);

describe('xe-netd installed on PATH (make install-cli)', function () {
  this.timeout(120_000);
  let h: Harness;
  let prefix: string;
  before(async () => {
    h = await startHarness();
    prefix = mkdtempSync(join(tmpdir(), 'xnd-prefix-'));
    mkdirSync(join(prefix, 'bash_completion.d'));
    // `build` was made by `make test` already; -o keeps make from running tsc again.
    await run('make', ['-s', '-o', 'build', 'install-cli', `PREFIX=${prefix}`, `BASH_COMPLETION_DIR=${join(prefix, 'bash_completion.d')}`], { cwd: ROOT });
  });
  after(async () => {
    await h.close();
    rmSync(prefix, { recursive: true, force: true });
  });

  it("CLI-INSTALL-01 `xe-netd` and `xenapi-netd` are on PATH and the docs' command lines run as typed", async () => {
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, XE_NETD_URL: `${h.url}/`, XDG_RUNTIME_DIR: prefix };
    const r = await run(
      'bash',
      [
        '-c',
        "set -e -o pipefail; command -v xe-netd; xe-netd pif-list management=true params=uuid,device,IP | awk 'NR == 2 { print $4 }'; xenapi-netd --help >/dev/null 2>&1 || true",
      ],
      { env },
    );
    const [path, dev] = r.stdout.trim().split('\n');
    expect(path).to.equal(join(prefix, 'bin', 'xe-netd'));
    expect(dev).to.equal('eth0');
    expect(existsSync(join(prefix, 'bin', 'xenapi-netd'))).to.equal(true);
  });

  it('CLI-INSTALL-02 the installed bash completion completes xe-netd commands', async () => {
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, XE_NETD_URL: `${h.url}/`, XDG_RUNTIME_DIR: prefix };
    const script = `source "${join(prefix, 'bash_completion.d', 'xe-netd')}"; complete -p xe-netd; COMP_LINE='xe-netd vlan-cr'; COMP_POINT=\${#COMP_LINE}; _xe_netd; echo "\${COMPREPLY[@]}"`;
    const r = await run('bash', ['-c', script], { env });
    expect(r.stdout).to.equal('complete -F _xe_netd xe-netd\nvlan-create\n');
  });

  it("CLI-INSTALL-03 the README's xe-netd block runs as typed after its set-up", async () => {
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, XE_NETD_URL: `${h.url}/`, XDG_RUNTIME_DIR: prefix };
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('xe-netd bond-create'))!;
    const lines = block.split('\n').filter((l) => l.trim() && !l.startsWith('make install-cli')); // done in before()
    const r = await run('bash', ['-c', ['set -e -o pipefail', ...lines].join('\n')], { env });
    expect(r.stdout).to.match(/device \( RO\): eth0\n/);
    expect(r.stdout.trim().split('\n').pop()).to.match(/^[0-9a-f-]{36}$/);
    expect(await h.call('Bond.get_all')).to.have.length(1);
  });
});
