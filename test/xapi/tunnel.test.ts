import { expect } from 'chai';
import { parseArgs } from '../../src/config.js';
import { defaultNetworkBackend } from '../../src/daemon.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { freshHarnessEachTest, failsAtomically, giveIp, makeNetwork, rawBond, setFields, vmWithVifs } from '../helpers/vmfix.js';

describe('tunnel (tunnel.create/destroy)', () => {
  let h!: Harness;
  freshHarnessEachTest({ config: { networkBackend: 'openvswitch' } }, (x) => (h = x));

  it('TUN-01 tunnel.create links the records, plugs the access PIF and the host gets a tunnel bridge', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const nt = await makeNetwork(h, { name_label: 'tun' });
    const t = await h.call('tunnel.create', x, nt, 'gre');
    const rec = await h.call('tunnel.get_record', t);
    const a = rec.access_PIF;
    expect(rec).to.deep.include({ transport_PIF: x, status: { active: 'false' }, other_config: {}, protocol: 'gre' });
    const transport = await h.call('PIF.get_record', x);
    expect(transport.tunnel_transport_PIF_of).to.deep.equal([t]);
    expect(transport.currently_attached).to.equal(true); // plugging the access PIF plugs the transport
    const ap = await h.call('PIF.get_record', a);
    expect(ap).to.deep.include({
      device: 'tunnel0',
      network: nt,
      host: h.r.d.hostRef,
      MTU: '1500',
      VLAN: '-1',
      metrics: transport.metrics,
      physical: false,
      currently_attached: true,
      ip_configuration_mode: 'None',
      bond_slave_of: 'OpaqueRef:NULL',
      VLAN_master_of: 'OpaqueRef:NULL',
      management: false,
      other_config: {},
      disallow_unplug: false,
      IPv6: [''],
      primary_address_type: 'IPv4',
      managed: true,
      properties: {},
      capabilities: [],
      tunnel_access_PIF_of: [t],
      tunnel_transport_PIF_of: [],
    });
    // MTU is -1 at creation; bringing the PIF up sets it from the bridge (nm.ml step 8).
    expect(ap.MAC).to.match(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(parseInt(ap.MAC.slice(0, 2), 16) & 3).to.equal(2); // locally administered, unicast
    // As nm.ml: only the tunnel's bridge; no GRE port without a remote end (the controller's business).
    const bridge = await h.call('network.get_bridge', nt);
    const host = h.backend.host();
    expect(host.bridges).to.include(bridge);
    expect(host.uplinks[bridge]).to.equal(undefined);
    expect(host.tunnels).to.deep.equal([]);
    expect(host.ips.xenbr4).to.equal('198.51.100.10');
    expect((await h.backend.read()).bridges[bridge].mac, "the tunnel's bridge has its access PIF's MAC (nm.ml bridge_mac)").to.equal(ap.MAC);
  });

  it('TUN-01c a static tunnel: other_config:remote_ip (and key) adds the GRE/VXLAN port, removing it takes the port away; bad values never reach the host', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const nt = await makeNetwork(h);
    const t = await h.call('tunnel.create', x, nt, 'vxlan');
    const bridge = await h.call('network.get_bridge', nt);
    await h.call('tunnel.add_to_other_config', t, 'remote_ip', '198.51.100.20');
    await h.call('tunnel.add_to_other_config', t, 'key', '42');
    const st = await h.r.reconciler.actual();
    expect(st.bridges[bridge].uplink).to.deep.equal({
      kind: 'tunnel',
      name: 'tunnel0',
      protocol: 'vxlan',
      remote: '198.51.100.20',
      key: '42',
      transport: 'xenbr4',
    });
    for (const [k, v] of [
      ['remote_ip', '198.51.100.256'],
      ['remote_ip', '1.2.3.4 -- del-br xenbr0'],
      ['key', 'x;y'],
      ['key', '4294967296'],
    ]) {
      await h.call('tunnel.remove_from_other_config', t, k);
      await h.call('tunnel.add_to_other_config', t, k, v);
      expect(h.backend.host().uplinks[bridge], `${k}=${v}`).to.equal(undefined);
      await h.call('tunnel.remove_from_other_config', t, k);
      await h.call('tunnel.add_to_other_config', t, k, k === 'key' ? '42' : '198.51.100.20');
      expect(h.backend.host().uplinks[bridge]).to.equal('tunnel0');
    }
    await h.call('tunnel.remove_from_other_config', t, 'remote_ip');
    expect(h.backend.host().tunnels).to.deep.equal([]);
    expect(h.backend.host().bridges).to.include(bridge);
  });

  it('TUN-01b a second tunnel takes tunnel1 and its own MAC; vxlan is kept', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const t0 = await h.call('tunnel.create', x, await makeNetwork(h), 'gre');
    const t1 = await h.call('tunnel.create', x, await makeNetwork(h), 'vxlan');
    const a0 = await h.call('PIF.get_record', await h.call('tunnel.get_access_PIF', t0));
    const a1 = await h.call('PIF.get_record', await h.call('tunnel.get_access_PIF', t1));
    expect(a1.device).to.equal('tunnel1');
    expect(a1.MAC).to.not.equal(a0.MAC);
    expect(await h.call('tunnel.get_protocol', t1)).to.equal('vxlan');
  });

  it('TUN-02 unmanaged transport PIF → PIF_UNMANAGED [X]', async () => {
    const x = h.pif('eth4');
    await setFields(h, 'PIF', x, { managed: false });
    const nt = await makeNetwork(h);
    await failsAtomically(h, ['PIF_UNMANAGED', x], () => h.fails('tunnel.create', x, nt, 'gre'));
  });

  it('TUN-03 tunnel network already connected (checked before managed) → NETWORK_ALREADY_CONNECTED [H, X]', async () => {
    const x = h.pif('eth4');
    await setFields(h, 'PIF', x, { managed: false });
    const n = await h.call('PIF.get_network', x);
    await failsAtomically(h, ['NETWORK_ALREADY_CONNECTED', h.r.d.hostRef, x], () => h.fails('tunnel.create', x, n, 'gre'));
  });

  it('TUN-04 tunnel on a bond slave → CANNOT_ADD_TUNNEL_TO_BOND_SLAVE [X] (seed: Using Bond Slaves)', async () => {
    const x = h.pif('eth2');
    await giveIp(h, x);
    await rawBond(h, [x, h.pif('eth3')]);
    const nt = await makeNetwork(h);
    await failsAtomically(h, ['CANNOT_ADD_TUNNEL_TO_BOND_SLAVE', x], () => h.fails('tunnel.create', x, nt, 'gre'));
  });

  it('TUN-05 tunnel over a tunnel access PIF → IS_TUNNEL_ACCESS_PIF [A]', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const a = await h.call('tunnel.get_access_PIF', await h.call('tunnel.create', x, await makeNetwork(h), 'gre'));
    const nt2 = await makeNetwork(h);
    await failsAtomically(h, ['IS_TUNNEL_ACCESS_PIF', a], () => h.fails('tunnel.create', a, nt2, 'gre'));
  });

  it('X-TN-01 tunnel over a VLAN PIF is allowed', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const u = await h.call('VLAN.get_untagged_PIF', await h.call('VLAN.create', x, '9', await makeNetwork(h)));
    await giveIp(h, u, '203.0.113.4');
    const t = await h.call('tunnel.create', u, await makeNetwork(h), 'gre');
    expect(await h.call('tunnel.get_transport_PIF', t)).to.equal(u);
  });

  it('X-TN-02 a host without the openvswitch backend → OPENVSWITCH_NOT_ACTIVE []', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    await h.r.store.write((tx) => {
      const sv = { ...(tx.get('host', h.r.d.hostRef).software_version as Record<string, string>), network_backend: 'bridge' };
      tx.set('host', h.r.d.hostRef, { software_version: sv });
    });
    const nt = await makeNetwork(h);
    await failsAtomically(h, ['OPENVSWITCH_NOT_ACTIVE'], () => h.fails('tunnel.create', x, nt, 'gre'));
  });

  it('X-TN-03 transport without IP configuration → TRANSPORT_PIF_NOT_CONFIGURED [X], nothing left behind (xapi leaves orphans)', async () => {
    const x = h.pif('eth4');
    const nt = await makeNetwork(h);
    await failsAtomically(h, ['TRANSPORT_PIF_NOT_CONFIGURED', x], () => h.fails('tunnel.create', x, nt, 'gre'));
    expect(h.find('tunnel', () => true)).to.deep.equal([]);
  });

  it('X-TN-04 unmanaged tunnel network → NETWORK_UNMANAGED [N]', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const n = await makeNetwork(h, { managed: false });
    await failsAtomically(h, ['NETWORK_UNMANAGED', n], () => h.fails('tunnel.create', x, n, 'gre'));
  });

  it('X-TN-05 tunnel.destroy removes tunnel, access PIF and bridge; transport and metrics stay', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const nt = await makeNetwork(h);
    const t = await h.call('tunnel.create', x, nt, 'gre');
    const a = await h.call('tunnel.get_access_PIF', t);
    const bridge = await h.call('network.get_bridge', nt);
    expect(await h.call('tunnel.destroy', t)).to.equal('');
    expect(h.r.store.find('tunnel', t)).to.equal(undefined);
    expect(h.r.store.find('PIF', a)).to.equal(undefined);
    expect(await h.call('PIF.get_tunnel_transport_PIF_of', x)).to.deep.equal([]);
    // The transport PIF keeps its own metrics object, intact.
    const xm = await h.call<string>('PIF.get_metrics', x);
    const xmUuid = await h.call<string>('PIF_metrics.get_uuid', xm);
    expect(xmUuid).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await h.call('PIF_metrics.get_by_uuid', xmUuid)).to.equal(xm);
    const host = h.backend.host();
    expect(host.bridges).to.not.include(bridge);
    expect(host.tunnels).to.deep.equal([]);
  });

  it('X-TN-06 tunnel.destroy with a running VM on the tunnel network → VIF_IN_USE [network, vif]', async () => {
    const x = h.pif('eth4');
    await giveIp(h, x);
    const nt = await makeNetwork(h);
    const t = await h.call('tunnel.create', x, nt, 'gre');
    const { vifs } = await vmWithVifs(h, [nt]);
    expect(h.backend.host().vifs).to.deep.equal({ 'vif1.0': await h.call('network.get_bridge', nt) });
    await failsAtomically(h, ['VIF_IN_USE', nt, vifs[0]], () => h.fails('tunnel.destroy', t));
  });
});

describe('tunnel on the embedded default (simulated host, openvswitch-flavoured)', () => {
  it('TUN-DEF-01 with no --network-backend the simulated host reports network_backend=openvswitch and tunnel.create works', async () => {
    const h = await startHarness();
    try {
      expect((await h.call('host.get_software_version', h.r.d.hostRef)).network_backend).to.equal('openvswitch');
      const x = h.pif('eth4');
      await giveIp(h, x);
      const t = await h.call('tunnel.create', x, await makeNetwork(h), 'gre');
      expect(await h.call('tunnel.get_protocol', t)).to.equal('gre');
    } finally {
      await h.close();
    }
  });

  it('TUN-DEF-02 --network-backend bridge selects the bridge flavour: tunnel.create → OPENVSWITCH_NOT_ACTIVE', async () => {
    expect(parseArgs(['--network-backend', 'bridge']).networkBackend).to.equal('bridge');
    expect(() => parseArgs(['--network-backend', 'ovs'])).to.throw(/openvswitch or bridge/);
    expect(defaultNetworkBackend('ifcfg')).to.equal('bridge');
    const h = await startHarness({ config: { networkBackend: parseArgs(['--network-backend', 'bridge']).networkBackend } });
    try {
      const x = h.pif('eth4');
      await giveIp(h, x);
      expect(await h.fails('tunnel.create', x, await makeNetwork(h), 'gre')).to.deep.equal(['OPENVSWITCH_NOT_ACTIVE']);
    } finally {
      await h.close();
    }
  });
});
