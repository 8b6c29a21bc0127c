// xe-netd's pool commands against in-process daemons on 127.0.0.1 (master) and 127.0.0.2 (the
// other host), one port: pool-join run on the standalone host, then commands there followed to
// the master (HOST_IS_SLAVE), pool-eject, and pool-designate-new-master (which the daemon does not have).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { cleanupDirs, startNode, tempDir, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';
import { portFreeOnBoth } from '../helpers/ports.js';

const XE = fileURLToPath(new URL('../../src/cli/xe.cjs', import.meta.url));
const run = promisify(execFile);

describe('xe-netd pool commands', function () {
  this.timeout(60_000);
  let m: Node;
  let s: Node;
  let port: number;
  let runtime: string;
  const xe = async (host: 1 | 2, ...args: string[]) => {
    const env = { ...process.env, XE_NETD_URL: `http://127.0.0.${host}:${port}/`, XDG_RUNTIME_DIR: runtime };
    try {
      const r = await run(process.execPath, [XE, ...args], { env });
      return { out: r.stdout, err: r.stderr, code: 0 };
    } catch (e: any) {
      return { out: e.stdout as string, err: e.stderr as string, code: e.code as number };
    }
  };
  /** xe with `input` on its standard input (then closed), as an operator answering a prompt. */
  const xeIn = (host: 1 | 2, input: string, ...args: string[]) =>
    new Promise<{ out: string; err: string; code: number }>((resolve) => {
      const env = { ...process.env, XE_NETD_URL: `http://127.0.0.${host}:${port}/`, XDG_RUNTIME_DIR: runtime };
      const child = execFile(process.execPath, [XE, ...args], { env }, (e, out, err) => resolve({ out, err, code: e ? Number(e.code) : 0 }));
      child.stdin!.end(input);
    });
  const WARN =
    "WARNING: Ejecting a host from the pool will reinitialise that host's local SRs.\nWARNING: Any data contained with the local SRs will be lost.\nType 'yes' to continue\n";
  before(async () => {
    const dir = tempDir();
    runtime = mkdtempSync(join(tmpdir(), 'xnd-xepool-'));
    port = await portFreeOnBoth();
    m = await startNode({ h: 0, db: join(dir, 'm.db'), config: { host: '127.0.0.1', port } });
    s = await startNode({ h: 1, db: join(dir, 's.db'), config: { host: '127.0.0.2', port } });
  });
  after(async () => {
    await s?.stop();
    await m?.stop();
    cleanupDirs();
    rmSync(runtime, { recursive: true, force: true });
  });

  it('CLI-POOL-01 pool-join on a standalone host; its commands then reach the master (HOST_IS_SLAVE followed, kept session replaced)', async () => {
    expect((await xe(2, 'host-list', '--minimal')).out.split(',')).to.have.length(1);
    const bad = await xe(2, 'pool-join', `master-address=${m.url}`, 'master-username=root', 'master-password=wrong');
    expect(bad.code).to.equal(1);
    const r = await xe(2, 'pool-join', `master-address=${m.url}`, 'master-username=root', 'master-password=secret');
    expect([r.code, r.out]).to.deep.equal([0, 'Host agent will restart and attempt to join pool in 10.000 seconds...\n']);
    await until('joined', () => s.pool.isSlave && m.r.store.count('host') === 2, 10_000);
    const hosts = await xe(2, 'host-list', 'params=name-label', '--minimal');
    expect(hosts.code, hosts.err).to.equal(0);
    expect(hosts.out.trim().split(',').sort()).to.deep.equal(['host0', 'host1']);
  });

  it('CLI-POOL-02 pool-eject host-uuid= makes the host standalone again; pool-designate-new-master reports the daemon has no such message', async () => {
    const uuid = (await xe(1, 'host-list', 'name-label=host1', 'params=uuid', '--minimal')).out.trim();
    const d = await xe(1, 'pool-designate-new-master', `host-uuid=${uuid}`);
    // The daemon has no pool.designate_new_master (docs/cli.md, docs/compat.md): xe reports the
    // server's MESSAGE_METHOD_UNKNOWN and exits 1, and both hosts keep their roles.
    expect(d).to.deep.equal({ out: '', err: 'No API method has this name.\nmethod: pool.designate_new_master\n', code: 1 });
    expect([m.pool.isSlave, s.pool.isSlave]).to.deep.equal([false, true]);
    // Without --force xe warns and asks (cli_operations.ml pool_eject): anything but "yes" aborts,
    // and a closed input is xe's End_of_file (exit 1); the host stays in the pool either way.
    expect(await xeIn(1, 'no\n', 'pool-eject', `host-uuid=${uuid}`)).to.deep.equal({ out: `${WARN}Aborted (you typed: 'no')\n`, err: '', code: 0 });
    expect(await xeIn(1, '', 'pool-eject', `host-uuid=${uuid}`)).to.deep.equal({ out: WARN, err: 'Lost connection to the server.\n', code: 1 });
    expect(s.pool.isSlave).to.equal(true);
    const r = await xe(1, 'pool-eject', `host-uuid=${uuid}`, '--force');
    expect([r.code, r.out], r.err).to.deep.equal([0, 'Specified host will attempt to restart as a master of a new pool in 10.000 seconds...\n']);
    await until('standalone', () => !s.pool.isSlave, 10_000);
    expect((await xe(1, 'host-list', 'params=name-label', '--minimal')).out).to.equal('host0\n');
  });

  it('CLI-POOL-03 pool-eject answered "yes" at its prompt ejects the host, as with --force', async () => {
    const j = await xe(2, 'pool-join', `master-address=${m.url}`, 'master-username=root', 'master-password=secret');
    expect(j.code, j.err).to.equal(0);
    await until('joined again', () => s.pool.isSlave && m.r.store.count('host') === 2, 10_000);
    const uuid = (await xe(1, 'host-list', 'name-label=host1', 'params=uuid', '--minimal')).out.trim();
    expect(await xeIn(1, ' Yes\n', 'pool-eject', `host-uuid=${uuid}`)).to.deep.equal({
      out: `${WARN}Specified host will attempt to restart as a master of a new pool in 10.000 seconds...\n`,
      err: '',
      code: 0,
    });
    await until('standalone', () => !s.pool.isSlave, 10_000);
  });
});
