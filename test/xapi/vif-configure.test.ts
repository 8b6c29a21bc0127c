// VIF.configure_ipv4 / configure_ipv6 as xapi_vif.ml: the checks in xapi's order, the fields
// stored as given, the guest agent's feature required in every mode, nothing on the host.
import { expect } from 'chai';
import { API_VERSION } from '../../schema/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { failsAtomically, makeNetwork, makeVIF, makeVM, setFields } from '../helpers/vmfix.js';

describe('VIF.configure_ipv4 / VIF.configure_ipv6', () => {
  let h: Harness;
  let vm: string;
  let vif: string;
  const ipv4 = async (ref: string) => {
    const r = await h.call('VIF.get_record', ref);
    return [r.ipv4_configuration_mode, r.ipv4_addresses, r.ipv4_gateway];
  };
  const ipv6 = async (ref: string) => {
    const r = await h.call('VIF.get_record', ref);
    return [r.ipv6_configuration_mode, r.ipv6_addresses, r.ipv6_gateway];
  };
  before(async () => {
    h = await startHarness();
    vm = await makeVM(h);
    vif = await makeVIF(h, vm, await makeNetwork(h));
  });
  after(async () => {
    await h?.close();
  });

  it('VIFCFG-01 without a guest agent that sets addresses: VM_LACKS_FEATURE [vm], in every mode, nothing changed', async () => {
    for (const [m, args] of [
      ['VIF.configure_ipv4', ['Static', '192.0.2.5/24', '192.0.2.1']],
      ['VIF.configure_ipv4', ['None']],
      ['VIF.configure_ipv6', ['Autoconf']],
    ] as const) {
      await failsAtomically(h, ['VM_LACKS_FEATURE', vm], () => h.fails(m, vif, ...args));
    }
    // The feature must be exactly "1".
    const gm = await h.r.store.write((tx) => tx.create('VM_guest_metrics', { other: { 'feature-static-ip-setting': '0' } }));
    await setFields(h, 'VM', vm, { guest_metrics: gm });
    await failsAtomically(h, ['VM_LACKS_FEATURE', vm], () => h.fails('VIF.configure_ipv4', vif, 'DHCP', '', ''));
    await setFields(h, 'VM_guest_metrics', gm, { other: { 'feature-static-ip-setting': '1' } });
  });

  it('VIFCFG-02 Static IPv4: stored as given; gateway optional; address and gateway default to ""', async () => {
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.5/24', '192.0.2.1');
    expect(await ipv4(vif)).to.deep.equal(['Static', ['192.0.2.5/24'], '192.0.2.1']);
    await h.call('VIF.configure_ipv4', vif, 'Static', '198.51.100.7/32');
    expect(await ipv4(vif)).to.deep.equal(['Static', ['198.51.100.7/32'], '']);
    // None and DHCP take no check, and xapi stores [address] even when it is "".
    await h.call('VIF.configure_ipv4', vif, 'None');
    expect(await ipv4(vif)).to.deep.equal(['None', [''], '']);
    await h.call('VIF.configure_ipv4', vif, 'DHCP', 'not an address', 'nor this');
    expect(await ipv4(vif)).to.deep.equal(['DHCP', ['not an address'], 'nor this']);
  });

  it('VIFCFG-03 Static IPv4 checks: a CIDR address (prefix 0..32), then a valid gateway', async () => {
    for (const bad of ['192.0.2.5', '192.0.2.5/33', '192.0.2.5/', '192.0.2.256/24', '2001:db8::1/64', '', 'x/24']) {
      await failsAtomically(h, ['INVALID_CIDR_ADDRESS_SPECIFIED', 'address'], () => h.fails('VIF.configure_ipv4', vif, 'Static', bad, ''));
    }
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.5/0', '');
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.5/32', '');
    for (const bad of ['192.0.2.1/24', '2001:db8::1', '300.0.0.1', 'gw']) {
      await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'], () => h.fails('VIF.configure_ipv4', vif, 'Static', '192.0.2.5/24', bad));
    }
    // A bad address is reported before a bad gateway.
    expect(await h.fails('VIF.configure_ipv4', vif, 'Static', 'bad', 'bad')).to.deep.equal(['INVALID_CIDR_ADDRESS_SPECIFIED', 'address']);
  });

  it('VIFCFG-04 Static IPv6 and Autoconf; the IPv6 checks; IPv4 untouched', async () => {
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.5/24', '192.0.2.1');
    await h.call('VIF.configure_ipv6', vif, 'Static', '2001:db8::5/64', '2001:db8::1');
    expect(await ipv6(vif)).to.deep.equal(['Static', ['2001:db8::5/64'], '2001:db8::1']);
    expect(await ipv4(vif)).to.deep.equal(['Static', ['192.0.2.5/24'], '192.0.2.1']);
    for (const bad of ['2001:db8::5', '2001:db8::5/129', '192.0.2.5/24']) {
      await failsAtomically(h, ['INVALID_CIDR_ADDRESS_SPECIFIED', 'address'], () => h.fails('VIF.configure_ipv6', vif, 'Static', bad, ''));
    }
    await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'gateway'], () => h.fails('VIF.configure_ipv6', vif, 'Static', '2001:db8::5/64', '192.0.2.1'));
    await h.call('VIF.configure_ipv6', vif, 'Autoconf', '', '');
    expect(await ipv6(vif)).to.deep.equal(['Autoconf', [''], '']);
    // Not a mode of IPv6.
    expect((await h.fails('VIF.configure_ipv6', vif, 'DHCP', '', ''))[0]).to.equal('FIELD_TYPE_ERROR');
  });

  it('VIFCFG-05 a locked VIF: a Static address must be one of its allowed addresses (network_default follows the network)', async () => {
    await setFields(h, 'VIF', vif, { locking_mode: 'locked', ipv4_allowed: ['192.0.2.9'], ipv6_allowed: ['2001:db8::9'] });
    await failsAtomically(h, ['ADDRESS_VIOLATES_LOCKING_CONSTRAINT', '192.0.2.5/24'], () => h.fails('VIF.configure_ipv4', vif, 'Static', '192.0.2.5/24', ''));
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.9/24', '');
    await failsAtomically(h, ['ADDRESS_VIOLATES_LOCKING_CONSTRAINT', '2001:db8::5/64'], () =>
      h.fails('VIF.configure_ipv6', vif, 'Static', '2001:db8::5/64', ''),
    );
    await h.call('VIF.configure_ipv6', vif, 'Static', '2001:db8::9/64', '');
    // Unlocked (explicitly, or by the network's default): any address.
    await setFields(h, 'VIF', vif, { locking_mode: 'network_default' });
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.5/24', '');
    const net = String(h.r.store.get('VIF', vif).network);
    await setFields(h, 'network', net, { default_locking_mode: 'disabled' });
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.6/24', '');
    await setFields(h, 'VIF', vif, { locking_mode: 'unlocked', ipv4_allowed: [], ipv6_allowed: [] });
  });

  it('VIFCFG-06 of a running VM: the fields change, the host does not (the guest agent applies them)', async () => {
    await h.call('VM.start', vm, false, false);
    const host = h.backend.host();
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.77/24', '192.0.2.1');
    expect(await ipv4(vif)).to.deep.equal(['Static', ['192.0.2.77/24'], '192.0.2.1']);
    expect(h.backend.host()).to.deep.equal(host);
    await h.call('VM.hard_shutdown', vm);
  });

  it('VIFCFG-07 host.software_version: the keys xapi publishes; product_version numeric (Ansible), 8.x', async () => {
    const sv = await h.call('host.get_software_version', h.r.d.hostRef);
    expect(Object.keys(sv)).to.deep.equal([
      'product_version',
      'product_version_text',
      'product_version_text_short',
      'platform_name',
      'platform_version',
      'product_brand',
      'xapi',
      'build_number',
      'xapi_build',
      'xen',
      'xencenter_min',
      'xencenter_max',
      'network_backend',
      'db_schema',
    ]);
    expect(sv.product_version).to.match(/^\d+\.\d+\.\d+$/);
    expect(Number(sv.product_version.split('.')[0])).to.be.at.least(8);
    expect(sv).to.deep.include({
      platform_name: 'XCP',
      product_brand: 'xenapi-netd',
      xencenter_min: `${API_VERSION.major}.${API_VERSION.minor}`,
      xencenter_max: `${API_VERSION.major}.${API_VERSION.minor}`,
      network_backend: 'openvswitch',
    });
    expect(sv.platform_version).to.match(/^\d+\.\d+\.\d+$/);
    expect(sv.xapi).to.match(/^\d+\.\d+$/);
  });

  it('VIFCFG-08 set_locking_mode and set_/add_/remove_ipv4_allowed, ipv6_allowed (xapi_vif.ml): an IP or a CIDR of the family, a set; the host untouched', async () => {
    const host = h.backend.host();
    await h.call('VIF.set_locking_mode', vif, 'locked');
    expect(await h.call('VIF.get_locking_mode', vif)).to.equal('locked');
    await h.call('VIF.set_ipv4_allowed', vif, ['192.0.2.9', '192.0.2.9', '198.51.100.0/24']);
    expect(await h.call('VIF.get_ipv4_allowed', vif)).to.deep.equal(['192.0.2.9', '198.51.100.0/24']);
    await h.call('VIF.add_ipv4_allowed', vif, '192.0.2.10');
    await h.call('VIF.add_ipv4_allowed', vif, '192.0.2.10');
    await h.call('VIF.remove_ipv4_allowed', vif, '192.0.2.9');
    await h.call('VIF.remove_ipv4_allowed', vif, '203.0.113.1'); // not there: no error
    expect(await h.call('VIF.get_ipv4_allowed', vif)).to.deep.equal(['198.51.100.0/24', '192.0.2.10']);
    for (const bad of ['192.0.2.300', 'x', '2001:db8::1', '192.0.2.1/33']) {
      await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'ipv4_allowed'], () => h.fails('VIF.add_ipv4_allowed', vif, bad));
      await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'ipv4_allowed'], () => h.fails('VIF.set_ipv4_allowed', vif, ['192.0.2.1', bad]));
    }
    await h.call('VIF.set_ipv6_allowed', vif, ['2001:db8::9', '2001:db8:1::/48']);
    await h.call('VIF.add_ipv6_allowed', vif, '2001:db8::a');
    await h.call('VIF.remove_ipv6_allowed', vif, '2001:db8::9');
    expect(await h.call('VIF.get_ipv6_allowed', vif)).to.deep.equal(['2001:db8:1::/48', '2001:db8::a']);
    await failsAtomically(h, ['INVALID_IP_ADDRESS_SPECIFIED', 'ipv6_allowed'], () => h.fails('VIF.add_ipv6_allowed', vif, '192.0.2.1'));
    // configure_ipv4's locking check reads what these set.
    await failsAtomically(h, ['ADDRESS_VIOLATES_LOCKING_CONSTRAINT', '192.0.2.9/24'], () => h.fails('VIF.configure_ipv4', vif, 'Static', '192.0.2.9/24', ''));
    await h.call('VIF.configure_ipv4', vif, 'Static', '192.0.2.10/24', '');
    expect(h.backend.host()).to.deep.equal(host);
    await h.call('VIF.set_ipv4_allowed', vif, []);
    await h.call('VIF.set_ipv6_allowed', vif, []);
    await h.call('VIF.set_locking_mode', vif, 'network_default');
  });
});
