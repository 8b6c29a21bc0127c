// PIF calls over the real XML-RPC wire: plug/unplug (incl. the seed's "Using Bond Slaves"),
// reconfigure_ip(v6), set_primary_address_type, set_disallow_unplug (CLU-01), set_property,
// scan, introduce, forget, db_introduce, db_forget; exact errors, atomic failures, host = DB.
import { expect } from 'chai';
import { NULL_REF } from '../../src/store/store.js';
import { dbIntroduceParams, startHarness, type Harness } from '../helpers/harness.js';
import { assertHostMatchesDb, failsAtomically, makeNetwork, setFields, vmWithVifs } from '../helpers/vmfix.js';

const rec = (h: Harness, ref: string) => h.call<Record<string, any>>('PIF.get_record', ref);

describe('PIF', () => {
  let h: Harness;
  let host: string;
  beforeEach(async () => {
    h = await startHarness();
    host = h.r.d.hostRef;
  });
  afterEach(async () => {
    await h.close();
  });

  describe('plug / unplug', () => {
    it("PIF.plug brings up the NIC's bridge; PIF.unplug takes it down; re-plugging is allowed", async () => {
      await h.call('PIF.plug', h.pif('eth1'));
      await h.call('PIF.plug', h.pif('eth1'));
      expect(await h.call('PIF.get_currently_attached', h.pif('eth1'))).to.equal(true);
      expect(h.backend.host().uplinks).to.deep.equal({ xenbr0: 'eth0', xenbr1: 'eth1' });
      await h.call('PIF.unplug', h.pif('eth1'));
      expect(await h.call('PIF.get_currently_attached', h.pif('eth1'))).to.equal(false);
      expect(h.backend.host().bridges).to.deep.equal(['xenbr0']);
      await assertHostMatchesDb(h);
    });

    it('SEED-SLAVE-PLUG plugging a bond slave: CANNOT_PLUG_BOND_SLAVE [pif]', async () => {
      await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      await failsAtomically(h, ['CANNOT_PLUG_BOND_SLAVE', h.pif('eth1')], () => h.fails('PIF.plug', h.pif('eth1')));
    });

    it('PIF.plug / unplug of an unmanaged PIF: PIF_UNMANAGED [pif]', async () => {
      const p = await h.call('PIF.db_introduce', ...dbIntroduceParams('eth7', await makeNetwork(h), host, '02:00:00:00:07:07'));
      await failsAtomically(h, ['PIF_UNMANAGED', p], () => h.fails('PIF.plug', p));
      await failsAtomically(h, ['PIF_UNMANAGED', p], () => h.fails('PIF.unplug', p));
    });

    it('PIF.plug of a tunnel access PIF whose transport has no IPv4 configuration: TRANSPORT_PIF_NOT_CONFIGURED [transport]', async () => {
      const sv = await h.call<Record<string, string>>('host.get_software_version', host);
      await setFields(h, 'host', host, { software_version: { ...sv, network_backend: 'openvswitch' } });
      await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'DHCP', '', '', '', '');
      const t = await h.call('tunnel.create', h.pif('eth1'), await makeNetwork(h), 'gre');
      const access = await h.call('tunnel.get_access_PIF', t);
      await h.call('PIF.unplug', access);
      await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'None', '', '', '', '');
      await failsAtomically(h, ['TRANSPORT_PIF_NOT_CONFIGURED', h.pif('eth1')], () => h.fails('PIF.plug', access));
    });

    it('PIF.unplug of the management PIF: PIF_IS_MANAGEMENT_INTERFACE [pif]', async () => {
      await failsAtomically(h, ['PIF_IS_MANAGEMENT_INTERFACE', h.pif('eth0')], () => h.fails('PIF.unplug', h.pif('eth0')));
    });

    it("PIF.unplug with a running VM's attached VIF on the network: VIF_IN_USE [network, vif] (before disallow_unplug)", async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const { vifs } = await vmWithVifs(h, [n1]);
      await h.call('PIF.set_disallow_unplug', h.pif('eth1'), true);
      await failsAtomically(h, ['VIF_IN_USE', n1, vifs[0]], () => h.fails('PIF.unplug', h.pif('eth1')));
    });

    it('PIF.unplug with disallow_unplug: PIF_DOES_NOT_ALLOW_UNPLUG [pif]', async () => {
      await h.call('PIF.plug', h.pif('eth1'));
      await h.call('PIF.set_disallow_unplug', h.pif('eth1'), true);
      await failsAtomically(h, ['PIF_DOES_NOT_ALLOW_UNPLUG', h.pif('eth1')], () => h.fails('PIF.unplug', h.pif('eth1')));
    });

    it('a backend failure on plug: PIF_CONFIGURATION_ERROR [pif, msg] and nothing changed', async () => {
      h.backend.faults.failAt = () => true;
      const before = h.dump();
      const err = await h.fails('PIF.plug', h.pif('eth1'));
      h.backend.faults.failAt = undefined;
      expect(err.slice(0, 2)).to.deep.equal(['PIF_CONFIGURATION_ERROR', h.pif('eth1')]);
      expect(h.dump()).to.deep.equal(before);
      expect(h.backend.host().bridges).to.deep.equal(['xenbr0']);
    });
  });

  describe('reconfigure_ip / reconfigure_ipv6 / set_primary_address_type', () => {
    it('reconfigure_ip Static on an attached PIF puts the IP on its bridge; DNS keeps IPv4 entries only', async () => {
      await h.call('PIF.plug', h.pif('eth1'));
      await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'Static', '198.51.100.5', '255.255.255.0', '198.51.100.1', '198.51.100.53,2001:db8::53,bogus');
      const r = await rec(h, h.pif('eth1'));
      expect([r.ip_configuration_mode, r.IP, r.netmask, r.gateway, r.DNS, r.currently_attached]).to.deep.equal([
        'Static',
        '198.51.100.5',
        '255.255.255.0',
        '198.51.100.1',
        '198.51.100.53',
        true,
      ]);
      expect(h.backend.host().ips).to.deep.equal({ xenbr0: '192.0.2.10', xenbr1: '198.51.100.5' });
      await assertHostMatchesDb(h);
    });

    it('reconfigure_ip on an unplugged PIF only changes the record', async () => {
      await h.call('PIF.reconfigure_ip', h.pif('eth2'), 'DHCP', '', '', '', '');
      expect(await h.call('PIF.get_currently_attached', h.pif('eth2'))).to.equal(false);
      expect(h.backend.host().bridges).to.deep.equal(['xenbr0']);
    });

    it('reconfigure_ip validation: INVALID_IP_ADDRESS_SPECIFIED [IP|netmask|gateway], PIF_UNMANAGED, PIF_IS_MANAGEMENT_INTERFACE', async () => {
      const e1 = h.pif('eth1');
      await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'IP'], () => h.fails('PIF.reconfigure_ip', e1, 'Static', '', '255.255.255.0', '', ''));
      await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'netmask'], () =>
        h.fails('PIF.reconfigure_ip', e1, 'Static', '10.0.0.1', '255.255.255', '', ''),
      );
      await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'], () => h.fails('PIF.reconfigure_ip', e1, 'DHCP', '', '', '10.0.0.300', ''));
      await failsAtomically(h, ['PIF_IS_MANAGEMENT_INTERFACE', h.pif('eth0')], () => h.fails('PIF.reconfigure_ip', h.pif('eth0'), 'None', '', '', '', ''));
      const p = await h.call('PIF.db_introduce', ...dbIntroduceParams('eth7', await makeNetwork(h), host, '02:00:00:00:07:07'));
      await failsAtomically(h, ['PIF_UNMANAGED', p], () => h.fails('PIF.reconfigure_ip', p, 'DHCP', '', '', '', ''));
    });

    it('reconfigure_ip of the management PIF moves the host address', async () => {
      await h.call('PIF.reconfigure_ip', h.pif('eth0'), 'Static', '192.0.2.20', '255.255.255.0', '192.0.2.1', '');
      expect(await h.call('host.get_address', host)).to.equal('192.0.2.20');
      expect(h.backend.host().ips).to.deep.equal({ xenbr0: '192.0.2.20' });
    });

    it('reconfigure_ipv6: stores a one-element IPv6 set, keeps IPv4 DNS; errors INVALID_IP_ADDRESS_SPECIFIED [gateway], INVALID_CIDR_ADDRESS_SPECIFIED [IPv6]', async () => {
      const e0 = h.pif('eth0');
      await h.call('PIF.reconfigure_ipv6', e0, 'Static', '2001:db8::10/64', '2001:db8::1', '2001:db8::53,192.0.2.99');
      const r = await rec(h, e0);
      expect([r.ipv6_configuration_mode, r.IPv6, r.ipv6_gateway, r.DNS]).to.deep.equal([
        'Static',
        ['2001:db8::10/64'],
        '2001:db8::1',
        '2001:db8::53,192.0.2.53',
      ]);
      await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'], () =>
        h.fails('PIF.reconfigure_ipv6', e0, 'Static', '2001:db8::10/64', '192.0.2.1', ''),
      );
      await failsAtomically(h, ['INVALID_CIDR_ADDRESS_SPECIFIED', 'IPv6'], () => h.fails('PIF.reconfigure_ipv6', e0, 'Static', '2001:db8::10/129', '', ''));
      await h.call('PIF.reconfigure_ipv6', h.pif('eth1'), 'Static', '', '', '');
      expect(await h.call('PIF.get_IPv6', h.pif('eth1'))).to.deep.equal(['']);
    });

    it('set_primary_address_type: PIF_IS_MANAGEMENT_INTERFACE on the management PIF; stored otherwise', async () => {
      await failsAtomically(h, ['PIF_IS_MANAGEMENT_INTERFACE', h.pif('eth0')], () => h.fails('PIF.set_primary_address_type', h.pif('eth0'), 'IPv6'));
      await h.call('PIF.set_primary_address_type', h.pif('eth1'), 'IPv6');
      expect(await h.call('PIF.get_primary_address_type', h.pif('eth1'))).to.equal('IPv6');
    });
  });

  describe('set_disallow_unplug / set_property', () => {
    it('CLU-01 set_disallow_unplug with no clustering', async () => {
      const p = h.pif('eth1');
      expect(await h.call('PIF.get_disallow_unplug', p)).to.equal(false);
      await h.call('PIF.set_disallow_unplug', p, true);
      expect(await h.call('PIF.get_disallow_unplug', p)).to.equal(true);
      const n = await h.call('PIF.get_network', p);
      const p2 = await h.call(
        'PIF.db_introduce',
        'eth8',
        n,
        await secondHostRef(h),
        '02:00:00:00:08:08',
        1500,
        -1,
        true,
        'None',
        '',
        '',
        '',
        '',
        NULL_REF,
        NULL_REF,
        false,
        {},
        true,
      );
      expect(await h.call('PIF.get_disallow_unplug', p2)).to.equal(true);
      await h.call('PIF.set_disallow_unplug', p2, false);
      expect(await h.call('PIF.get_disallow_unplug', p2)).to.equal(false);
      const before = h.dump();
      await h.call('PIF.set_disallow_unplug', p2, false);
      expect(h.dump()).to.deep.equal(before);
    });

    it('set_property gro: INVALID_VALUE for anything else; CANNOT_CHANGE_PIF_PROPERTIES on a slave or VLAN; a bond master copies to its slaves', async () => {
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'gso = on'], () => h.fails('PIF.set_property', h.pif('eth1'), 'gso', 'on'));
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'gro = maybe'], () => h.fails('PIF.set_property', h.pif('eth1'), 'gro', 'maybe'));
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      await failsAtomically(h, ['CANNOT_CHANGE_PIF_PROPERTIES', h.pif('eth1')], () => h.fails('PIF.set_property', h.pif('eth1'), 'gro', 'off'));
      const v = await h.call('VLAN.create', h.pif('eth3'), 3, await makeNetwork(h));
      const u = await h.call('VLAN.get_untagged_PIF', v);
      await failsAtomically(h, ['CANNOT_CHANGE_PIF_PROPERTIES', u], () => h.fails('PIF.set_property', u, 'gro', 'off'));
      await h.call('PIF.set_property', master, 'gro', 'off');
      for (const p of [master, h.pif('eth1'), h.pif('eth2')]) expect(await h.call('PIF.get_properties', p)).to.deep.equal({ gro: 'off' });
      await h.call('PIF.set_property', h.pif('eth0'), 'gro', 'off');
      expect(await h.call('PIF.get_properties', h.pif('eth0'))).to.deep.equal({ gro: 'off' });
    });
  });

  describe('scan / introduce / forget / db_introduce / db_forget', () => {
    it('PIF.scan introduces a new NIC (network xenbr<N>, not attached) and refreshes MACs', async () => {
      (h.backend as any).nicTable.set('eth6', { device: 'eth6', MAC: '02:00:5E:00:53:66', MTU: 9000, carrier: true });
      (h.backend as any).nicTable.get('eth5').MAC = '02:00:5e:00:53:55';
      await h.call('PIF.scan', host);
      const p = h.pif('eth6');
      const r = await rec(h, p);
      expect([r.MAC, r.MTU, r.physical, r.currently_attached, r.management, r.VLAN, r.properties, r.managed]).to.deep.equal([
        '02:00:5e:00:53:66',
        '9000',
        true,
        false,
        false,
        '-1',
        { gro: 'on' },
        true,
      ]);
      expect(await h.call('network.get_bridge', r.network)).to.equal('xenbr6');
      expect(await h.call('PIF.get_MAC', h.pif('eth5'))).to.equal('02:00:5e:00:53:55');
      const before = h.dump();
      await h.call('PIF.scan', host);
      expect(h.dump()).to.deep.equal(before);
    });

    it('PIF.forget then PIF.introduce: the same network is reused; errors MAC_INVALID, DUPLICATE_PIF_DEVICE_NAME, COULD_NOT_FIND...', async () => {
      const old = h.pif('eth5');
      const net = await h.call('PIF.get_network', old);
      const metrics = await h.call('PIF.get_metrics', old);
      await h.call('PIF.forget', old);
      expect(h.find('PIF', (p) => p.device === 'eth5')).to.deep.equal([]);
      expect(h.find('PIF_metrics', () => true)).to.not.include(metrics);
      await failsAtomically(h, ['MAC_INVALID', 'zz'], () => h.fails('PIF.introduce', host, 'ZZ', 'eth5', true));
      await failsAtomically(h, ['DUPLICATE_PIF_DEVICE_NAME', 'eth4'], () => h.fails('PIF.introduce', host, '', 'eth4', true));
      await failsAtomically(h, ['COULD_NOT_FIND_NETWORK_INTERFACE_WITH_SPECIFIED_DEVICE_NAME_AND_MAC_ADDRESS', 'eth5', '02:00:00:00:00:01'], () =>
        h.fails('PIF.introduce', host, '02:00:00:00:00:01', 'eth5', true),
      );
      const p = await h.call('PIF.introduce', host, '02:00:5E:00:53:15', 'eth5', true);
      const r = await rec(h, p);
      expect([r.device, r.MAC, r.network, r.currently_attached]).to.deep.equal(['eth5', '02:00:5e:00:53:15', net, false]);
    });

    it('PIF.forget checks in order: management, bonded, VLAN, tunnel', async () => {
      await failsAtomically(h, ['PIF_IS_MANAGEMENT_INTERFACE', h.pif('eth0')], () => h.fails('PIF.forget', h.pif('eth0')));
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1')], '', 'balance-slb', {});
      await failsAtomically(h, ['PIF_ALREADY_BONDED', h.pif('eth1')], () => h.fails('PIF.forget', h.pif('eth1')));
      const master = await h.call('Bond.get_master', b);
      await failsAtomically(h, ['PIF_ALREADY_BONDED', master], () => h.fails('PIF.forget', master));
      const v = await h.call('VLAN.create', h.pif('eth2'), 2, await makeNetwork(h));
      await failsAtomically(h, ['PIF_VLAN_STILL_EXISTS', h.pif('eth2')], () => h.fails('PIF.forget', h.pif('eth2')));
      const u = await h.call('VLAN.get_untagged_PIF', v);
      await failsAtomically(h, ['PIF_VLAN_STILL_EXISTS', u], () => h.fails('PIF.forget', u));
    });

    it('PIF.forget of an attached PIF takes its bridge down', async () => {
      await h.call('PIF.plug', h.pif('eth3'));
      await h.call('PIF.forget', h.pif('eth3'));
      expect(h.backend.host().bridges).to.deep.equal(['xenbr0']);
      await assertHostMatchesDb(h);
    });

    it('PIF.db_introduce stores the values (bond_slave_of ignored, not attached); db_forget deletes the record only', async () => {
      const n = await makeNetwork(h);
      const fakeBond = 'OpaqueRef:some-bond';
      const p = await h.call(
        'PIF.db_introduce',
        'eth9',
        n,
        host,
        '02:00:00:00:09:09',
        9000,
        -1,
        true,
        'Static',
        '10.9.9.9',
        '255.0.0.0',
        '10.0.0.1',
        '10.0.0.53',
        fakeBond,
        NULL_REF,
        false,
        { a: 'b' },
        true,
        'Autoconf',
        ['fe80::1/64'],
        '',
        'IPv4',
        true,
        { gro: 'off' },
      );
      const r = await rec(h, p);
      expect([
        r.device,
        r.network,
        r.MTU,
        r.IP,
        r.bond_slave_of,
        r.currently_attached,
        r.disallow_unplug,
        r.other_config,
        r.IPv6,
        r.properties,
        r.capabilities,
        r.igmp_snooping_status,
      ]).to.deep.equal(['eth9', n, '9000', '10.9.9.9', NULL_REF, false, true, { a: 'b' }, ['fe80::1/64'], { gro: 'off' }, [], 'unknown']);
      await h.call('PIF.db_forget', p);
      expect(h.find('PIF', (x) => x.device === 'eth9')).to.deep.equal([]);
    });

    it('PIF.db_introduce of a VLAN PIF onto a network with trunked VIFs: NETWORK_INCOMPATIBLE_WITH_TRUNKS [network]', async () => {
      const n = await makeNetwork(h);
      await vmWithVifs(h, [n], { start: false });
      const vif = (await h.call<string[]>('network.get_VIFs', n))[0];
      await setFields(h, 'VIF', vif, { trunks: [5] });
      await failsAtomically(h, ['NETWORK_INCOMPATIBLE_WITH_TRUNKS', n], () =>
        h.fails('PIF.db_introduce', 'eth1', n, host, '02:00:00:00:09:09', 1500, 7, false, 'None', '', '', '', '', NULL_REF, NULL_REF, false, {}),
      );
    });
  });
});

/** A second host record (as xapi's unit tests make hosts). */
async function secondHostRef(h: Harness): Promise<string> {
  return h.r.store.write((tx) => tx.create('host', { name_label: 'other', enabled: true }));
}
