// Linux bonding options through the API on the ifcfg backend (issue 11 §3): Bond.properties accept
// miimon, updelay, downdelay, use_carrier, xmit_hash_policy on a host whose bonds are Linux
// bonding devices (software_version bond_driver "linux"), and seed 001's four oVirt bond types
// are reachable without a new bond_mode: Load Balancing = balance-slb + linux-mode balance-xor,
// Broadcast = balance-slb + linux-mode broadcast, Link Aggregation = lacp, Failover =
// active-backup. Each lands in ifcfg-bond0's BONDING_OPTS (written by the real augtool into a
// sandbox root) and reads back as the same Bond.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xmlrpc from 'xmlrpc';
import { parseVars, SCRIPTS_DIR } from '../../src/backends/ifcfg.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { TEST_USERS } from '../helpers/users.js';
import { XenAPIFailure } from '../helpers/harness.js';

describe('ifcfg: Linux bonding options and the oVirt bond types through Bond.create', function () {
  this.timeout(30000);
  let r: Running;
  let root: string;
  let session: string;
  let client: xmlrpc.Client;
  const call = <T = any>(method: string, ...params: unknown[]): Promise<T> =>
    new Promise((resolve, reject) => {
      client.methodCall(method, [session, ...params], (err: unknown, v: any) => {
        if (err) return reject(err);
        if (v?.Status === 'Success') return resolve(v.Value);
        reject(new XenAPIFailure(v?.ErrorDescription ?? []));
      });
    });
  const fails = async (method: string, ...params: unknown[]) => {
    try {
      await call(method, ...params);
    } catch (e) {
      if (e instanceof XenAPIFailure) return e.details;
      throw e;
    }
    throw new Error(`${method} succeeded`);
  };
  const pif = async (device: string) => {
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    return Object.keys(all).find((k) => all[k].device === device && all[k].VLAN === '-1')!;
  };
  const bondOpts = () => parseVars(readFileSync(join(root, SCRIPTS_DIR, 'ifcfg-bond0'), 'utf8')).BONDING_OPTS;
  let net: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'xnd-ifcfg-bondopts-'));
    const cfg: Config = {
      ...DEFAULTS,
      db: ':memory:',
      port: 0,
      authFailDelayMs: 10,
      hostname: 'linuxbonds',
      logLevel: 'error',
      backend: 'ifcfg',
      ifcfgRoot: root,
      inventory: DEMO_INVENTORY,
      users: TEST_USERS,
    };
    r = await startDaemon(cfg, { log: makeLogger({ logLevel: 'error', logFile: '' }) });
    client = xmlrpc.createClient({ host: '127.0.0.1', port: r.port, path: '/' });
    session = await new Promise<string>((res, rej) =>
      client.methodCall('session.login_with_password', ['root', 'secret', '1.0', 't'], (e: unknown, v: any) => (e ? rej(e) : res(v.Value))),
    );
    net = await call('network.create', { name_label: 'bonds', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    // a plugged member: Bond.create plugs the master (seed step 11), so the bond reaches the files
    await call('PIF.plug', await pif('eth1'));
  });
  after(async () => {
    await r?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('the host says its bonds are Linux bonds', async () => {
    const host = (await call<string[]>('host.get_all'))[0];
    expect((await call<Record<string, string>>('host.get_software_version', host)).bond_driver).to.equal('linux');
  });

  const cases: [string, string, Record<string, string>, RegExp][] = [
    [
      'Load Balancing (balance-xor, mode 2)',
      'balance-slb',
      { 'linux-mode': 'balance-xor', xmit_hash_policy: 'layer2+3' },
      /^mode=balance-xor miimon=100 downdelay=200 updelay=31000 use_carrier=1 xmit_hash_policy=layer2\+3$/,
    ],
    [
      'Link Aggregation (802.3ad)',
      'lacp',
      { miimon: '100', updelay: '0' },
      /^mode=802\.3ad miimon=100 downdelay=200 updelay=0 use_carrier=1 lacp_rate=slow xmit_hash_policy=layer3\+4$/,
    ],
    [
      'Failover (active-backup)',
      'active-backup',
      { updelay: '5000', downdelay: '100', use_carrier: '0' },
      /^mode=active-backup miimon=100 downdelay=100 updelay=5000 use_carrier=0$/,
    ],
    ['Broadcast (mode 3)', 'balance-slb', { 'linux-mode': 'broadcast', miimon: '50' }, /^mode=broadcast miimon=50 downdelay=200 updelay=31000 use_carrier=1$/],
  ];
  for (const [name, mode, props, opts] of cases) {
    it(`oVirt ${name}: Bond.create ${mode} ${JSON.stringify(props)} → BONDING_OPTS, read back as the same bond`, async () => {
      await call('PIF.plug', await pif('eth1'));
      const bond = await call<string>('Bond.create', net, [await pif('eth1'), await pif('eth2')], '', mode, props);
      try {
        expect(bondOpts()).to.match(opts);
        const rec = await call<Record<string, any>>('Bond.get_record', bond);
        expect(rec.mode).to.equal(mode);
        for (const [k, v] of Object.entries(props)) expect(rec.properties[k]).to.equal(v);
        const up = (await r.backend.read()).bridges[await call<string>('network.get_bridge', net)].uplink;
        expect(up).to.deep.include({ kind: 'bond', name: 'bond0', mode });
        expect((up as { properties: Record<string, string> }).properties).to.deep.include(props);
      } finally {
        await call('Bond.destroy', bond);
      }
    });
  }

  it('Bond.set_property updelay on a Linux bond rewrites BONDING_OPTS', async () => {
    await call('PIF.plug', await pif('eth1'));
    const bond = await call<string>('Bond.create', net, [await pif('eth1'), await pif('eth2')], '', 'active-backup', {});
    try {
      await call('Bond.set_property', bond, 'updelay', '1000');
      expect(bondOpts()).to.contain('updelay=1000');
    } finally {
      await call('Bond.destroy', bond);
    }
  });

  it('refused: a Linux mode that contradicts the XenAPI mode, a bad value, an unknown key (INVALID_VALUE, nothing written)', async () => {
    const m = [await pif('eth1'), await pif('eth2')];
    expect(await fails('Bond.create', net, m, '', 'active-backup', { 'linux-mode': 'broadcast' })).to.deep.equal([
      'INVALID_VALUE',
      'properties',
      'linux-mode = broadcast',
    ]);
    expect(await fails('Bond.create', net, m, '', 'lacp', { 'linux-mode': 'balance-xor' })).to.deep.equal([
      'INVALID_VALUE',
      'properties',
      'linux-mode = balance-xor',
    ]);
    expect(await fails('Bond.create', net, m, '', 'balance-slb', { updelay: 'soon' })).to.deep.equal(['INVALID_VALUE', 'properties', 'updelay = soon']);
    expect(await fails('Bond.create', net, m, '', 'balance-slb', { xmit_hash_policy: 'layer9' })).to.deep.equal([
      'INVALID_VALUE',
      'properties',
      'xmit_hash_policy = layer9',
    ]);
    expect(await fails('Bond.create', net, m, '', 'balance-slb', { arp_interval: '100' })).to.deep.equal(['INVALID_VALUE', 'properties', 'arp_interval = 100']);
    expect(await call('Bond.get_all')).to.deep.equal([]);
  });
});
