// Seed 000's node boot against the managed node controller (issue 11 §4), in a scratch root with
// bash and the real augtool: the node POSTs its MAC → device report, saves the reply as
// var/tmp/node-config, runs it with bash (which writes var/tmp/pre-config-script and
// var/tmp/node-augtool), and runs `augtool -r ROOT -f var/tmp/node-augtool`. The pre-config
// script is checked, not run (it loads a kernel module and writes /etc/modprobe.d).
// Boots: first boot (a stale ifcfg-xapi0 holding an address is removed), after a bond is added,
// after it is destroyed (bond files, bond0.50 and the pre-config script go; em1.50 comes), an
// unknown node (404), and the endpoint's authentication (none, session, node token).
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import xmlrpc from 'xmlrpc';
import { SCRIPTS_DIR } from '../../src/backends/ifcfg.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { TEST_USERS } from '../helpers/users.js';

const NAMES: Record<string, string> = { eth0: 'em1', eth1: 'em2', eth2: 'em3', eth3: 'em4', eth4: 'p1p1', eth5: 'p1p2' };
const REPORT = Object.fromEntries(DEMO_INVENTORY.map((n) => [n.MAC, NAMES[n.device]]));

describe('e2e: a node boots from the managed node controller (seed 000)', function () {
  this.timeout(60000);
  let r: Running;
  let manager: string;
  let node: string;
  let session: string;
  let client: xmlrpc.Client;
  const call = <T = any>(method: string, ...params: unknown[]): Promise<T> =>
    new Promise((resolve, reject) => {
      client.methodCall(method, [session, ...params], (err: unknown, v: any) => {
        if (err) return reject(err);
        if (v?.Status === 'Success') return resolve(v.Value);
        reject(new Error(`${method}: ${JSON.stringify(v?.ErrorDescription)}`));
      });
    });
  const pif = async (device: string) => {
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    return Object.keys(all).find((k) => all[k].device === device && all[k].VLAN === '-1')!;
  };
  const post = async (report: Record<string, string>, auth: { session?: string; bearer?: string } = { session }) => {
    const q = auth.session ? `?session_id=${encodeURIComponent(auth.session)}` : '';
    const res = await fetch(`${r.url}/ifcfg/config${q}`, {
      method: 'POST',
      body: JSON.stringify(report),
      headers: auth.bearer ? { authorization: `Bearer ${auth.bearer}` } : {},
      redirect: 'manual',
    });
    return { status: res.status, text: await res.text() };
  };
  const files = () =>
    Object.fromEntries(
      readdirSync(join(node, SCRIPTS_DIR))
        .sort()
        .map((f) => [f, readFileSync(join(node, SCRIPTS_DIR, f), 'utf8')]),
    );
  /** The node's boot steps 3-7 (seed 000) in the scratch root. */
  const boot = async (): Promise<Record<string, string>> => {
    const res = await post(REPORT);
    expect(res.status, res.text).to.equal(200);
    const tmp = join(node, 'var/tmp');
    writeFileSync(join(tmp, 'node-config'), res.text.replaceAll('/var/tmp/', `${tmp}/`));
    await execa('bash', [join(tmp, 'node-config')]);
    const aug = await execa('augtool', ['-r', node, '-f', join(tmp, 'node-augtool')], { reject: false, all: true });
    expect(aug.exitCode, aug.all).to.equal(0);
    expect(aug.all).to.not.match(/error|fail/i);
    return files();
  };
  const preConfig = () => join(node, 'var/tmp/pre-config-script');

  before(async () => {
    manager = mkdtempSync(join(tmpdir(), 'xnd-manager-'));
    node = mkdtempSync(join(tmpdir(), 'xnd-node-'));
    mkdirSync(join(node, SCRIPTS_DIR), { recursive: true });
    mkdirSync(join(node, 'var/tmp'), { recursive: true });
    writeFileSync(join(node, SCRIPTS_DIR, 'ifcfg-lo'), 'DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\n');
    // what an older boot left: the management IP on a bridge the manager no longer has
    writeFileSync(join(node, SCRIPTS_DIR, 'ifcfg-xapi0'), 'DEVICE=xapi0\nTYPE=Bridge\nIPADDR=192.0.2.10\nNETMASK=255.255.255.0\n');
    writeFileSync(preConfig(), '#!/bin/bash\nmodprobe bonding\n');
    const cfg: Config = {
      ...DEFAULTS,
      db: ':memory:',
      port: 0,
      authFailDelayMs: 10,
      hostname: 'manager',
      logLevel: 'error',
      backend: 'ifcfg',
      ifcfgRoot: manager,
      inventory: DEMO_INVENTORY,
      users: TEST_USERS,
    };
    r = await startDaemon(cfg, { log: makeLogger({ logLevel: 'error', logFile: '' }) });
    client = xmlrpc.createClient({ host: '127.0.0.1', port: r.port, path: '/' });
    session = await new Promise<string>((res, rej) =>
      client.methodCall('session.login_with_password', ['root', 'secret', '1.0', 't'], (e: unknown, v: any) => (e ? rej(e) : res(v.Value))),
    );
  });
  after(async () => {
    await r?.close();
    rmSync(manager, { recursive: true, force: true });
    rmSync(node, { recursive: true, force: true });
  });

  it("first boot: the node gets the manager's view under its own names; stale files and the old pre-config script go", async () => {
    const f = await boot();
    expect(Object.keys(f)).to.deep.equal(['ifcfg-em1', 'ifcfg-lo', 'ifcfg-xenbr0']);
    expect(f['ifcfg-em1'])
      .to.match(/^HWADDR=02:00:5e:00:53:10$/m)
      .and.match(/^BRIDGE=xenbr0$/m);
    expect(f['ifcfg-xenbr0']).to.match(/^IPADDR=192\.0\.2\.10$/m);
    expect(f['ifcfg-lo']).to.contain('127.0.0.1');
    expect(existsSync(preConfig()), 'no bond: no pre-config script').to.equal(false);
  });

  it('after a bond (em1+em4) with VLAN 50 is added on the manager: bond files, bond0.50, the pre-config script', async () => {
    const net = await call<string>('network.create', { name_label: 'bond', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    const bond = await call<string>('Bond.create', net, [await pif('eth0'), await pif('eth3')], '', 'lacp', {});
    const vnet = await call<string>('network.create', { name_label: 'v50', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    const master = await call<string>('Bond.get_master', bond);
    const vlan = await call<string>('VLAN.create', master, '50', vnet);
    await call('PIF.plug', await call<string>('VLAN.get_untagged_PIF', vlan));
    const f = await boot();
    const bridge = await call<string>('network.get_bridge', net);
    expect(Object.keys(f)).to.include.members(['ifcfg-bond0', 'ifcfg-bond0.50', 'ifcfg-em1', 'ifcfg-em4', `ifcfg-${bridge}`, 'ifcfg-lo']);
    expect(f).to.not.have.property('ifcfg-xenbr0');
    expect(f['ifcfg-em1']).to.match(/^MASTER=bond0$/m);
    expect(f['ifcfg-em4'])
      .to.match(/^MASTER=bond0$/m)
      .and.match(/^HWADDR=02:00:5e:00:53:13$/m);
    expect(f['ifcfg-bond0']).to.match(/^BONDING_OPTS="mode=802\.3ad /m);
    expect(f[`ifcfg-${bridge}`]).to.match(/^IPADDR=192\.0\.2\.10$/m);
    expect(readFileSync(preConfig(), 'utf8')).to.contain('alias bond0 bonding');
  });

  it('after the bond is destroyed: no bond files, em1.50 instead of bond0.50, the pre-config script removed, one file with the IP', async () => {
    await call('Bond.destroy', (await call<string[]>('Bond.get_all'))[0]);
    const f = await boot();
    expect(Object.keys(f).filter((n) => n.startsWith('ifcfg-bond'))).to.deep.equal([]);
    expect(f).to.have.property('ifcfg-em1.50');
    expect(f['ifcfg-em1']).to.not.match(/^MASTER=/m);
    expect(existsSync(preConfig())).to.equal(false);
    expect(Object.values(f).filter((t) => /^IPADDR=192\.0\.2\.10$/m.test(t))).to.have.length(1);
  });

  it('an unknown node is a 404 that says so; a report with a new NIC introduces it on the host', async () => {
    const res = await post({ '52:54:00:aa:bb:cc': 'eth0', '52:54:00:aa:bb:cd': 'eth1' });
    expect(res.status).to.equal(404);
    expect(res.text).to.match(/does not know the node/);
    const before = (await call<string[]>('PIF.get_all')).length;
    const ok = await post({ ...REPORT, '52:54:00:12:34:56': 'p2p1' });
    expect(ok.status).to.equal(200);
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    expect(Object.keys(all).length).to.equal(before + 1);
    expect(Object.values(all).find((p) => p.MAC === '52:54:00:12:34:56')).to.deep.include({ device: 'p2p1', physical: true, currently_attached: false });
  });

  it("authentication: none → 401; a bad session → 401; the host's node-config-token as a Bearer token → 200, another token → 401", async () => {
    expect((await post(REPORT, {})).status).to.equal(401);
    expect((await post(REPORT, { session: 'OpaqueRef:nonsense' })).status).to.equal(401);
    const host = (await call<string[]>('host.get_all'))[0];
    await call('host.add_to_other_config', host, 'node-config-token', 's3cret-node-token');
    expect((await post(REPORT, { bearer: 's3cret-node-token' })).status).to.equal(200);
    expect((await post(REPORT, { bearer: 'someone-else' })).status).to.equal(401);
    expect((await post({ '52:54:00:aa:bb:cc': 'eth0' }, { bearer: 's3cret-node-token' })).status).to.equal(401);
  });
});
