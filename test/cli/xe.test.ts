import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness } from '../helpers/harness.js';

const XE = fileURLToPath(new URL('../../src/cli/xe.js', import.meta.url));
const run = promisify(execFile);

describe('xe-netd CLI', () => {
  let h: Harness;
  let xe: (...args: string[]) => Promise<{ out: string; err: string; code: number }>;
  before(async () => {
    h = await startHarness();
    xe = async (...args) => {
      try {
        const r = await run(process.execPath, [XE, ...args], { env: { ...process.env, XE_NETD_URL: `${h.url}/` } });
        return { out: r.stdout, err: r.stderr, code: 0 };
      } catch (e: any) {
        return { out: e.stdout, err: e.stderr, code: e.code };
      }
    };
  });
  after(() => h.close());

  it('CLI-01 pif-list filters by field and prints xe-style records', async () => {
    const r = await xe('pif-list', 'device=eth0', 'params=device,management,IP');
    expect(r.code).to.equal(0);
    expect(r.out).to.equal('    device ( RO): eth0\nmanagement ( RO): true\n        IP ( RO): 192.0.2.10\n\n');
  });

  it('CLI-02 network-create, bond-create by uuids, then the management IP sits on the bond', async () => {
    const net = (await xe('network-create', 'name-label=MGT')).out.trim();
    expect(net).to.match(/^[0-9a-f-]{36}$/);
    const uuid = async (dev: string) => String((await h.call('PIF.get_record', h.pif(dev))).uuid);
    const r = await xe('bond-create', `network-uuid=${net}`, `members-uuids=${await uuid('eth0')},${await uuid('eth3')}`, 'mode=active-backup');
    expect(r.code, r.err).to.equal(0);
    const bondRef = await h.call('Bond.get_by_uuid', r.out.trim());
    const bond = await h.call('Bond.get_record', bondRef);
    expect(bond.mode).to.equal('active-backup');
    const master = await h.call('PIF.get_record', bond.master);
    expect([master.device, master.management, master.IP]).to.deep.equal(['bond0', true, '192.0.2.10']);
    expect((await xe('bond-destroy', `uuid=${r.out.trim()}`)).code).to.equal(0);
    expect(await h.call('Bond.get_all')).to.deep.equal([]);
  });

  it('CLI-03 a XenAPI failure is printed with its code and exits 1', async () => {
    const net = (await xe('network-create', 'name-label=X')).out.trim();
    const eth1 = String((await h.call('PIF.get_record', h.pif('eth1'))).uuid);
    const r = await xe('bond-create', `network-uuid=${net}`, `members-uuids=${eth1}`, 'mac=zz');
    expect(r.code).to.equal(1);
    expect(r.err.trim()).to.equal('Error: MAC_INVALID zz');
  });

  it('CLI-04 param-get reads one field, param-set writes an RW field', async () => {
    const net = (await xe('network-create', 'name-label=Y')).out.trim();
    expect((await xe('network-param-set', `uuid=${net}`, 'name-description=hello')).code).to.equal(0);
    expect((await xe('network-param-get', `uuid=${net}`, 'param-name=name-description')).out).to.equal('hello\n');
  });
});
