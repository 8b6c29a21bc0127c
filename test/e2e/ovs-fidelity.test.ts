// Host fidelity on a sandboxed Open vSwitch (issue 9 §4), the daemon driven over XML-RPC:
//   a VLAN bridge's device has its tagged PIF's MAC (as xcp-networkd), also after Bond.destroy
//   moves the VLAN onto the primary slave;
//   a NIC hot-plugged after start: PIF.scan introduces eth9 and PIF.plug really puts eth9 on xenbr9;
//   a call needing a NIC that vanished fails before OVS is touched.
import { expect } from 'chai';
import { startSandbox, type Sandbox } from '../../scripts/ovs-sandbox.js';
import { OpenvswitchBackend } from '../../src/backends/ovs/backend.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { rpc } from '../helpers/child.js';
import { until } from '../helpers/wait.js';
import { XenAPIFailure } from '../helpers/harness.js';

const NICS = ['eth0', 'eth1', 'eth2', 'eth3'];

describe('e2e: host fidelity on a sandboxed Open vSwitch', function () {
  this.timeout(60000);
  let sb: Sandbox;
  let r: Running;
  let call: <T = any>(method: string, ...params: unknown[]) => Promise<T>;
  const pifOf = async (device: string, vlan = '-1'): Promise<string> => {
    const all = await call<Record<string, Record<string, any>>>('PIF.get_all_records');
    return Object.keys(all).find((ref) => all[ref].device === device && all[ref].VLAN === vlan)!;
  };
  const macOf = async (dev: string): Promise<string> => (JSON.parse(await sb.ip(['-j', 'link', 'show', 'dev', dev])) as { address: string }[])[0].address;
  const addrs = async (dev: string): Promise<string[]> => {
    const j = JSON.parse(await sb.ip(['-j', '-4', 'addr', 'show', 'dev', dev])) as { addr_info: { local: string; prefixlen: number }[] }[];
    return j.flatMap((a) => a.addr_info.map((i) => `${i.local}/${i.prefixlen}`));
  };
  const newNet = (name: string) => call<string>('network.create', { name_label: name, name_description: '', MTU: 1500, other_config: {}, tags: [] });

  before(async function () {
    sb = await startSandbox({ name: 'fidelity', nics: NICS.map((device, i) => ({ device, mac: DEMO_INVENTORY[i].MAC })) });
    const be = new OpenvswitchBackend({ vsctl: sb.vsctl, appctl: sb.appctl, ip: sb.ip });
    const cfg: Config = { ...DEFAULTS, db: ':memory:', port: 0, authFailDelayMs: 10, inventory: DEMO_INVENTORY, hostname: 'ovs-fidelity', logLevel: 'error' };
    r = await startDaemon(cfg, { backend: be, log: makeLogger({ logLevel: 'error', logFile: '' }), monitorIntervalMs: 0 });
    call = rpc(r.port).call;
  });

  after(async function () {
    await r?.close();
    await sb?.stop();
  });

  it("FID-OVS-01 a VLAN bridge has its tagged PIF's MAC, on the bond and after Bond.destroy moves the VLAN onto eth1", async () => {
    await call('PIF.plug', await pifOf('eth1'));
    const bond = await call('Bond.create', await newNet('bond'), [await pifOf('eth1'), await pifOf('eth2')], '', 'active-backup', {});
    const master = await call('Bond.get_master', bond);
    const nv = await newNet('vlan10');
    const vlan = await call('VLAN.create', master, '10', nv);
    const untagged = await call('VLAN.get_untagged_PIF', vlan);
    await call('PIF.reconfigure_ip', untagged, 'Static', '198.51.100.10', '255.255.255.0', '', '');
    const br = await call<string>('network.get_bridge', nv);
    // xapi gives VLAN PIFs a dummy MAC; the VLAN bridge takes its tagged PIF's (nm.ml create_vlan).
    expect(await call('PIF.get_MAC', untagged)).to.equal('fe:ff:ff:ff:ff:ff');
    expect(await macOf(br)).to.equal(await call('PIF.get_MAC', master));
    await call('Bond.destroy', bond);
    const moved = await pifOf('eth1', '10');
    expect(await call('PIF.get_network', moved)).to.equal(nv);
    expect(await call('VLAN.get_tagged_PIF', await call('PIF.get_VLAN_master_of', moved))).to.equal(await pifOf('eth1'));
    expect(await sb.vsctl(['br-to-parent', br])).to.equal('xenbr1');
    expect(await macOf(br), "the VLAN bridge answers with the PIF's MAC, not a random one").to.equal(DEMO_INVENTORY[1].MAC);
    expect(await addrs(br)).to.deep.equal(['198.51.100.10/24']);
  });

  it('FID-OVS-02 a NIC hot-plugged after start: PIF.scan introduces eth9, PIF.plug puts eth9 on xenbr9', async () => {
    await sb.ip(['link', 'add', 'eth9', 'address', '02:00:5e:00:53:19', 'type', 'veth', 'peer', 'name', 'p9', 'netns', sb.peerNetns]);
    await sb.peerExec('ip', ['link', 'set', 'p9', 'up']);
    await sb.ip(['link', 'set', 'eth9', 'up']);
    await call('PIF.scan', r.d.hostRef);
    const eth9 = await pifOf('eth9');
    expect(eth9).to.be.a('string');
    await call('PIF.plug', eth9);
    expect(await call('PIF.get_currently_attached', eth9)).to.equal(true);
    expect((await sb.vsctl(['list-ports', 'xenbr9'])).split('\n')).to.deep.equal(['eth9']);
  });

  it('FID-OVS-03 Bond.create with a member whose NIC vanished fails PIF_CONFIGURATION_ERROR and OVS is not touched', async () => {
    await call('PIF.plug', await pifOf('eth3'));
    await sb.ip(['link', 'del', 'eth9']);
    await call('PIF.scan', r.d.hostRef);
    const net = await newNet('gone');
    const before = await sb.vsctl(['show']);
    const err = await call('Bond.create', net, [await pifOf('eth3'), await pifOf('eth9')], '', 'active-backup', {}).then(
      () => undefined,
      (e: unknown) => (e as XenAPIFailure).details,
    );
    expect(err?.[0]).to.equal('PIF_CONFIGURATION_ERROR');
    expect(err?.[2]).to.match(/^NIC eth9 is not present on this host/);
    expect(await sb.vsctl(['show'])).to.equal(before);
    expect(await call('Bond.get_all')).to.deep.equal([]);
    await until('eth3 still on xenbr3', async () => (await sb.vsctl(['list-ports', 'xenbr3'])) === 'eth3');
  });
  it('FID-OVS-04 PIF_metrics.carrier follows the link of a NIC on OVS: the cable pulled at the far end and put back', async () => {
    const monitor = r.d.services.monitor!;
    const eth3 = await pifOf('eth3');
    const carrier = async () => call<boolean>('PIF_metrics.get_carrier', await call('PIF.get_metrics', eth3));
    await monitor.refresh();
    expect(await carrier()).to.equal(true);
    await sb.peerExec('ip', ['link', 'set', 'p3', 'down']);
    try {
      await until('eth3 to lose its carrier', async () => {
        await monitor.refresh();
        return (await carrier()) === false;
      });
    } finally {
      await sb.peerExec('ip', ['link', 'set', 'p3', 'up']);
    }
    await until('eth3 to get its carrier back', async () => {
      await monitor.refresh();
      return await carrier();
    });
  });
});
