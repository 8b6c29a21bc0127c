// The management interface over the real XML-RPC wire: host.management_reconfigure,
// host.management_disable, host.local_management_reconfigure, host.get_management_interface,
// pool.management_reconfigure, the seed's "Using Bond Slaves" rule for management, HA checks,
// the default-gateway/DNS interface choice (peer-scenarios A.8, GW-01..06), atomic failures and
// a backend fault at every plan step.
import { expect } from 'chai';
import { dbIntroduceParams, startHarness, XenAPIFailure, type Harness } from '../helpers/harness.js';
import { assertHostMatchesDb, failsAtomically, makeNetwork, setFields } from '../helpers/vmfix.js';

/** A second host with a physical PIF on `network` (records only). */
async function hostWithPif(h: Harness, network: string, fields: Record<string, unknown> = {}): Promise<{ host: string; pif: string }> {
  return h.r.store.write((tx) => {
    const metrics = tx.create('host_metrics', { live: true });
    const host = tx.create('host', { name_label: 'other', enabled: true, metrics });
    const pif = tx.create('PIF', {
      device: 'eth0',
      device_name: 'eth0',
      network,
      host,
      MAC: '02:00:00:00:99:01',
      MTU: 1500,
      VLAN: -1,
      metrics: tx.create('PIF_metrics', {}),
      physical: true,
      currently_attached: false,
      properties: { gro: 'on' },
      ip_configuration_mode: 'Static',
      IP: '198.51.100.99',
      netmask: '255.255.255.0',
      ...fields,
    });
    return { host, pif };
  });
}

describe('management interface', () => {
  let h: Harness;
  let host: string;
  const eth1Ip = (gw = '198.51.100.1', dns = '198.51.100.53') =>
    h.call('PIF.reconfigure_ip', h.pif('eth1'), 'Static', '198.51.100.5', '255.255.255.0', gw, dns);
  beforeEach(async () => {
    h = await startHarness();
    host = h.r.d.hostRef;
  });
  afterEach(async () => {
    h.backend.faults.failAt = undefined;
    await h.close();
  });

  describe('host.management_reconfigure', () => {
    it('MGMT-01 moves management to a configured PIF: plugged, flags moved, host.address, old PIF stays attached', async () => {
      await eth1Ip();
      await h.call('host.management_reconfigure', h.pif('eth1'));
      const e1 = await h.call('PIF.get_record', h.pif('eth1'));
      const e0 = await h.call('PIF.get_record', h.pif('eth0'));
      expect([e1.management, e1.currently_attached, e0.management, e0.currently_attached]).to.deep.equal([true, true, false, true]);
      expect(await h.call('host.get_management_interface', host)).to.equal(h.pif('eth1'));
      expect(await h.call('host.get_address', host)).to.equal('198.51.100.5');
      expect(h.backend.host().ips).to.deep.equal({ xenbr0: '192.0.2.10', xenbr1: '198.51.100.5' });
      await assertHostMatchesDb(h);
    });

    it('MGMT-02 SEED-SLAVE-MGMT a bond slave: CANNOT_PLUG_BOND_SLAVE [pif]', async () => {
      await h.call('Bond.create', await makeNetwork(h), [h.pif('eth0'), h.pif('eth1')], '', 'balance-slb', {});
      await failsAtomically(h, ['CANNOT_PLUG_BOND_SLAVE', h.pif('eth0')], () => h.fails('host.management_reconfigure', h.pif('eth0')));
    });

    it('MGMT-03 no configuration for the primary family: PIF_HAS_NO_NETWORK_CONFIGURATION / PIF_HAS_NO_V6_NETWORK_CONFIGURATION', async () => {
      await failsAtomically(h, ['PIF_HAS_NO_NETWORK_CONFIGURATION', h.pif('eth2')], () => h.fails('host.management_reconfigure', h.pif('eth2')));
      await h.call('PIF.set_primary_address_type', h.pif('eth2'), 'IPv6');
      await h.call('PIF.reconfigure_ip', h.pif('eth2'), 'DHCP', '', '', '', '');
      await failsAtomically(h, ['PIF_HAS_NO_V6_NETWORK_CONFIGURATION', h.pif('eth2')], () => h.fails('host.management_reconfigure', h.pif('eth2')));
      await failsAtomically(h, ['HANDLE_INVALID', 'PIF', 'OpaqueRef:x'], () => h.fails('host.management_reconfigure', 'OpaqueRef:x'));
    });

    it('MGMT-04 the PIF is already the management interface: nothing changes', async () => {
      const before = h.dump();
      await h.call('host.management_reconfigure', h.pif('eth0'));
      expect(h.dump()).to.deep.equal(before);
    });

    it('MGMT-05 an unmanaged PIF on an unmanaged network whose bridge the host lacks: BRIDGE_NOT_AVAILABLE [bridge]', async () => {
      const n = await h.call('network.create', { name_label: 'ext', name_description: '', MTU: 1500, other_config: {}, bridge: 'brext', managed: false });
      const p = await h.call('PIF.db_introduce', ...dbIntroduceParams('eth7', n, host, '02:00:00:00:07:07'));
      await failsAtomically(h, ['BRIDGE_NOT_AVAILABLE', 'brext'], () => h.fails('host.management_reconfigure', p));
    });

    it('MGMT-06 management onto a bond master', async () => {
      const nb = await makeNetwork(h);
      const b = await h.call('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      await h.call('PIF.reconfigure_ip', master, 'Static', '198.51.100.8', '255.255.255.0', '', '');
      await h.call('host.management_reconfigure', master);
      expect(await h.call('host.get_management_interface', host)).to.equal(master);
      const bb = await h.call('network.get_bridge', nb);
      expect(h.backend.host().ips[bb]).to.equal('198.51.100.8');
      expect(h.backend.host().bondMembers).to.deep.equal({ bond0: ['eth1', 'eth2'] });
      await assertHostMatchesDb(h);
    });

    it('MGMT-07 a backend fault at every step of management_reconfigure leaves DB and host as before', async () => {
      await eth1Ip();
      const before = h.dump();
      const hostBefore = h.backend.host();
      let k = 0;
      for (; k < 100; k++) {
        h.backend.faults.failAt = (_s, i) => i === k;
        try {
          await h.call('host.management_reconfigure', h.pif('eth1'));
          break;
        } catch (e) {
          if (!(e instanceof XenAPIFailure)) throw e;
          expect(e.details.slice(0, 2)).to.deep.equal(['PIF_CONFIGURATION_ERROR', h.pif('eth1')]);
          expect(h.dump()).to.deep.equal(before);
          expect(h.backend.host()).to.deep.equal(hostBefore);
        }
      }
      h.backend.faults.failAt = undefined;
      expect(k).to.be.greaterThan(1);
      expect(await h.call('host.get_management_interface', host)).to.equal(h.pif('eth1'));
      await assertHostMatchesDb(h);
    });
  });

  describe('host.management_disable / local_management_reconfigure / get_management_interface', () => {
    it('MGMT-10 management_disable clears every flag and unplugs nothing; get_management_interface then fails INTERNAL_ERROR [Not_found]', async () => {
      const hostBefore = h.backend.host();
      await h.call('host.management_disable');
      expect(h.find('PIF', (p) => p.management === true)).to.deep.equal([]);
      expect(await h.call('PIF.get_currently_attached', h.pif('eth0'))).to.equal(true);
      expect(await h.call('host.get_address', host)).to.equal('192.0.2.10');
      expect(h.backend.host()).to.deep.equal(hostBefore);
      expect(await h.fails('host.get_management_interface', host)).to.deep.equal(['INTERNAL_ERROR', 'Not_found']);
      await h.call('host.management_reconfigure', h.pif('eth0'));
      expect(await h.call('host.get_management_interface', host)).to.equal(h.pif('eth0'));
    });

    it('MGMT-11 management_disable on a pool slave: SLAVE_REQUIRES_MANAGEMENT_INTERFACE []', async () => {
      const other = await hostWithPif(h, await makeNetwork(h));
      await setFields(h, 'pool', h.r.d.poolRef, { master: other.host });
      await failsAtomically(h, ['SLAVE_REQUIRES_MANAGEMENT_INTERFACE'], () => h.fails('host.management_disable'));
    });

    it('MGMT-12 local_management_reconfigure outside emergency mode: NOT_IN_EMERGENCY_MODE []', async () => {
      await failsAtomically(h, ['NOT_IN_EMERGENCY_MODE'], () => h.fails('host.local_management_reconfigure', 'xenbr1'));
    });

    it('MGMT-13 get_management_interface of a dangling host: HANDLE_INVALID [host, ref]', async () => {
      expect(await h.fails('host.get_management_interface', 'OpaqueRef:x')).to.deep.equal(['HANDLE_INVALID', 'host', 'OpaqueRef:x']);
    });

    it('MGMT-14 with HA enabled: HA_IS_ENABLED from management_reconfigure, management_disable, pool.management_reconfigure; Bond.create over management: HA_CANNOT_CHANGE_BOND_STATUS_OF_MGMT_IFACE', async () => {
      await eth1Ip();
      await setFields(h, 'pool', h.r.d.poolRef, { ha_enabled: true });
      await failsAtomically(h, ['HA_IS_ENABLED'], () => h.fails('host.management_reconfigure', h.pif('eth1')));
      await failsAtomically(h, ['HA_IS_ENABLED'], () => h.fails('host.management_disable'));
      await failsAtomically(h, ['HA_IS_ENABLED'], () => h.fails('pool.management_reconfigure', h.r.store.get('PIF', h.pif('eth1')).network));
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['HA_CANNOT_CHANGE_BOND_STATUS_OF_MGMT_IFACE'], () =>
        h.fails('Bond.create', nb, [h.pif('eth2'), h.pif('eth0')], '', 'balance-slb', {}),
      );
    });
  });

  describe('pool.management_reconfigure', () => {
    it('POOLMGMT-01 one host: management moves to its PIF on the network', async () => {
      await eth1Ip();
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      await h.call('pool.management_reconfigure', n1);
      expect(await h.call('host.get_management_interface', host)).to.equal(h.pif('eth1'));
      await assertHostMatchesDb(h);
    });

    it('POOLMGMT-02 two hosts: both move, slaves first', async () => {
      await eth1Ip();
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const other = await hostWithPif(h, n1);
      await h.call('pool.management_reconfigure', n1);
      expect(await h.call('host.get_management_interface', host)).to.equal(h.pif('eth1'));
      expect(await h.call('host.get_management_interface', other.host)).to.equal(other.pif);
      expect(await h.call('host.get_address', other.host)).to.equal('198.51.100.99');
    });

    it('POOLMGMT-03 a host without a PIF on the network: PIF_NOT_PRESENT [host, network]', async () => {
      await eth1Ip();
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const other = await hostWithPif(h, await makeNetwork(h));
      await failsAtomically(h, ['PIF_NOT_PRESENT', other.host, n1], () => h.fails('pool.management_reconfigure', n1));
    });

    it('POOLMGMT-04 PIFs of different primary address types: PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE [pif]', async () => {
      await eth1Ip();
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const other = await hostWithPif(h, n1, { primary_address_type: 'IPv6' });
      await failsAtomically(h, ['PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE', other.pif], () => h.fails('pool.management_reconfigure', n1));
    });

    it('POOLMGMT-05 usability: PIF_HAS_NO_NETWORK_CONFIGURATION [pif]; a bond slave: CANNOT_PLUG_BOND_SLAVE [pif]', async () => {
      const n2 = await h.call('PIF.get_network', h.pif('eth2'));
      await failsAtomically(h, ['PIF_HAS_NO_NETWORK_CONFIGURATION', h.pif('eth2')], () => h.fails('pool.management_reconfigure', n2));
      await h.call('PIF.reconfigure_ip', h.pif('eth2'), 'DHCP', '', '', '', '');
      await h.call('Bond.create', await makeNetwork(h), [h.pif('eth3'), h.pif('eth2')], '', 'balance-slb', {});
      await failsAtomically(h, ['CANNOT_PLUG_BOND_SLAVE', h.pif('eth2')], () => h.fails('pool.management_reconfigure', n2));
    });
  });

  describe('default-gateway and DNS interfaces (peer-scenarios A.8)', () => {
    /** [bridge with the gateway, bridge with the DNS servers] as the backend was told. */
    async function gwDns(): Promise<[string[], string[]]> {
      const st = await h.backend.read();
      const gw = Object.values(st.bridges)
        .filter((b) => b.ip?.gateway)
        .map((b) => b.name);
      const dns = Object.values(st.bridges)
        .filter((b) => b.ip?.dns)
        .map((b) => b.name);
      return [gw, dns];
    }
    beforeEach(async () => {
      await h.call('PIF.plug', h.pif('eth1'));
      await eth1Ip();
    });
    it('GW-01 eth0 management, eth1 plain: (eth0, eth0)', async () => {
      expect(await gwDns()).to.deep.equal([['xenbr0'], ['xenbr0']]);
    });
    it('GW-02 eth0 management, eth1 brought up as management: (eth1, eth1)', async () => {
      await h.call('host.management_reconfigure', h.pif('eth1'));
      expect(await gwDns()).to.deep.equal([['xenbr1'], ['xenbr1']]);
    });
    it('GW-03 eth0 management, eth1 defaultroute=true: (eth1, eth0)', async () => {
      await h.call('PIF.add_to_other_config', h.pif('eth1'), 'defaultroute', 'true');
      expect(await gwDns()).to.deep.equal([['xenbr1'], ['xenbr0']]);
    });
    it('GW-04 eth0 management, eth1 peerdns=true: (eth0, eth1)', async () => {
      await h.call('PIF.add_to_other_config', h.pif('eth1'), 'peerdns', 'true');
      expect(await gwDns()).to.deep.equal([['xenbr0'], ['xenbr1']]);
    });
    it('GW-05 eth1 defaultroute=true, eth0 brought up as management: (eth1, eth0)', async () => {
      await h.call('host.management_reconfigure', h.pif('eth1'));
      await h.call('PIF.add_to_other_config', h.pif('eth1'), 'defaultroute', 'true');
      await h.call('host.management_reconfigure', h.pif('eth0'));
      expect(await gwDns()).to.deep.equal([['xenbr1'], ['xenbr0']]);
    });
    it('GW-06 eth1 peerdns=true, eth0 brought up as management: (eth0, eth1)', async () => {
      await h.call('host.management_reconfigure', h.pif('eth1'));
      await h.call('PIF.add_to_other_config', h.pif('eth1'), 'peerdns', 'true');
      await h.call('host.management_reconfigure', h.pif('eth0'));
      expect(await gwDns()).to.deep.equal([['xenbr0'], ['xenbr1']]);
    });
  });
});
