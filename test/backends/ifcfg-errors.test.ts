// What an operator reads when augeas fails (issue 11 §3): the file and augeas' own error, not
// "saving failed (run 'errors' for details)"; and a host without augtool is told at start that
// augeas-tools is missing.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError, type Step } from '../../src/backends/backend.js';
import { AUGTOOL_MISSING, augeasErrors, checkAugtool, IfcfgBackend, SCRIPTS_DIR } from '../../src/backends/ifcfg.js';

const NICS = [{ device: 'eth0', MAC: '02:00:00:00:00:01', MTU: 1500, carrier: true }];
const PLAN: Step[] = [
  { op: 'bridge.add', bridge: 'xenbr0', MTU: 1500 },
  { op: 'uplink.add', bridge: 'xenbr0', uplink: { kind: 'nic', device: 'eth0' } },
];

describe('ifcfg: augeas errors name the file; augtool missing', () => {
  const roots: string[] = [];
  const root = () => {
    const r = mkdtempSync(join(tmpdir(), 'xnd-augerr-'));
    roots.push(r);
    return r;
  };
  after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

  it('a tree the lens cannot write: BackendError names ifcfg-xenbr0 and put_failed, nothing left behind', async () => {
    const r = root();
    const b = new IfcfgBackend({ root: r, nics: NICS, editCommands: (l) => [...l.slice(0, -1), `set /files/${SCRIPTS_DIR}/ifcfg-xenbr0/A/B c`, 'save'] });
    const e = await b.apply(PLAN).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(BackendError);
    expect((e as Error).message).to.match(/\/etc\/sysconfig\/network-scripts\/ifcfg-xenbr0: put_failed: Failed to match tree/);
    expect((e as Error).message).to.not.match(/run 'errors' for details/);
    expect(readdirSync(join(r, SCRIPTS_DIR))).to.deep.equal([]);
  });

  it('a directory where a file must go: the file is named', async () => {
    const r = root();
    mkdirSync(join(r, SCRIPTS_DIR, 'ifcfg-eth0'), { recursive: true });
    const e = await new IfcfgBackend({ root: r, nics: NICS }).apply(PLAN).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as Error).message).to.match(/ifcfg-eth0/);
  });

  it('augeasErrors reads parse and put errors from augtool output', () => {
    const out = 'Error in /etc/sysconfig/network-scripts/ifcfg-bad:1.1 (parse_failed)\n  Syntax error\n  Lens: x\nerror: Failed to execute command\n';
    expect(augeasErrors(out)).to.deep.equal(['/etc/sysconfig/network-scripts/ifcfg-bad line 1: parse_failed: Syntax error']);
  });

  it('no augtool: "augeas-tools is not installed" (at start, through createBackend, and from apply)', async () => {
    let e = await checkAugtool('/nonexistent/augtool').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as Error).message).to.equal(AUGTOOL_MISSING);
    expect(AUGTOOL_MISSING).to.match(/^augeas-tools is not installed/);
    await checkAugtool(); // the real one is installed here
    e = await new IfcfgBackend({ root: root(), nics: NICS, augtool: '/nonexistent/augtool' }).apply(PLAN).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as Error).message).to.contain('augeas-tools is not installed');
    expect((e as Error).message).to.not.contain('augtool exited undefined');
  });
});
