import { expect } from 'chai';
import type { Harness } from '../helpers/harness.js';
import { freshHarnessEachTest, failsAtomically, giveIp, makeNetwork, makeVIF, makeVM, rawBond, setFields, vmWithVifs } from '../helpers/vmfix.js';

describe('VLAN (VLAN.create/destroy, pool.create_VLAN*, PIF.create_VLAN/destroy)', () => {
  let h!: Harness;
  freshHarnessEachTest({ config: { networkBackend: 'openvswitch' } }, (x) => (h = x));

  it('VLAN-02 VLAN.create fills the untagged PIF, plugs it and the host gets a VLAN bridge', async () => {
    const t = h.pif('eth1');
    const nv = await makeNetwork(h, { name_label: 'v100' });
    const vlan = await h.call('VLAN.create', t, '100', nv);
    const v = await h.call('VLAN.get_record', vlan);
    const u = v.untagged_PIF;
    expect(v).to.deep.include({ tagged_PIF: t, tag: '100', other_config: {} });
    const tagged = await h.call('PIF.get_record', t);
    const pif = await h.call('PIF.get_record', u);
    expect(pif).to.deep.include({
      device: 'eth1',
      network: nv,
      host: h.r.d.hostRef,
      MAC: 'fe:ff:ff:ff:ff:ff',
      MTU: tagged.MTU,
      VLAN: '100',
      metrics: tagged.metrics,
      physical: false,
      currently_attached: true,
      ip_configuration_mode: 'None',
      IP: '',
      netmask: '',
      gateway: '',
      DNS: '',
      bond_slave_of: 'OpaqueRef:NULL',
      VLAN_master_of: vlan,
      VLAN_slave_of: [],
      management: false,
      other_config: {},
      disallow_unplug: false,
      ipv6_configuration_mode: 'None',
      IPv6: [''],
      ipv6_gateway: '',
      primary_address_type: tagged.primary_address_type,
      managed: true,
      properties: {},
      capabilities: [],
      bond_master_of: [],
      tunnel_access_PIF_of: [],
      tunnel_transport_PIF_of: [],
    });
    expect(tagged.VLAN_slave_of).to.deep.equal([vlan]);
    expect(tagged.currently_attached).to.equal(false); // bring_pif_up never marks the tagged PIF
    expect(await h.call('network.get_PIFs', nv)).to.deep.equal([u]);
    const bridge = await h.call('network.get_bridge', nv);
    const host = h.backend.host();
    expect(host.vlans[bridge]).to.deep.equal({ parent: 'xenbr1', tag: 100 });
    expect(host.bridges).to.include.members(['xenbr1', bridge]);
    expect(host.uplinks.xenbr1).to.equal('eth1');
  });

  it('VLAN-03 tagged PIF unmanaged → PIF_UNMANAGED [T]', async () => {
    const t = h.pif('eth2');
    await setFields(h, 'PIF', t, { managed: false });
    const nv = await makeNetwork(h);
    await failsAtomically(h, ['PIF_UNMANAGED', t], () => h.fails('VLAN.create', t, '3201', nv));
  });

  it('VLAN-04 VLAN network already connected to the host → NETWORK_ALREADY_CONNECTED [H, T]', async () => {
    const t = h.pif('eth1');
    const n = await h.call('PIF.get_network', t);
    await failsAtomically(h, ['NETWORK_ALREADY_CONNECTED', h.r.d.hostRef, t], () => h.fails('VLAN.create', t, '3201', n));
  });

  it('VLAN-04 (order) network connected is checked before the PIF is managed', async () => {
    const t = h.pif('eth1');
    await setFields(h, 'PIF', t, { managed: false });
    const n = await h.call('PIF.get_network', t);
    await failsAtomically(h, ['NETWORK_ALREADY_CONNECTED', h.r.d.hostRef, t], () => h.fails('VLAN.create', t, '3201', n));
  });

  it('VLAN-05 VLAN on a bond slave → CANNOT_ADD_VLAN_TO_BOND_SLAVE [T] (seed: Using Bond Slaves)', async () => {
    const t = h.pif('eth2');
    await rawBond(h, [t, h.pif('eth3')]);
    const nv = await makeNetwork(h);
    await failsAtomically(h, ['CANNOT_ADD_VLAN_TO_BOND_SLAVE', t], () => h.fails('VLAN.create', t, '3201', nv));
  });

  it('VLAN-05b VLAN on a bond master is allowed', async () => {
    const { master } = await rawBond(h, [h.pif('eth2'), h.pif('eth3')]);
    const nv = await makeNetwork(h);
    const vlan = await h.call('VLAN.create', master, '5', nv);
    expect(await h.call('VLAN.get_tagged_PIF', vlan)).to.equal(master);
  });

  it('VLAN-06 tagged PIF is itself a VLAN PIF → PIF_IS_VLAN [U]', async () => {
    const nv = await makeNetwork(h);
    const u = await h.call('VLAN.get_untagged_PIF', await h.call('VLAN.create', h.pif('eth1'), '1', nv));
    const nv2 = await makeNetwork(h);
    await failsAtomically(h, ['PIF_IS_VLAN', u], () => h.fails('VLAN.create', u, '3201', nv2));
  });

  it('VLAN-08 tag out of range → VLAN_TAG_INVALID; 0 and 4094 are valid', async () => {
    const t = h.pif('eth1');
    const nv = await makeNetwork(h);
    await failsAtomically(h, ['VLAN_TAG_INVALID', '-1'], () => h.fails('VLAN.create', t, '-1', nv));
    await failsAtomically(h, ['VLAN_TAG_INVALID', '4095'], () => h.fails('VLAN.create', t, '4095', nv));
    const v0 = await h.call('VLAN.create', t, '0', nv);
    expect(await h.call('VLAN.get_tag', v0)).to.equal('0');
    const v4094 = await h.call('VLAN.create', t, '4094', await makeNetwork(h));
    expect(await h.call('VLAN.get_tag', v4094)).to.equal('4094');
  });

  it('VLAN-09 same tag already on the tagged PIF → PIF_VLAN_EXISTS ["eth1"] (device, not ref)', async () => {
    const t = h.pif('eth1');
    await h.call('VLAN.create', t, '3201', await makeNetwork(h));
    const nv2 = await makeNetwork(h);
    await failsAtomically(h, ['PIF_VLAN_EXISTS', 'eth1'], () => h.fails('VLAN.create', t, '3201', nv2));
  });

  it('VLAN-10 tagged PIF is a tunnel access PIF → IS_TUNNEL_ACCESS_PIF [A]', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const tun = await h.call('tunnel.create', x, await makeNetwork(h), 'gre');
    const a = await h.call('tunnel.get_access_PIF', tun);
    const nv = await makeNetwork(h);
    await failsAtomically(h, ['IS_TUNNEL_ACCESS_PIF', a], () => h.fails('VLAN.create', a, '3201', nv));
  });

  it('VLAN-10b VLAN on a tunnel transport PIF is allowed', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    await h.call('tunnel.create', x, await makeNetwork(h), 'gre');
    const vlan = await h.call('VLAN.create', x, '7', await makeNetwork(h));
    expect(await h.call('VLAN.get_tag', vlan)).to.equal('7');
  });

  it('X-VL-01 unmanaged VLAN network → NETWORK_UNMANAGED [N] (checked first)', async () => {
    const t = h.pif('eth1');
    await setFields(h, 'PIF', t, { managed: false });
    const n = await makeNetwork(h, { managed: false });
    await failsAtomically(h, ['NETWORK_UNMANAGED', n], () => h.fails('VLAN.create', t, '-5', n));
  });

  it('VIF-04 VLAN.create into a network with trunked VIFs → NETWORK_INCOMPATIBLE_WITH_TRUNKS [N]', async () => {
    const n = await makeNetwork(h);
    const vm = await makeVM(h);
    await makeVIF(h, vm, n, '0', { trunks: ['3201'] });
    await failsAtomically(h, ['NETWORK_INCOMPATIBLE_WITH_TRUNKS', n], () => h.fails('VLAN.create', h.pif('eth1'), '2201', n));
  });

  it('X-VL-02 invalid refs → HANDLE_INVALID', async () => {
    const nv = await makeNetwork(h);
    await failsAtomically(h, ['HANDLE_INVALID', 'PIF', 'OpaqueRef:nope'], () => h.fails('VLAN.create', 'OpaqueRef:nope', '5', nv));
    await failsAtomically(h, ['HANDLE_INVALID', 'network', 'OpaqueRef:nope'], () => h.fails('VLAN.create', h.pif('eth1'), '5', 'OpaqueRef:nope'));
  });

  it('X-VL-03 VLAN.destroy removes the VLAN, its PIF and bridge; metrics and network stay', async () => {
    const t = h.pif('eth1');
    const nv = await makeNetwork(h);
    const vlan = await h.call('VLAN.create', t, '100', nv);
    const u = await h.call('VLAN.get_untagged_PIF', vlan);
    const bridge = await h.call('network.get_bridge', nv);
    const metrics = await h.call('PIF.get_metrics', t);
    expect(await h.call('VLAN.destroy', vlan)).to.equal('');
    expect(h.find('VLAN', () => true)).to.deep.equal([]);
    expect(h.r.store.find('PIF', u)).to.equal(undefined);
    // The tagged PIF keeps its own metrics object, intact.
    const mUuid = await h.call<string>('PIF_metrics.get_uuid', metrics);
    expect(mUuid).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await h.call('PIF_metrics.get_by_uuid', mUuid)).to.equal(metrics);
    expect(await h.call('network.get_PIFs', nv)).to.deep.equal([]);
    expect(await h.call('PIF.get_VLAN_slave_of', t)).to.deep.equal([]);
    const host = h.backend.host();
    expect(host.bridges).to.not.include(bridge);
    expect(host.vlans).to.deep.equal({});
  });

  it('X-VL-04 VLAN.destroy with a running VM on the VLAN network → VIF_IN_USE [network, vif]', async () => {
    const nv = await makeNetwork(h);
    const vlan = await h.call('VLAN.create', h.pif('eth1'), '100', nv);
    const { vifs } = await vmWithVifs(h, [nv]);
    const bridge = await h.call('network.get_bridge', nv);
    expect(h.backend.host().vifs).to.deep.equal({ 'vif1.0': bridge });
    await failsAtomically(h, ['VIF_IN_USE', nv, vifs[0]], () => h.fails('VLAN.destroy', vlan));
  });

  it('X-VL-05 VLAN.destroy of a disallow_unplug VLAN PIF → PIF_DOES_NOT_ALLOW_UNPLUG; management VLAN → PIF_IS_MANAGEMENT_INTERFACE', async () => {
    const vlan = await h.call('VLAN.create', h.pif('eth1'), '100', await makeNetwork(h));
    const u = await h.call('VLAN.get_untagged_PIF', vlan);
    await setFields(h, 'PIF', u, { disallow_unplug: true });
    await failsAtomically(h, ['PIF_DOES_NOT_ALLOW_UNPLUG', u], () => h.fails('VLAN.destroy', vlan));
    await setFields(h, 'PIF', u, { management: true });
    await failsAtomically(h, ['PIF_IS_MANAGEMENT_INTERFACE', u], () => h.fails('VLAN.destroy', vlan));
  });

  it('X-VL-06 VLAN.destroy of an orphan VLAN record just deletes it', async () => {
    const vlan = await h.call('VLAN.create', h.pif('eth1'), '100', await makeNetwork(h));
    const u = await h.call('VLAN.get_untagged_PIF', vlan);
    await h.r.store.write((tx) => {
      tx.destroy('PIF', u);
    });
    await h.call('VLAN.destroy', vlan);
    expect(h.r.store.find('VLAN', vlan)).to.equal(undefined);
  });

  it('X-VL-07 PIF.create_VLAN (deprecated) returns the untagged PIF; PIF.destroy removes it', async () => {
    const nv = await makeNetwork(h);
    const u = await h.call('PIF.create_VLAN', 'eth2', nv, h.r.d.hostRef, '42');
    const rec = await h.call('PIF.get_record', u);
    expect(rec).to.deep.include({ device: 'eth2', VLAN: '42', network: nv, currently_attached: true });
    expect(await h.call('VLAN.get_tagged_PIF', rec.VLAN_master_of)).to.equal(h.pif('eth2'));
    await failsAtomically(h, ['INVALID_VALUE', 'device', 'eth9'], () => h.fails('PIF.create_VLAN', 'eth9', nv, h.r.d.hostRef, '43'));
    await failsAtomically(h, ['PIF_IS_PHYSICAL'], () => h.fails('PIF.destroy', h.pif('eth2')));
    expect(await h.call('PIF.destroy', u)).to.equal('');
    expect(h.r.store.find('PIF', u)).to.equal(undefined);
    expect(h.find('VLAN', () => true)).to.deep.equal([]);
  });

  it("X-VL-08 pool.create_VLAN_from_PIF creates and plugs a VLAN on every live host's PIF of the network", async () => {
    const nv = await makeNetwork(h);
    const pifs = await h.call('pool.create_VLAN_from_PIF', h.pif('eth3'), nv, '300');
    expect(pifs).to.have.length(1);
    expect(await h.call('PIF.get_record', pifs[0])).to.deep.include({ device: 'eth3', VLAN: '300', currently_attached: true, network: nv });
    expect(h.backend.host().vlans[await h.call('network.get_bridge', nv)]).to.deep.equal({ parent: 'xenbr3', tag: 300 });
    const u = pifs[0];
    await failsAtomically(h, ['NETWORK_ALREADY_CONNECTED', h.r.d.hostRef, u], () => h.fails('pool.create_VLAN_from_PIF', h.pif('eth3'), nv, '300'));
    const nv2 = await makeNetwork(h);
    await failsAtomically(h, ['PIF_VLAN_EXISTS', 'eth3'], () => h.fails('pool.create_VLAN_from_PIF', h.pif('eth3'), nv2, '300'));
  });

  it('X-VL-09 pool.create_VLAN (deprecated) creates the VLAN on every host by device name', async () => {
    const nv = await makeNetwork(h);
    const pifs = await h.call('pool.create_VLAN', 'eth5', nv, '500');
    expect(pifs).to.have.length(1);
    expect(await h.call('PIF.get_record', pifs[0])).to.deep.include({ device: 'eth5', VLAN: '500', currently_attached: true });
    const n2 = await makeNetwork(h);
    await failsAtomically(h, ['INVALID_VALUE', 'device', 'nosuch'], () => h.fails('pool.create_VLAN', 'nosuch', n2, '5'));
  });

  it('X-VL-10 a VLAN whose bridge the backend cannot build fails with nothing changed', async () => {
    const nv = await makeNetwork(h);
    h.backend.faults.failAt = (s) => s.op === 'bridge.add';
    try {
      const before = h.dump();
      const err = await h.fails('VLAN.create', h.pif('eth1'), '100', nv);
      expect(err[0]).to.equal('PIF_CONFIGURATION_ERROR');
      expect(h.dump()).to.deep.equal(before);
    } finally {
      h.backend.faults.failAt = undefined;
    }
    expect(h.backend.host().vlans).to.deep.equal({});
  });
});
