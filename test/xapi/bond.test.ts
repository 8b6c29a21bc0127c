// Bond.create / Bond.destroy / Bond.set_mode / Bond.set_property over the real XML-RPC wire:
// peer-scenarios Part A.1 (BOND-*) and A.6 (NM-*), every numbered step of the seed's New
// Behaviour for create (SEED-C*) and destroy (SEED-D*), the divergences in docs/compat.md
// (COMPAT-*), atomicity (dump + host before/after) and a backend fault at every plan step.
// SR-IOV scenarios (BOND-05, BOND-06, BOND-08, BOND-09) are out of scope: no SR-IOV here.
import { expect } from 'chai';
import { NULL_REF } from '../../src/store/store.js';
import { possibleHosts } from '../../src/xapi/vm.js';
import { dbIntroduceParams, startHarness, XenAPIFailure, type Harness } from '../helpers/harness.js';
import { assertHostMatchesDb, failsAtomically, makeNetwork, makeVIF, makeVM, setFields, setGuestMetrics, vmWithVifs } from '../helpers/vmfix.js';

const MGMT_IP = { ip_configuration_mode: 'Static', IP: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1', DNS: '192.0.2.53' };
const NO_IP = { ip_configuration_mode: 'None', IP: '', netmask: '', gateway: '', DNS: '' };

/** Record of a PIF over the wire. */
const pif = (h: Harness, ref: string) => h.call<Record<string, any>>('PIF.get_record', ref);
const bondRec = (h: Harness, ref: string) => h.call<Record<string, any>>('Bond.get_record', ref);
const bridgeOf = async (h: Harness, net: string) => String(await h.call('network.get_bridge', net));
const sorted = (a: string[]) => [...a].sort();

/** Runs `call` with a backend fault injected at plan step 0, 1, ... until it succeeds; every failure must leave DB and host as before. */
async function faultAtEveryStep(h: Harness, call: () => Promise<unknown>): Promise<{ steps: number; result: unknown }> {
  const before = h.dump();
  const host = h.backend.host();
  for (let k = 0; k < 500; k++) {
    h.backend.faults.failAt = (_s, i) => i === k;
    try {
      const result = await call();
      h.backend.faults.failAt = undefined;
      return { steps: k, result };
    } catch (e) {
      if (!(e instanceof XenAPIFailure)) throw e;
      expect(e.details[0]).to.equal('PIF_CONFIGURATION_ERROR');
      expect(e.details).to.have.length(3);
      expect(h.dump(), `DB after a fault at step ${k}`).to.deep.equal(before);
      expect(h.backend.host(), `host after a fault at step ${k}`).to.deep.equal(host);
    }
  }
  throw new Error('never succeeded');
}

/** Adds a second host with one physical PIF (records only, as xapi's unit tests make hosts). */
async function secondHost(h: Harness): Promise<{ host: string; pif: string; network: string }> {
  const network = await makeNetwork(h, { name_label: 'remote' });
  return h.r.store.write((tx) => {
    const metrics = tx.create('host_metrics', { live: true });
    const host = tx.create('host', { name_label: 'other', hostname: 'other', address: '198.51.100.2', enabled: true, metrics });
    const m = tx.create('PIF_metrics', {});
    const p = tx.create('PIF', {
      device: 'eth0',
      device_name: 'eth0',
      network,
      host,
      MAC: '02:00:00:00:99:01',
      MTU: 1500,
      VLAN: -1,
      metrics: m,
      physical: true,
      currently_attached: false,
      properties: { gro: 'on' },
    });
    return { host, pif: p, network };
  });
}

/** Makes every host report the openvswitch backend (tunnel.create needs it). */
async function openvswitch(h: Harness): Promise<void> {
  const sv = await h.call<Record<string, string>>('host.get_software_version', h.r.d.hostRef);
  await setFields(h, 'host', h.r.d.hostRef, { software_version: { ...sv, network_backend: 'openvswitch' } });
}

describe('Bond', () => {
  let h: Harness;
  let host: string;
  beforeEach(async () => {
    h = await startHarness();
    host = h.r.d.hostRef;
  });
  afterEach(async () => {
    h.backend.faults.failAt = undefined;
    await h.close();
  });

  describe('Bond.create preconditions (peer-scenarios A.1, xapi checks in order)', () => {
    it('BOND-01 unmanaged member is rejected', async () => {
      const nets = [await makeNetwork(h), await makeNetwork(h)];
      const [p1, p2] = await Promise.all(
        nets.map((n, i) => h.call('PIF.db_introduce', ...dbIntroduceParams(`eth${7 + i}`, n, host, `02:00:00:00:01:0${i}`, { gro: 'on' }))),
      );
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_UNMANAGED', p1], () => h.fails('Bond.create', nb, [p1, p2], 'ff:ff:ff:ff:ff:ff', 'active-backup', {}));
    });

    it('BOND-02 bond network already has a PIF on this host', async () => {
      const nb = await makeNetwork(h);
      const p0 = await h.call('PIF.db_introduce', 'eth9', nb, host, '02:00:00:00:01:09', 1500, -1, true, 'None', '', '', '', '', NULL_REF, NULL_REF, false, {});
      await failsAtomically(h, ['NETWORK_ALREADY_CONNECTED', host, p0], () =>
        h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], 'ff:ff:ff:ff:ff:ff', 'active-backup', {}),
      );
    });

    it('BOND-03 member already a bond slave', async () => {
      await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'active-backup', {});
      await h.call('Bond.create', await makeNetwork(h), [h.pif('eth3'), h.pif('eth4')], '', 'active-backup', {});
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_ALREADY_BONDED', h.pif('eth1')], () =>
        h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth3')], 'ff:ff:ff:ff:ff:ff', 'active-backup', {}),
      );
    });

    it('BOND-04 member is a VLAN PIF on a physical PIF: PIF_VLAN_EXISTS [device name]', async () => {
      const v1 = await h.call('VLAN.create', h.pif('eth1'), 1, await makeNetwork(h));
      const v2 = await h.call('VLAN.create', h.pif('eth2'), 1, await makeNetwork(h));
      const u1 = await h.call('VLAN.get_untagged_PIF', v1);
      const u2 = await h.call('VLAN.get_untagged_PIF', v2);
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_VLAN_EXISTS', 'eth1'], () => h.fails('Bond.create', nb, [u1, u2], 'ff:ff:ff:ff:ff:ff', 'active-backup', {}));
    });

    it('BOND-07 member is a tunnel access PIF', async () => {
      await openvswitch(h);
      const access: string[] = [];
      for (const d of ['eth1', 'eth2']) {
        await h.call('PIF.reconfigure_ip', h.pif(d), 'Static', d === 'eth1' ? '198.51.100.1' : '198.51.100.2', '255.255.255.0', '', '');
        const t = await h.call('tunnel.create', h.pif(d), await makeNetwork(h), 'gre');
        access.push(await h.call('tunnel.get_access_PIF', t));
      }
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['IS_TUNNEL_ACCESS_PIF', access[0]], () => h.fails('Bond.create', nb, access, 'ff:ff:ff:ff:ff:ff', 'active-backup', {}));
    });

    it('BOND-05, BOND-06, BOND-08, BOND-09 (SR-IOV) are out of scope: this daemon has no network_sriov', () => {
      expect(h.find('PIF', (p) => Array.isArray(p.sriov_logical_PIF_of) && p.sriov_logical_PIF_of.length > 0)).to.deep.equal([]);
    });

    it('empty member list: PIF_BOND_NEEDS_MORE_MEMBERS []', async () => {
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_BOND_NEEDS_MORE_MEMBERS'], () => h.fails('Bond.create', nb, [], '', 'balance-slb', {}));
    });

    it('unmanaged bond network: NETWORK_UNMANAGED [network]', async () => {
      const nb = await makeNetwork(h, { managed: false });
      await failsAtomically(h, ['NETWORK_UNMANAGED', nb], () => h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {}));
    });

    it('dangling network ref: HANDLE_INVALID [network, ref]', async () => {
      await failsAtomically(h, ['HANDLE_INVALID', 'network', 'OpaqueRef:nope'], () =>
        h.fails('Bond.create', 'OpaqueRef:nope', [h.pif('eth1')], '', 'balance-slb', {}),
      );
    });

    it('invalid MAC: MAC_INVALID [mac], checked before the members', async () => {
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['MAC_INVALID', '02:00:00:00:00'], () =>
        h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '02:00:00:00:00', 'balance-slb', {}),
      );
    });

    it('properties: any key is INVALID_VALUE outside lacp; bad lacp values too', async () => {
      const nb = await makeNetwork(h);
      const m = [h.pif('eth1'), h.pif('eth2')];
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'hashing_algorithm = src_mac'], () =>
        h.fails('Bond.create', nb, m, '', 'balance-slb', { hashing_algorithm: 'src_mac' }),
      );
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'lacp-time = sometimes'], () =>
        h.fails('Bond.create', nb, m, '', 'lacp', { 'lacp-time': 'sometimes' }),
      );
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'lacp-aggregation-key = 12a'], () =>
        h.fails('Bond.create', nb, m, '', 'lacp', { 'lacp-aggregation-key': '12a' }),
      );
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'miimon = 100'], () => h.fails('Bond.create', nb, m, '', 'lacp', { miimon: '100' }));
    });

    it('members on two hosts: PIF_CANNOT_BOND_CROSS_HOST []', async () => {
      const other = await secondHost(h);
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_CANNOT_BOND_CROSS_HOST'], () => h.fails('Bond.create', nb, [h.pif('eth1'), other.pif], '', 'balance-slb', {}));
    });

    it('members with different properties: INCOMPATIBLE_PIF_PROPERTIES []', async () => {
      await h.call('PIF.set_property', h.pif('eth2'), 'gro', 'off');
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['INCOMPATIBLE_PIF_PROPERTIES'], () => h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {}));
    });

    it('two members with IP configuration: PIF_BOND_MORE_THAN_ONE_IP []', async () => {
      await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'DHCP', '', '', '', '');
      await h.call('PIF.reconfigure_ip', h.pif('eth2'), 'DHCP', '', '', '', '');
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_BOND_MORE_THAN_ONE_IP'], () => h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {}));
    });

    it('a member with another primary address type: PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE [member]', async () => {
      await h.call('PIF.set_primary_address_type', h.pif('eth2'), 'IPv6');
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE', h.pif('eth2')], () =>
        h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {}),
      );
    });

    it('COMPAT-BOND-MASTER-MEMBER a bond master as a member is PIF_ALREADY_BONDED (xapi accepts it)', async () => {
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['PIF_ALREADY_BONDED', master], () => h.fails('Bond.create', nb, [master, h.pif('eth3')], '', 'balance-slb', {}));
    });
  });

  describe("Bond.create: the seed's steps", () => {
    it('SEED-C1 duplicate members are removed (the last occurrence is kept); one member is accepted', async () => {
      const nb = await makeNetwork(h);
      const b = await h.call('Bond.create', nb, [h.pif('eth2'), h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const rec = await bondRec(h, b);
      expect(sorted(rec.slaves)).to.deep.equal(sorted([h.pif('eth1'), h.pif('eth2')]));
      // no IP, no management: the first member after de-duplication is the primary slave
      expect(rec.primary_slave).to.equal(h.pif('eth1'));
      const one = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth3')], '', 'balance-slb', {});
      expect((await bondRec(h, one)).slaves).to.deep.equal([h.pif('eth3')]);
    });

    it('SEED-C3 a VIF that cannot be unplugged (no PV drivers) rolls back', async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const vm = await makeVM(h, { HVM_boot_policy: 'BIOS order' });
      await makeVIF(h, vm, n1, '0');
      await h.call('VM.start', vm, false, false);
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['VM_MISSING_PV_DRIVERS', vm], () => h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {}));
    });

    it('SEED-C3 a VIF of a guest that states it cannot hot-unplug rolls back', async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const vm = await makeVM(h, { HVM_boot_policy: 'BIOS order' });
      await setGuestMetrics(h, vm, { can_use_hotplug_vif: 'no', PV_drivers_detected: true });
      await makeVIF(h, vm, n1, '0');
      // the second VM's VIF could be unplugged, the first cannot: nothing changes
      const ok = await vmWithVifs(h, [n1]);
      void ok;
      await h.call('VM.start', vm, false, false);
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['OPERATION_NOT_ALLOWED', 'VM states it does not support VIF hotplug.'], () =>
        h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {}),
      );
    });

    it('SEED-C3 an attached VIF of a paused VM cannot be unplugged: VM_BAD_POWER_STATE', async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const { vm } = await vmWithVifs(h, [n1]);
      await h.call('VM.pause', vm);
      const nb = await makeNetwork(h);
      await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'running', 'paused'], () =>
        h.fails('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {}),
      );
    });

    it('SEED-C4 primary slave: the management PIF wherever it is listed', async () => {
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth0')], '', 'balance-slb', {});
      expect((await bondRec(h, b)).primary_slave).to.equal(h.pif('eth0'));
    });

    it('SEED-C4 primary slave: else the first member with IP configuration', async () => {
      await h.call('PIF.reconfigure_ip', h.pif('eth3'), 'Static', '198.51.100.3', '255.255.255.0', '', '');
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth2'), h.pif('eth3')], '', 'balance-slb', {});
      const rec = await bondRec(h, b);
      expect(rec.primary_slave).to.equal(h.pif('eth3'));
      expect((await pif(h, rec.master)).MAC).to.equal('02:00:5e:00:53:13');
    });

    it('SEED-C5/C6/C7 master PIF, Bond record and slaves (MAC given: auto_update_mac false)', async () => {
      await h.call('PIF.set_disallow_unplug', h.pif('eth2'), true);
      const nb = await makeNetwork(h);
      const b = await h.call('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '02:AA:bb:cc:dd:ee', 'lacp', { 'lacp-aggregation-key': '0x1_0' });
      const rec = await bondRec(h, b);
      const master = rec.master;
      const metrics = (await pif(h, master)).metrics;
      expect(rec).to.deep.equal({
        uuid: rec.uuid,
        master,
        slaves: rec.slaves,
        other_config: {},
        primary_slave: h.pif('eth1'),
        mode: 'lacp',
        properties: { hashing_algorithm: 'tcpudp_ports', 'lacp-time': 'slow', 'lacp-fallback-ab': 'true', 'lacp-aggregation-key': '0x1_0' },
        links_up: '0',
        auto_update_mac: false,
      });
      expect(sorted(rec.slaves)).to.deep.equal(sorted([h.pif('eth1'), h.pif('eth2')]));
      expect(await pif(h, master)).to.deep.equal({
        uuid: (await pif(h, master)).uuid,
        device: 'bond0',
        network: nb,
        host,
        MAC: '02:AA:bb:cc:dd:ee',
        MTU: '1500',
        VLAN: '-1',
        metrics,
        physical: false,
        currently_attached: false,
        ...NO_IP,
        bond_slave_of: NULL_REF,
        bond_master_of: [b],
        VLAN_master_of: NULL_REF,
        VLAN_slave_of: [],
        management: false,
        other_config: {},
        disallow_unplug: true,
        tunnel_access_PIF_of: [],
        tunnel_transport_PIF_of: [],
        ipv6_configuration_mode: 'None',
        IPv6: [''],
        ipv6_gateway: '',
        primary_address_type: 'IPv4',
        managed: true,
        properties: { gro: 'on' },
        capabilities: [],
        igmp_snooping_status: 'unknown',
        sriov_physical_PIF_of: [],
        sriov_logical_PIF_of: [],
        PCI: NULL_REF,
      });
      expect(await h.call('PIF_metrics.get_carrier', metrics)).to.equal(false);
      for (const s of ['eth1', 'eth2']) {
        const r = await pif(h, h.pif(s));
        expect([r.bond_slave_of, r.currently_attached, r.disallow_unplug, r.ip_configuration_mode]).to.deep.equal([b, false, false, 'None']);
      }
      await assertHostMatchesDb(h);
    });

    it('SEED-C5 bondN: the smallest N ≥ 0 unused by a bond master; a NIC named bond0 does not count', async () => {
      await h.call(
        'PIF.db_introduce',
        'bond0',
        await makeNetwork(h),
        host,
        '02:00:00:00:01:01',
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
      );
      const b0 = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1')], '', 'balance-slb', {});
      const b1 = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth2')], '', 'balance-slb', {});
      expect(await h.call('PIF.get_device', await h.call('Bond.get_master', b0))).to.equal('bond0');
      expect(await h.call('PIF.get_device', await h.call('Bond.get_master', b1))).to.equal('bond1');
      await h.call('Bond.destroy', b0);
      const b2 = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth3')], '', 'balance-slb', {});
      expect(await h.call('PIF.get_device', await h.call('Bond.get_master', b2))).to.equal('bond0');
    });

    it("SEED-C5 the master takes the primary slave's IP configuration (IPv4 and IPv6) and the slave loses it", async () => {
      await h.call('PIF.reconfigure_ip', h.pif('eth2'), 'Static', '198.51.100.7', '255.255.255.0', '198.51.100.1', '198.51.100.53');
      await h.call('PIF.reconfigure_ipv6', h.pif('eth2'), 'Static', '2001:db8::7/64', '2001:db8::1', '');
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const m = await pif(h, await h.call('Bond.get_master', b));
      expect([m.ip_configuration_mode, m.IP, m.netmask, m.gateway, m.DNS]).to.deep.equal([
        'Static',
        '198.51.100.7',
        '255.255.255.0',
        '198.51.100.1',
        '198.51.100.53',
      ]);
      expect([m.ipv6_configuration_mode, m.IPv6, m.ipv6_gateway]).to.deep.equal(['Static', ['2001:db8::7/64'], '2001:db8::1']);
      const s = await pif(h, h.pif('eth2'));
      expect([s.ip_configuration_mode, s.IP, s.netmask, s.gateway, s.DNS, s.ipv6_configuration_mode, s.IPv6, s.ipv6_gateway]).to.deep.equal([
        'None',
        '',
        '',
        '',
        '',
        'None',
        [],
        '',
      ]);
      expect(m.MAC).to.equal('02:00:5e:00:53:12');
    });

    it('SEED-C8 VLANs with different tags move to the master with their networks', async () => {
      await h.call('PIF.plug', h.pif('eth1'));
      const nv10 = await makeNetwork(h, { name_label: 'v10' });
      const nv20 = await makeNetwork(h, { name_label: 'v20' });
      const old10 = await h.call('VLAN.create', h.pif('eth1'), 10, nv10);
      const old20 = await h.call('VLAN.create', h.pif('eth2'), 20, nv20);
      const u10 = await h.call('VLAN.get_untagged_PIF', old10);
      await h.call('PIF.reconfigure_ip', u10, 'Static', '203.0.113.10', '255.255.255.0', '', '');
      await h.call('PIF.unplug', await h.call('VLAN.get_untagged_PIF', old20));
      const nb = await makeNetwork(h);
      const b = await h.call('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      expect(h.find('VLAN', (v) => v.tagged_PIF !== master)).to.deep.equal([]);
      expect(await h.call('VLAN.get_all')).to.not.include.members([old10, old20]);
      const vlans = await h.call<string[]>('PIF.get_VLAN_slave_of', master);
      expect(vlans).to.have.length(2);
      const byTag: Record<string, Record<string, any>> = {};
      for (const v of vlans) byTag[await h.call('VLAN.get_tag', v)] = await pif(h, await h.call('VLAN.get_untagged_PIF', v));
      expect([byTag['10'].network, byTag['10'].device, byTag['10'].VLAN, byTag['10'].currently_attached, byTag['10'].IP]).to.deep.equal([
        nv10,
        'bond0',
        '10',
        true,
        '203.0.113.10',
      ]);
      expect([byTag['20'].network, byTag['20'].device, byTag['20'].currently_attached, byTag['20'].ip_configuration_mode]).to.deep.equal([
        nv20,
        'bond0',
        false,
        'None',
      ]);
      expect(h.find('PIF', (p) => p.network === nv10 || p.network === nv20)).to.have.length(2);
      const hv = h.backend.host();
      const bb = await bridgeOf(h, nb);
      expect(hv.vlans[await bridgeOf(h, nv10)]).to.deep.equal({ parent: bb, tag: 10 });
      expect(hv.vlans).to.not.have.property(await bridgeOf(h, nv20));
      expect(hv.ips[await bridgeOf(h, nv10)]).to.equal('203.0.113.10');
      expect(hv.bondMembers).to.deep.equal({ bond0: ['eth1', 'eth2'] });
      expect(hv.bridges).to.not.include('xenbr1');
      await assertHostMatchesDb(h);
    });

    it("SEED-C8 same tag on two slaves: one VLAN on the network with the most VIFs, the other network's VIFs-to-move join it", async () => {
      const na = await makeNetwork(h, { name_label: 'few' });
      const nm = await makeNetwork(h, { name_label: 'many' });
      const va = await h.call('VLAN.create', h.pif('eth1'), 5, na);
      const vm5 = await h.call('VLAN.create', h.pif('eth2'), 5, nm);
      await h.call('PIF.reconfigure_ip', await h.call('VLAN.get_untagged_PIF', vm5), 'Static', '203.0.113.5', '255.255.255.0', '', '');
      const a = await vmWithVifs(h, [na]);
      const m1 = await vmWithVifs(h, [nm]);
      const m2 = await vmWithVifs(h, [nm], { start: false });
      const nb = await makeNetwork(h);
      const b = await h.call('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      const vlans = await h.call<string[]>('PIF.get_VLAN_slave_of', master);
      expect(vlans).to.have.length(1);
      expect(await h.call('VLAN.get_all')).to.deep.equal(vlans);
      const u = await pif(h, await h.call('VLAN.get_untagged_PIF', vlans[0]));
      expect([u.network, u.VLAN, u.currently_attached, u.IP]).to.deep.equal([nm, '5', true, '203.0.113.5']);
      expect(await h.call('VIF.get_network', a.vifs[0])).to.equal(nm);
      expect(await h.call('VIF.get_currently_attached', a.vifs[0])).to.equal(true);
      expect(await h.call('VIF.get_network', m1.vifs[0])).to.equal(nm);
      expect(await h.call('VIF.get_network', m2.vifs[0])).to.equal(nm);
      expect(await h.call('network.get_PIFs', na)).to.deep.equal([]);
      void va;
      const hv = h.backend.host();
      const bm = await bridgeOf(h, nm);
      expect(hv.vlans).to.deep.equal({ [bm]: { parent: await bridgeOf(h, nb), tag: 5 } });
      const doms = await Promise.all([a.vm, m1.vm].map((v) => h.call('VM.get_domid', v)));
      expect(hv.vifs).to.deep.equal({ [`vif${doms[0]}.0`]: bm, [`vif${doms[1]}.0`]: bm });
      await assertHostMatchesDb(h);
    });

    it('SEED-C9 tunnels move to the master with their networks (new access PIF, same network and protocol)', async () => {
      await openvswitch(h);
      await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'Static', '198.51.100.1', '255.255.255.0', '', '');
      const nt = await makeNetwork(h, { name_label: 'tun' });
      const t = await h.call('tunnel.create', h.pif('eth1'), nt, 'vxlan');
      const oldAccess = await h.call('tunnel.get_access_PIF', t);
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      const tunnels = await h.call<string[]>('PIF.get_tunnel_transport_PIF_of', master);
      expect(tunnels).to.have.length(1);
      expect(await h.call('tunnel.get_all')).to.deep.equal(tunnels);
      const tr = await h.call('tunnel.get_record', tunnels[0]);
      expect([tr.protocol, tr.status, tr.transport_PIF]).to.deep.equal(['vxlan', { active: 'false' }, master]);
      const acc = await pif(h, tr.access_PIF);
      expect([acc.network, acc.device, acc.currently_attached]).to.deep.equal([nt, 'tunnel1', true]);
      expect(h.find('PIF', (p) => p.network === nt)).to.deep.equal([tr.access_PIF]);
      expect(h.find('PIF', () => true)).to.not.include(oldAccess);
      // The moved tunnel is its bridge (as nm.ml); xapi's move_tunnel gives the new tunnel an empty other_config, so no static remote port.
      expect(h.backend.host().bridges).to.include(await h.call('network.get_bridge', nt));
      expect(h.backend.host().tunnels).to.deep.equal([]);
      await assertHostMatchesDb(h);
    });

    it('SEED-C10 VIFs-to-move: running here and halted-only-startable-here move; VMs on another host stay', async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const run = await vmWithVifs(h, [n1]);
      const halted = await vmWithVifs(h, [n1], { start: false });
      const elsewhere = await vmWithVifs(h, [n1], { start: false });
      const other = await secondHost(h);
      await setFields(h, 'VM', elsewhere.vm, { power_state: 'Running', resident_on: other.host, domid: 7 });
      const nb = await makeNetwork(h);
      await h.call('Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      expect(await h.call('VIF.get_network', run.vifs[0])).to.equal(nb);
      expect(await h.call('VIF.get_currently_attached', run.vifs[0])).to.equal(true);
      expect(await h.call('VIF.get_network', halted.vifs[0])).to.equal(nb);
      expect(await h.call('VIF.get_network', elsewhere.vifs[0])).to.equal(n1);
      const domid = await h.call('VM.get_domid', run.vm);
      expect(h.backend.host().vifs).to.deep.equal({ [`vif${domid}.0`]: await bridgeOf(h, nb) });
      await assertHostMatchesDb(h);
    });

    it('SEED-C10 a halted VM that could start on two hosts keeps its VIF', async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const halted = await vmWithVifs(h, [n1], { start: false });
      const other = await secondHost(h);
      // the other host also has a PIF on n1, so the VM could start there too
      await h.r.store.write((tx) => {
        tx.set('PIF', other.pif, { network: n1 });
      });
      await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      expect(await h.call('VIF.get_network', halted.vifs[0])).to.equal(n1);
    });

    it('COMPAT-VIF-TO-MOVE a halted VM that can start on no host keeps its VIF (xapi moves it)', async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      const other = await secondHost(h);
      // its second VIF's network exists only on a host that is not live: the VM can start nowhere
      await h.r.store.write((tx) => {
        tx.set('host_metrics', String(tx.get('host', other.host).metrics), { live: false });
      });
      const nowhere = await vmWithVifs(h, [n1, other.network], { start: false });
      expect(possibleHosts(h.r.store, nowhere.vm)).to.deep.equal([]);
      await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      expect(await h.call('VIF.get_network', nowhere.vifs[0])).to.equal(n1);
    });

    it('SEED-C11 management moves to the master, which is plugged; slaves unplugged; host follows', async () => {
      const nb = await makeNetwork(h);
      const b = await h.call('Bond.create', nb, [h.pif('eth0'), h.pif('eth1')], '', 'active-backup', {});
      const master = await h.call('Bond.get_master', b);
      const m = await pif(h, master);
      expect([m.management, m.currently_attached, m.MAC, m.IP, m.gateway, m.DNS]).to.deep.equal([
        true,
        true,
        '02:00:5e:00:53:10',
        '192.0.2.10',
        '192.0.2.1',
        '192.0.2.53',
      ]);
      expect(await h.call('host.get_management_interface', host)).to.equal(master);
      expect(await h.call('host.get_address', host)).to.equal('192.0.2.10');
      for (const s of ['eth0', 'eth1']) {
        const r = await pif(h, h.pif(s));
        expect([r.management, r.currently_attached, r.ip_configuration_mode, r.IP]).to.deep.equal([false, false, 'None', '']);
      }
      const hv = h.backend.host();
      const bb = await bridgeOf(h, nb);
      expect(hv.bridges).to.deep.equal([bb]);
      expect(hv.uplinks).to.deep.equal({ [bb]: 'bond0' });
      expect(hv.bondMembers).to.deep.equal({ bond0: ['eth0', 'eth1'] });
      expect(hv.ips).to.deep.equal({ [bb]: '192.0.2.10' });
      await assertHostMatchesDb(h);
    });

    it('SEED-C11 no management among the slaves: the master is plugged because a slave was', async () => {
      await h.call('PIF.plug', h.pif('eth2'));
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      expect(await h.call('PIF.get_currently_attached', master)).to.equal(true);
      expect(await h.call('PIF.get_currently_attached', h.pif('eth2'))).to.equal(false);
      expect(h.backend.host().bondMembers).to.deep.equal({ bond0: ['eth1', 'eth2'] });
      expect(h.backend.host().bridges).to.not.include('xenbr2');
      await assertHostMatchesDb(h);
    });

    it('COMPAT-PLUG-ON-CREATE no slave plugged: the master stays unplugged (xapi always plugs it)', async () => {
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      expect(await h.call('PIF.get_currently_attached', master)).to.equal(false);
      expect(await h.call('PIF.get_MTU', master)).to.equal('1500');
      expect(h.backend.host().bonds).to.deep.equal([]);
      await h.call('PIF.plug', master);
      expect(h.backend.host().bondMembers).to.deep.equal({ bond0: ['eth1', 'eth2'] });
      await assertHostMatchesDb(h);
    });

    it('SEED-C12 every slave loses its IP configuration and disallow_unplug', async () => {
      await h.call('PIF.set_disallow_unplug', h.pif('eth0'), true);
      await h.call('PIF.set_disallow_unplug', h.pif('eth1'), true);
      await h.call('PIF.reconfigure_ipv6', h.pif('eth1'), 'Autoconf', '', '', '');
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth0'), h.pif('eth1')], '', 'balance-slb', {});
      for (const s of ['eth0', 'eth1']) {
        const r = await pif(h, h.pif(s));
        expect([r.disallow_unplug, r.ip_configuration_mode, r.IP, r.netmask, r.gateway, r.DNS, r.ipv6_configuration_mode, r.IPv6]).to.deep.equal([
          false,
          'None',
          '',
          '',
          '',
          '',
          'None',
          [],
        ]);
      }
      expect(await h.call('PIF.get_disallow_unplug', await h.call('Bond.get_master', b))).to.equal(true);
    });

    it('SEED-C* a backend fault at every step of Bond.create leaves DB and host as before', async () => {
      const n1 = await h.call('PIF.get_network', h.pif('eth1'));
      await vmWithVifs(h, [n1]);
      await h.call('VLAN.create', h.pif('eth1'), 42, await makeNetwork(h));
      const nb = await makeNetwork(h);
      const { steps, result } = await faultAtEveryStep(h, () => h.call('Bond.create', nb, [h.pif('eth0'), h.pif('eth1')], '', 'balance-slb', {}));
      expect(steps).to.be.greaterThan(5);
      expect(await h.call('Bond.get_all')).to.deep.equal([result]);
      await assertHostMatchesDb(h);
    });

    it('Async.Bond.create runs as a task and returns the bond', async () => {
      const nb = await makeNetwork(h);
      const task = await h.call('Async.Bond.create', nb, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      for (let i = 0; i < 100 && (await h.call('task.get_status', task)) === 'pending'; i++) await new Promise((r) => setTimeout(r, 10));
      expect(await h.call('task.get_status', task)).to.equal('success');
      expect(await h.call('task.get_progress', task)).to.equal(1);
      const bonds = await h.call<string[]>('Bond.get_all');
      expect(await h.call('task.get_result', task)).to.contain(bonds[0]);
    });
  });

  describe("Bond.destroy: the seed's steps", () => {
    /** A bond of eth0 (management) and eth1 with a running VM on it, a VLAN and a tunnel. */
    async function bondedWorld(): Promise<Record<string, any>> {
      await openvswitch(h);
      await h.call('PIF.set_disallow_unplug', h.pif('eth1'), true);
      const nb = await makeNetwork(h, { name_label: 'bond' });
      const b = await h.call('Bond.create', nb, [h.pif('eth0'), h.pif('eth1')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      const nv = await makeNetwork(h, { name_label: 'vlan' });
      const vlan = await h.call('VLAN.create', master, 30, nv);
      const nt = await makeNetwork(h, { name_label: 'tun' });
      const tunnel = await h.call('tunnel.create', master, nt, 'gre');
      const vm = await vmWithVifs(h, [nb, nv]);
      return { nb, b, master, nv, vlan, nt, tunnel, vm };
    }

    it('SEED-D1 a VIF that cannot be unplugged rolls back', async () => {
      const w = await bondedWorld();
      const vm = await makeVM(h, { HVM_boot_policy: 'BIOS order' });
      await makeVIF(h, vm, w.nb, '0');
      await h.call('VM.start', vm, false, false);
      await failsAtomically(h, ['VM_MISSING_PV_DRIVERS', vm], () => h.fails('Bond.destroy', w.b));
    });

    it('SEED-D2..D9 configuration, VLANs, tunnels, VIFs and management go back to the primary slave', async () => {
      const w = await bondedWorld();
      const masterMetrics = await h.call('PIF.get_metrics', w.master);
      await h.call('Bond.destroy', w.b);
      const e0 = await pif(h, h.pif('eth0'));
      const e1 = await pif(h, h.pif('eth1'));
      // D2 IP configuration, D6 management, D7 all slaves plugged, D8 disallow_unplug
      expect([e0.ip_configuration_mode, e0.IP, e0.netmask, e0.gateway, e0.DNS]).to.deep.equal(Object.values(MGMT_IP));
      expect([e0.management, e0.currently_attached, e0.disallow_unplug, e0.bond_slave_of]).to.deep.equal([true, true, true, NULL_REF]);
      expect([e1.management, e1.currently_attached, e1.disallow_unplug, e1.bond_slave_of, e1.ip_configuration_mode]).to.deep.equal([
        false,
        true,
        false,
        NULL_REF,
        'None',
      ]);
      expect(await h.call('host.get_management_interface', host)).to.equal(h.pif('eth0'));
      // D3 VLAN with its network
      const vl = await h.call<string[]>('PIF.get_VLAN_slave_of', h.pif('eth0'));
      expect(vl).to.have.length(1);
      const u = await pif(h, await h.call('VLAN.get_untagged_PIF', vl[0]));
      expect([u.network, u.device, u.VLAN, u.currently_attached]).to.deep.equal([w.nv, 'eth0', '30', true]);
      // D4 tunnel with its network
      const tl = await h.call<string[]>('PIF.get_tunnel_transport_PIF_of', h.pif('eth0'));
      expect(tl).to.have.length(1);
      const acc = await pif(h, await h.call('tunnel.get_access_PIF', tl[0]));
      expect([acc.network, acc.currently_attached]).to.deep.equal([w.nt, true]);
      // D5 VIFs-to-move on the master's network go to the primary slave's network; the VLAN VIF stays on its (moved) network
      const n0 = e0.network;
      expect(await h.call('VIF.get_network', w.vm.vifs[0])).to.equal(n0);
      expect(await h.call('VIF.get_network', w.vm.vifs[1])).to.equal(w.nv);
      expect(await h.call('VIF.get_currently_attached', w.vm.vifs[0])).to.equal(true);
      // D9 Bond, master and its metrics gone; the bond network stays
      expect(await h.call('Bond.get_all')).to.deep.equal([]);
      expect(h.find('PIF', (p) => p.device === 'bond0')).to.deep.equal([]);
      expect(h.find('PIF_metrics', () => true)).to.not.include(masterMetrics);
      expect(await h.call('network.get_all')).to.include(w.nb);
      expect(await h.call('network.get_PIFs', w.nb)).to.deep.equal([]);
      // host: the bond is gone, eth0 and eth1 carry their own bridges, IP and VIF port on xenbr0
      const hv = h.backend.host();
      expect(hv.bonds).to.deep.equal([]);
      expect(hv.uplinks.xenbr0).to.equal('eth0');
      expect(hv.uplinks.xenbr1).to.equal('eth1');
      expect(hv.ips.xenbr0).to.equal('192.0.2.10');
      expect(hv.bridges).to.not.include(await bridgeOf(h, w.nb));
      expect(hv.vlans[await bridgeOf(h, w.nv)]).to.deep.equal({ parent: 'xenbr0', tag: 30 });
      const domid = await h.call('VM.get_domid', w.vm.vm);
      expect(hv.vifs[`vif${domid}.0`]).to.equal('xenbr0');
      await assertHostMatchesDb(h);
    });

    it('SEED-D7 an unplugged master: the slaves stay unplugged', async () => {
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      await h.call('Bond.destroy', b);
      for (const s of ['eth1', 'eth2']) expect(await h.call('PIF.get_currently_attached', h.pif(s))).to.equal(false);
      expect(h.backend.host().bridges).to.deep.equal(['xenbr0']);
      await assertHostMatchesDb(h);
    });

    it('SEED-D* a backend fault at every step of Bond.destroy leaves DB and host as before', async () => {
      const w = await bondedWorld();
      const { steps } = await faultAtEveryStep(h, () => h.call('Bond.destroy', w.b));
      expect(steps).to.be.greaterThan(5);
      expect(await h.call('Bond.get_all')).to.deep.equal([]);
      await assertHostMatchesDb(h);
    });

    it('a dangling Bond ref: HANDLE_INVALID', async () => {
      await failsAtomically(h, ['HANDLE_INVALID', 'Bond', 'OpaqueRef:gone'], () => h.fails('Bond.destroy', 'OpaqueRef:gone'));
    });
  });

  describe('Bond.set_mode / Bond.set_property', () => {
    it('set_mode lacp adds the defaults; back to balance-slb drops every property; the master is (re)plugged', async () => {
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      expect(await h.call('PIF.get_currently_attached', master)).to.equal(false);
      await h.call('Bond.set_mode', b, 'lacp');
      expect(await h.call('Bond.get_properties', b)).to.deep.equal({ hashing_algorithm: 'tcpudp_ports', 'lacp-time': 'slow', 'lacp-fallback-ab': 'true' });
      expect(await h.call('PIF.get_currently_attached', master)).to.equal(true);
      await h.call('Bond.set_property', b, 'lacp-time', 'fast');
      expect((await h.call('Bond.get_properties', b))['lacp-time']).to.equal('fast');
      const st = await h.backend.read();
      const up = Object.values(st.bridges).find((x) => x.uplink?.kind === 'bond')!.uplink as any;
      expect([up.mode, up.properties['lacp-time']]).to.deep.equal(['lacp', 'fast']);
      await h.call('Bond.set_mode', b, 'active-backup');
      expect(await h.call('Bond.get_properties', b)).to.deep.equal({});
      expect(await h.call('Bond.get_mode', b)).to.equal('active-backup');
      await assertHostMatchesDb(h);
    });

    it('set_property outside lacp, or a bad value: INVALID_VALUE ["properties", "k = v"]', async () => {
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], '', 'active-backup', {});
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'hashing_algorithm = src_mac'], () =>
        h.fails('Bond.set_property', b, 'hashing_algorithm', 'src_mac'),
      );
      await h.call('Bond.set_mode', b, 'lacp');
      await failsAtomically(h, ['INVALID_VALUE', 'properties', 'lacp-fallback-ab = maybe'], () => h.fails('Bond.set_property', b, 'lacp-fallback-ab', 'maybe'));
      await h.call('Bond.set_property', b, 'lacp-aggregation-key', '-42');
      expect((await h.call('Bond.get_properties', b))['lacp-aggregation-key']).to.equal('-42');
    });

    /** NM-01..04: bond master bring-up and the primary slave's MAC (auto_update_mac). */
    async function nm(auto: boolean, changeMac: boolean): Promise<string> {
      const b = await h.call('Bond.create', await makeNetwork(h), [h.pif('eth1'), h.pif('eth2')], auto ? '' : 'cc:11:11:11:11:11', 'balance-slb', {});
      const master = await h.call('Bond.get_master', b);
      if (changeMac) {
        (h.backend as any).nicTable.get('eth1').MAC = '12:34:56:78:90:ab';
        await h.call('PIF.scan', host);
        expect(await h.call('PIF.get_MAC', h.pif('eth1'))).to.equal('12:34:56:78:90:ab');
      }
      await h.call('PIF.plug', master);
      return h.call('PIF.get_MAC', master);
    }
    it('NM-01 auto_update_mac false, primary MAC unchanged: the given MAC stays', async () => {
      expect(await nm(false, false)).to.equal('cc:11:11:11:11:11');
    });
    it("NM-02 auto_update_mac true: the master has the primary slave's MAC", async () => {
      expect(await nm(true, false)).to.equal('02:00:5e:00:53:11');
    });
    it('NM-03 auto_update_mac false, primary MAC changed: the given MAC stays', async () => {
      expect(await nm(false, true)).to.equal('cc:11:11:11:11:11');
    });
    it('NM-04 auto_update_mac true, primary MAC changed: bring-up copies the new MAC', async () => {
      expect(await nm(true, true)).to.equal('12:34:56:78:90:ab');
      const st = await h.backend.read();
      const up = Object.values(st.bridges).find((x) => x.uplink?.kind === 'bond')!.uplink as any;
      expect(up.mac).to.equal('12:34:56:78:90:ab');
    });
  });
});
