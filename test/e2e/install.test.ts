// The install path (issue 11 §1): `systemd-analyze verify` on the unit file, `npm pack` of the
// package installed globally into a scratch prefix, and the installed `xenapi-netd` bin started
// (and its `wait-ready`, the unit's readiness check, answered; without the addons, which the
// package does not carry, a bulk reply is still served). `--help` names every flag
// parseArgs knows and every sub-command.
//
// What the package test cannot show here: npm installs from a registry on 127.0.0.1 serving this
// checkout's own production dependencies (local-registry.ts; tests never reach the internet),
// with --ignore-scripts, and the native better-sqlite3 build this checkout made is copied into
// the install: compiling it again would take minutes on a loaded CI machine and is npm's
// business, not ours. systemd itself is not PID 1 in this container, so the
// unit is verified, not started.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { USAGE } from '../../src/config.js';
import { startLocalRegistry } from './local-registry.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const UNIT = join(REPO, 'systemd', 'xenapi-netd.service');

describe('install: systemd unit, npm package, --help', function () {
  this.timeout(180000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'xnd-install-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('systemd-analyze verify accepts xenapi-netd.service (and rejects a broken copy, so the check can fail)', async () => {
    const ok = await execa('systemd-analyze', ['verify', UNIT], { reject: false });
    expect(ok.exitCode, ok.stderr).to.equal(0);
    expect(ok.stderr).to.equal('');
    const text = readFileSync(UNIT, 'utf8');
    expect(text).to.match(/^Restart=on-failure$/m);
    expect(text).to.match(/^StateDirectory=xenapi-netd$/m);
    expect(text).to.match(/^ExecStart=.*--db \/var\/lib\/xenapi-netd\/xenapi-netd\.db/m);
    expect(text).to.match(/^ExecStartPost=.*wait-ready/m);
    const broken = join(tmp, 'xenapi-netd.service');
    writeFileSync(broken, text.replace('Restart=on-failure', 'Restart=sometimes'));
    const bad = await execa('systemd-analyze', ['verify', broken], { reject: false });
    expect(bad.stderr).to.match(/restart specifier/i);
  });

  it('--help lists every flag parseArgs accepts and the sub-commands', () => {
    const src = readFileSync(join(REPO, 'src', 'config.ts'), 'utf8');
    const flags = [...src.matchAll(/case '(--[a-z-]+)'/g)].map((m) => m[1]);
    expect(flags.length).to.be.greaterThan(15);
    for (const f of flags) expect(USAGE, f).to.contain(f);
    for (const sub of ['hash-password', 'wait-ready', '--help']) expect(USAGE).to.contain(`xenapi-netd ${sub}`);
  });

  it('npm pack → npm install -g into a scratch prefix → the installed xenapi-netd starts, wait-ready answers, SIGTERM stops it', async () => {
    const pack = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: REPO });
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const paths = info.files.map((f) => f.path);
    expect(paths).to.include.members(['dist/src/main.js', 'dist/src/cli/xe.cjs', 'systemd/xenapi-netd.service', 'docs/install.md', 'package.json']);
    expect(
      paths.some((p) => p.startsWith('dist/test/') || p.startsWith('src/') || p.startsWith('test/')),
      'no tests or sources in the package',
    ).to.equal(false);
    const prefix = join(tmp, 'prefix');
    const reg = await startLocalRegistry(REPO, join(tmp, 'registry'));
    try {
      await execa(
        'npm',
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--registry',
          reg.url,
          '--cache',
          join(tmp, 'npm-cache'),
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
          join(tmp, info.filename),
        ],
        { cwd: tmp },
      );
    } finally {
      await reg.close();
    }
    const pkg = join(prefix, 'lib', 'node_modules', 'xenapi-netd');
    const native = join(pkg, 'node_modules', 'better-sqlite3', 'build');
    if (!existsSync(join(native, 'Release', 'better_sqlite3.node'))) cpSync(join(REPO, 'node_modules', 'better-sqlite3', 'build'), native, { recursive: true });
    const bin = join(prefix, 'bin', 'xenapi-netd');
    expect((await execa(bin, ['--help'])).stdout).to.contain('hash-password');
    expect((await execa(join(prefix, 'bin', 'xe-netd'), ['help'], { reject: false })).exitCode).to.not.equal(127);
    const hash = (await execa(bin, ['hash-password', 'pw'])).stdout;
    expect(hash).to.match(/^scrypt\$/);
    writeFileSync(join(tmp, 'users.json'), JSON.stringify([{ name: 'root', hash }]));

    const port = 20000 + Math.floor(Math.random() * 20000);
    const opts = ['--listen', `127.0.0.1:${port}`];
    const child = spawn(bin, ['--db', join(tmp, 'state', 'x.db'), '--users', join(tmp, 'users.json'), ...opts], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b));
    child.stderr!.on('data', (b: Buffer) => (out += b));
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    try {
      const ready = await execa(bin, ['wait-ready', ...opts, '--timeout', '60'], { reject: false });
      expect(ready.exitCode, `${ready.stderr}\n${out}`).to.equal(0);
      const r = await fetch(`http://127.0.0.1:${port}/jsonrpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'session.login_with_password', params: ['root', 'pw', '1.0', 'install-test'] }),
      });
      const j = (await r.json()) as { result?: string };
      expect(j.result, JSON.stringify(j)).to.match(/^OpaqueRef:/);
      // The package carries no addons (dist/native/ is not in it): bulk replies are assembled in JavaScript, and the log says so once.
      const all = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: `<?xml version="1.0"?><methodCall><methodName>PIF.get_all_records</methodName><params><param><value>${j.result}</value></param></params></methodCall>`,
      });
      const body = await all.text();
      expect(body, body.slice(0, 500)).to.match(
        /^<\?xml version="1.0"\?><methodResponse><params><param><value><struct><member><name>Status<\/name><value>Success<\/value>/,
      );
      expect(body.match(/<member><name>device<\/name>/g)).to.have.length(6);
      expect(out.match(/bulk XML-RPC replies are assembled in JavaScript/g), out).to.have.length(1);
      expect(existsSync(join(tmp, 'state', 'x.db'))).to.equal(true);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, out).to.equal(0);
    expect(out).to.contain('SIGTERM: stopping');
    // wait-ready gives up on a port nobody serves
    const none = await execa(bin, ['wait-ready', '--listen', `127.0.0.1:${port}`, '--timeout', '1'], { reject: false });
    expect(none.exitCode).to.equal(1);
    expect(none.stderr).to.contain('no daemon answered');
  });
});
