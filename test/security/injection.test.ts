// Issue 8 §1: nothing a caller sends reaches a host command unchecked. Every injection shape is
// fed through every entry point of a daemon whose backend is the real Open vSwitch + ip in a
// sandbox netns; each call must fail with xapi's error, store nothing, and leave the host exactly
// as it was (OVS state, links up, addresses, routes), and no canary command may have run.
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import { OpenvswitchBackend } from '../../src/backends/ovs/backend.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { rpc } from '../helpers/child.js';

const NICS = ['eth0', 'eth1', 'eth2', 'eth3'];
const NULL = 'OpaqueRef:NULL';
const CANARY = `/tmp/xnd-injection-canary-${process.pid}`;

/** The shapes an attacker tries in an address field: a second ip -batch line, an exec, an option. */
const BAD_IPS = [`192.0.2.50\nnetns exec xnd touch ${CANARY}`, '192.0.2.50\nlink set dev eth2 down', '192.0.2.50 dev eth2', '-h', ''];
const BAD_BRIDGES = ['--', '-h', 'br;id', '../../x', 'abcdefghijklmnop', 'br id', 'br\nx', 'a/b', '.', 'xapi"x'];
const BAD_MACS = ['02:00:5e:00:53:1', '02:00:5e:00:53:1g', '02-00-5e-00-53-10', '02:00:5e:00:53:10\nx', 'ff:ff:ff:ff:ff:ff:ff'];

describe('security: injection shapes through every entry point (OVS sandbox, real ip and ovs-vsctl)', function () {
  this.timeout(120000);
  let sb: Sandbox;
  let be: OpenvswitchBackend;
  let r: Running;
  let call: <T = any>(method: string, ...params: unknown[]) => Promise<T>;
  let host: string;
  const fails = async (method: string, ...params: unknown[]): Promise<string[]> => {
    try {
      await call(method, ...params);
    } catch (e) {
      const d = (e as { details?: string[] }).details;
      if (d) return d;
      throw e;
    }
    throw new Error(`${method} succeeded`);
  };
  const pifOf = async (device: string): Promise<string> => {
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    return Object.keys(all).find((ref) => all[ref].device === device && all[ref].physical && all[ref].VLAN === '-1')!;
  };
  /** Everything on the host an injected command could change. */
  const hostFacts = async () => ({
    ovs: await be.read(),
    links: (JSON.parse(await sb.ip(['-j', 'link', 'show'])) as { ifname: string; flags: string[]; mtu: number }[])
      .map((l) => `${l.ifname} ${l.flags.includes('UP') ? 'up' : 'down'} ${l.mtu}`)
      .sort(),
    addrs: await sb.ip(['-4', '-o', 'addr', 'show']),
    routes: await sb.ip(['-4', 'route', 'show']),
  });
  const dbFacts = async () => ({
    PIF: await call('PIF.get_all_records'),
    network: await call('network.get_all_records'),
    tunnel: await call('tunnel.get_all_records'),
    VLAN: await call('VLAN.get_all_records'),
  });
  /** Runs `attempt` and checks that it fails with `error` and changes neither host nor database. */
  const refused = async (what: string, error: (string | RegExp)[], attempt: () => Promise<string[]>) => {
    const h0 = await hostFacts();
    const d0 = await dbFacts();
    const got = await attempt();
    error.forEach((e, i) => (typeof e === 'string' ? expect(got[i], `${what}: error ${JSON.stringify(got)}`).to.equal(e) : expect(got[i], what).to.match(e)));
    expect(await hostFacts(), `${what}: host unchanged`).to.deep.equal(h0);
    expect(await dbFacts(), `${what}: database unchanged`).to.deep.equal(d0);
    expect(existsSync(CANARY), `${what}: no command ran`).to.equal(false);
  };

  before(async function () {
    sb = await startSandbox({ name: 'secinj', nics: NICS.map((device, i) => ({ device, mac: DEMO_INVENTORY[i].MAC })) });
    be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    const cfg: Config = {
      ...DEFAULTS,
      db: ':memory:',
      port: 0,
      authFailDelayMs: 10,
      inventory: DEMO_INVENTORY.slice(0, 4),
      hostname: 'sec-inj',
      logLevel: 'error',
    };
    r = await startDaemon(cfg, { backend: be, log: makeLogger({ logLevel: 'error', logFile: '' }), monitorIntervalMs: 0 });
    call = rpc(r.port).call;
    host = (await call<string[]>('host.get_all'))[0];
    await call('PIF.plug', await pifOf('eth2'));
  });
  after(async function () {
    await r?.close();
    await sb?.stop();
  });

  it('SEC-01 PIF.reconfigure_ip: IP, netmask and gateway (with other_config:defaultroute) refuse every shape', async () => {
    const eth2 = await pifOf('eth2');
    await call('PIF.add_to_other_config', eth2, 'defaultroute', 'true');
    for (const bad of BAD_IPS.filter((b) => b !== '')) {
      await refused(`IP ${JSON.stringify(bad)}`, ['INVALID_IP_ADDRESS_SPECIFIED', 'IP'], () =>
        fails('PIF.reconfigure_ip', eth2, 'Static', bad, '255.255.255.0', '', ''),
      );
      await refused(`netmask ${JSON.stringify(bad)}`, ['INVALID_IP_ADDRESS_SPECIFIED', 'netmask'], () =>
        fails('PIF.reconfigure_ip', eth2, 'Static', '198.51.100.2', bad, '', ''),
      );
      await refused(`gateway ${JSON.stringify(bad)}`, ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'], () =>
        fails('PIF.reconfigure_ip', eth2, 'Static', '198.51.100.2', '255.255.255.0', bad, ''),
      );
    }
    await refused('IPv6 with a newline', ['INVALID_CIDR_ADDRESS_SPECIFIED', 'IPv6'], () =>
      fails('PIF.reconfigure_ipv6', eth2, 'Static', '2001:db8::2/64\nlink set dev eth2 down', '', ''),
    );
    await refused('IPv6 gateway with a newline', ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'], () =>
      fails('PIF.reconfigure_ipv6', eth2, 'Static', '2001:db8::2/64', 'fe80::1\nx', ''),
    );
    // The intended change still works, and only it happens.
    await call('PIF.reconfigure_ip', eth2, 'Static', '198.51.100.2', '255.255.255.0', '198.51.100.1', '');
    expect(await sb.ip(['-4', '-o', 'addr', 'show', 'dev', 'xenbr2'])).to.match(/inet 198\.51\.100\.2\/24/);
    expect(await sb.ip(['-4', 'route', 'show', 'default'])).to.match(/^default via 198\.51\.100\.1 dev xenbr2/m);
  });

  it('SEC-02 PIF.db_introduce: bad IP, netmask, gateway, DNS, MAC, device, VLAN and IPv6 are refused and nothing is stored', async () => {
    const net = await call<string>('network.create', { name_label: 'dbi', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    const intro = (o: Partial<Record<string, unknown>>) =>
      fails(
        'PIF.db_introduce',
        o.device ?? 'eth9',
        net,
        host,
        o.MAC ?? '02:00:00:00:09:09',
        1500,
        o.VLAN ?? -1,
        true,
        'Static',
        o.IP ?? '192.0.2.99',
        o.netmask ?? '255.255.255.0',
        o.gateway ?? '',
        o.DNS ?? '',
        NULL,
        NULL,
        false,
        {},
        false,
        'None',
        o.IPv6 ?? [],
        o.ipv6_gateway ?? '',
      );
    for (const bad of BAD_IPS.filter((b) => b !== '')) {
      await refused(`db_introduce IP ${JSON.stringify(bad)}`, ['INVALID_IP_ADDRESS_SPECIFIED', 'IP'], () => intro({ IP: bad }));
      await refused(`db_introduce netmask ${JSON.stringify(bad)}`, ['INVALID_IP_ADDRESS_SPECIFIED', 'netmask'], () => intro({ netmask: bad }));
      await refused(`db_introduce gateway ${JSON.stringify(bad)}`, ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'], () => intro({ gateway: bad }));
      await refused(`db_introduce DNS ${JSON.stringify(bad)}`, ['INVALID_VALUE', 'DNS'], () => intro({ DNS: bad }));
    }
    for (const bad of BAD_MACS) await refused(`db_introduce MAC ${JSON.stringify(bad)}`, ['MAC_INVALID', bad], () => intro({ MAC: bad }));
    for (const bad of BAD_BRIDGES) await refused(`db_introduce device ${JSON.stringify(bad)}`, ['INVALID_VALUE', 'device'], () => intro({ device: bad }));
    for (const bad of [4095, -2, 100000]) await refused(`db_introduce VLAN ${bad}`, ['VLAN_TAG_INVALID', String(bad)], () => intro({ VLAN: bad }));
    await refused('db_introduce IPv6', ['INVALID_CIDR_ADDRESS_SPECIFIED', 'IPv6'], () => intro({ IPv6: ['2001:db8::1/64\nx'] }));
    await refused('db_introduce ipv6_gateway', ['INVALID_IP_ADDRESS_SPECIFIED', 'ipv6_gateway'], () => intro({ ipv6_gateway: 'fe80::1 x' }));
  });

  it('SEC-03 network.create: bridge names no interface may have are INVALID_VALUE [bridge, name]; a later plug is unaffected', async () => {
    for (const b of BAD_BRIDGES) {
      await refused(`bridge ${JSON.stringify(b)}`, ['INVALID_VALUE', 'bridge', b], () =>
        fails('network.create', { name_label: 'x', name_description: '', MTU: 1500, other_config: {}, tags: [], bridge: b }),
      );
    }
    const n = await call<string>('network.create', { name_label: 'ok', name_description: '', MTU: 1500, other_config: {}, tags: [], bridge: 'br-ok_1.2' });
    expect(await call('network.get_bridge', n)).to.equal('br-ok_1.2');
    await call('PIF.plug', await pifOf('eth3'));
    expect((await sb.vsctl(['list-br'])).split('\n')).to.include('xenbr3');
  });

  it('SEC-04 constructors: Bond MACs and properties, VLAN tags refused', async () => {
    const bnet = await call<string>('network.create', { name_label: 'b', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    const eth1 = await pifOf('eth1');
    const eth3 = await pifOf('eth3');
    for (const bad of BAD_MACS) {
      await refused(`Bond MAC ${JSON.stringify(bad)}`, ['MAC_INVALID', bad], () => fails('Bond.create', bnet, [eth1, eth3], bad, 'active-backup', {}));
    }
    await refused('Bond property with a newline', ['INVALID_VALUE', 'properties'], () =>
      fails('Bond.create', bnet, [eth1, eth3], '', 'lacp', { 'lacp-time': 'fast\nx' }),
    );
    for (const tag of [4095, -1, 65536]) await refused(`VLAN tag ${tag}`, ['VLAN_TAG_INVALID', String(tag)], () => fails('VLAN.create', eth1, tag, bnet));
  });

  it('SEC-05 a network MTU no device can take is refused before any backend sees it; other_config:mtu nonsense is ignored as xapi does', async () => {
    const eth1 = await pifOf('eth1');
    await call('PIF.plug', eth1);
    const net = await call<string>('PIF.get_network', eth1);
    for (const bad of [70000, 1, -5])
      await refused(`MTU ${bad}`, ['PIF_CONFIGURATION_ERROR', /./, /invalid value: .*MTU/], () => fails('network.set_MTU', net, bad));
    const h0 = await hostFacts();
    await call('PIF.add_to_other_config', eth1, 'mtu', '9000\nlink set dev eth2 down');
    expect(await hostFacts()).to.deep.equal(h0);
  });
  it('SEC-07 the other entry points: PIF.introduce, PIF/Bond.set_property, VIF.create MAC, pool.create_VLAN / PIF.create_VLAN device refuse the shapes', async () => {
    for (const bad of [`eth9\nnetns exec xnd touch ${CANARY}`, '-h', 'eth9 down']) {
      // xapi's answer: no NIC of that name and MAC on the host (the name is looked up, never passed to a tool).
      await refused(`PIF.introduce device ${JSON.stringify(bad)}`, ['COULD_NOT_FIND_NETWORK_INTERFACE_WITH_SPECIFIED_DEVICE_NAME_AND_MAC_ADDRESS', bad], () =>
        fails('PIF.introduce', host, '02:00:5e:00:53:99', bad, true),
      );
    }
    for (const bad of BAD_MACS)
      await refused(`PIF.introduce MAC ${JSON.stringify(bad)}`, ['MAC_INVALID', bad], () => fails('PIF.introduce', host, bad, 'eth9', true));
    const net = await call<string>('network.create', { name_label: 'v', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    for (const bad of ['eth1\nlink set dev eth2 down', '--', 'eth1 x']) {
      await refused(`pool.create_VLAN device ${JSON.stringify(bad)}`, ['INVALID_VALUE', 'device', bad], () => fails('pool.create_VLAN', bad, net, 5));
      await refused(`PIF.create_VLAN device ${JSON.stringify(bad)}`, ['INVALID_VALUE', 'device', bad], () => fails('PIF.create_VLAN', bad, net, host, 5));
    }
    const eth1 = await pifOf('eth1');
    await refused('PIF.set_property value with a newline', ['INVALID_VALUE', 'properties', 'gro = on\nlink set dev eth2 down'], () =>
      fails('PIF.set_property', eth1, 'gro', 'on\nlink set dev eth2 down'),
    );
    await refused('PIF.set_property key with a space', ['INVALID_VALUE', 'properties', 'gro x = on'], () => fails('PIF.set_property', eth1, 'gro x', 'on'));
    const vm = await call<string>('VM.create', { name_label: 'vm' });
    const vif = (MAC: string) => ({ device: '0', network: net, VM: vm, MAC, MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    for (const bad of BAD_MACS) await refused(`VIF.create MAC ${JSON.stringify(bad)}`, ['MAC_INVALID', bad], () => fails('VIF.create', vif(bad)));
    // Bond.set_property on a live bond of the sandbox's OVS.
    const bnet = await call<string>('network.create', { name_label: 'bp', name_description: '', MTU: 1500, other_config: {}, tags: [] });
    const bond = await call<string>('Bond.create', bnet, [eth1, await pifOf('eth3')], '', 'lacp', {});
    for (const bad of ['fast\nlink set dev eth2 down', "fast'; id", 'fast x']) {
      await refused(`Bond.set_property ${JSON.stringify(bad)}`, ['INVALID_VALUE', 'properties', `lacp-time = ${bad}`], () =>
        fails('Bond.set_property', bond, 'lacp-time', bad),
      );
    }
    await call('Bond.set_property', bond, 'lacp-time', 'fast');
    await call('Bond.destroy', bond);
  });
});

describe('security: a bad value already in the database (an older daemon stored it unchecked) never reaches the host (OVS sandbox)', function () {
  this.timeout(120000);
  let sb: Sandbox;
  let be: OpenvswitchBackend;
  let dir: string;
  let r: Running | undefined;
  const errors: string[] = [];
  before(async function () {
    sb = await startSandbox({ name: 'secdb', nics: NICS.map((device, i) => ({ device, mac: DEMO_INVENTORY[i].MAC })) });
    be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    dir = mkdtempSync(join(tmpdir(), 'xnd-secdb-'));
  });
  after(async function () {
    await r?.close();
    await sb?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async () => {
    const log = makeLogger({ logLevel: 'error', logFile: '' });
    log.error = (m: string) => void errors.push(m);
    const cfg: Config = {
      ...DEFAULTS,
      db: join(dir, 'x.db'),
      port: 0,
      authFailDelayMs: 10,
      inventory: DEMO_INVENTORY.slice(0, 4),
      hostname: 'sec-db',
      logLevel: 'error',
    };
    r = await startDaemon(cfg, { backend: be, log, monitorIntervalMs: 0 });
    const { call } = rpc(r.port);
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    const pif = (device: string) => Object.keys(all).find((ref) => all[ref].device === device && all[ref].physical && all[ref].VLAN === '-1')!;
    return { call, pif };
  };
  const hostFacts = async () => ({
    ovs: await be.read(),
    addrs: await sb.ip(['-4', '-o', 'addr', 'show']),
    routes: await sb.ip(['-4', 'route', 'show']),
  });

  it('SEC-06 start-up applies nothing and says why; every later plan carrying it fails PIF_CONFIGURATION_ERROR; correcting it through the API converges', async () => {
    let { call, pif } = await start();
    await call('PIF.plug', pif('eth2'));
    await call('PIF.add_to_other_config', pif('eth2'), 'defaultroute', 'true');
    await call('PIF.reconfigure_ip', pif('eth2'), 'Static', '198.51.100.2', '255.255.255.0', '198.51.100.1', '');
    await r!.close();
    r = undefined;
    // What a daemon without the value types would have stored (the finding), written past the store's checks.
    const db = new Database(join(dir, 'x.db'));
    const changed = db
      .prepare('UPDATE "PIF" SET "IP" = ?, "gateway" = ? WHERE "IP" = ?')
      .run(`198.51.100.50\nnetns exec xnd touch ${CANARY}`, '198.51.100.1\nlink set dev eth3 down', '198.51.100.2').changes;
    db.close();
    expect(changed).to.equal(1);
    // The host as the old daemon left it, minus the old address: start-up would have to put the bad one there.
    await sb.ip(['addr', 'flush', 'dev', 'xenbr2']);
    const h0 = await hostFacts();
    ({ call, pif } = await start());
    expect(await hostFacts(), 'start-up changed nothing').to.deep.equal(h0);
    expect(existsSync(CANARY)).to.equal(false);
    expect(errors.join('\n')).to.match(/start-up: the host was left as it is: .*IP "198\.51\.100\.50\\nnetns exec/);
    // A later write whose plan would carry it fails, naming the value; nothing changes.
    const err = await call('PIF.plug', pif('eth3')).then(
      () => [] as string[],
      (e: { details?: string[] }) => e.details ?? [],
    );
    expect(err[0]).to.equal('PIF_CONFIGURATION_ERROR');
    expect(err[2]).to.match(/^invalid value: .*is not an IPv4 address/);
    expect(await hostFacts()).to.deep.equal(h0);
    expect(existsSync(CANARY)).to.equal(false);
    // Corrected through the API: the host converges, only the intended change happens.
    await call('PIF.reconfigure_ip', pif('eth2'), 'Static', '198.51.100.3', '255.255.255.0', '198.51.100.1', '');
    expect(await sb.ip(['-4', '-o', 'addr', 'show', 'dev', 'xenbr2'])).to.match(/inet 198\.51\.100\.3\/24/);
    expect(await sb.ip(['-4', 'route', 'show', 'default'])).to.match(/^default via 198\.51\.100\.1 dev xenbr2/m);
    await call('PIF.plug', pif('eth3'));
    expect((await sb.vsctl(['list-br'])).split('\n')).to.include('xenbr3');
    expect(JSON.parse(await sb.ip(['-j', 'link', 'show', 'dev', 'eth3']))[0].flags).to.include('UP');
    expect(existsSync(CANARY)).to.equal(false);
  });
});
