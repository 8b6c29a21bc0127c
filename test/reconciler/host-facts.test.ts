// The host the main scenarios must produce, written out by hand: bridges, uplinks, bond members,
// VLAN parents and tags, MTUs, addresses and VIF ports. assertHostMatchesDb compares the host with
// the product's own desiredState(), which cannot catch a wrong desired state; these can (for
// instance the PIF other_config:mtu override of xapi's nm.ml determine_mtu).
import { expect } from 'chai';
import type { Harness } from '../helpers/harness.js';
import { freshHarnessEachTest, makeNetwork, vmWithVifs } from '../helpers/vmfix.js';

describe('reconciler: host facts of the main scenarios (simulated backend)', function () {
  let h: Harness;
  freshHarnessEachTest({}, (x) => (h = x));

  it('FACTS-01 first start: only the management NIC is up, on xenbr0 with 192.0.2.10', () => {
    const host = h.backend.host();
    expect(host.bridges).to.deep.equal(['xenbr0']);
    expect(host.uplinks).to.deep.equal({ xenbr0: 'eth0' });
    expect(host.ips).to.deep.equal({ xenbr0: '192.0.2.10' });
    expect(host.mtu).to.deep.equal({ xenbr0: 1500 });
  });

  it('FACTS-02 PIF.plug eth1: xenbr1 carries eth1 at the network MTU', async () => {
    await h.call('network.set_MTU', await h.call('PIF.get_network', h.pif('eth1')), 9000);
    await h.call('PIF.plug', h.pif('eth1'));
    const host = h.backend.host();
    expect(host.uplinks).to.deep.equal({ xenbr0: 'eth0', xenbr1: 'eth1' });
    expect(host.mtu).to.deep.equal({ xenbr0: 1500, xenbr1: 9000 });
  });

  it('FACTS-03 PIF other_config:mtu overrides the network MTU (nm.ml determine_mtu); a value that is not a number does not', async () => {
    await h.call('PIF.add_to_other_config', h.pif('eth1'), 'mtu', '9000');
    await h.call('PIF.plug', h.pif('eth1'));
    expect(h.backend.host().mtu.xenbr1).to.equal(9000);
    await h.call('PIF.unplug', h.pif('eth1'));
    await h.call('PIF.remove_from_other_config', h.pif('eth1'), 'mtu');
    await h.call('PIF.add_to_other_config', h.pif('eth1'), 'mtu', 'jumbo');
    await h.call('PIF.plug', h.pif('eth1'));
    expect(h.backend.host().mtu.xenbr1).to.equal(1500);
  });

  it('FACTS-04 VLAN.create 42 on eth2: a VLAN bridge on xenbr2 with tag 42, and xenbr2 carries eth2', async () => {
    const net = await makeNetwork(h, { name_label: 'v42' });
    const bridge = await h.call<string>('network.get_bridge', net);
    const vlanPif = await h.call<string>('VLAN.get_untagged_PIF', await h.call('VLAN.create', h.pif('eth2'), 42, net));
    await h.call('PIF.plug', vlanPif);
    const host = h.backend.host();
    expect(host.vlans).to.deep.equal({ [bridge]: { parent: 'xenbr2', tag: 42 } });
    expect(host.uplinks).to.deep.equal({ xenbr0: 'eth0', xenbr2: 'eth2' });
    expect(host.bridges).to.deep.equal(['xenbr0', 'xenbr2', bridge].sort());
  });

  it("FACTS-05 Bond.create eth1+eth2 balance-slb: one bridge with bond0 of both, the members' bridges gone", async () => {
    await h.call('PIF.plug', h.pif('eth1'));
    const net = await makeNetwork(h, { name_label: 'bond' });
    const bridge = await h.call<string>('network.get_bridge', net);
    await h.call('Bond.create', net, [h.pif('eth1'), h.pif('eth2')], '', 'balance-slb', {});
    const host = h.backend.host();
    expect(host.uplinks).to.deep.equal({ xenbr0: 'eth0', [bridge]: 'bond0' });
    expect(host.bondMembers).to.deep.equal({ bond0: ['eth1', 'eth2'] });
    expect(host.bridges).to.not.include('xenbr1');
  });

  it('FACTS-06 reconfigure_ip Static on eth1, then None: the address appears on xenbr1 and goes', async () => {
    await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'Static', '198.51.100.7', '255.255.255.0', '', '');
    await h.call('PIF.plug', h.pif('eth1'));
    expect(h.backend.host().ips).to.deep.equal({ xenbr0: '192.0.2.10', xenbr1: '198.51.100.7' });
    await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'None', '', '', '', '');
    expect(h.backend.host().ips).to.deep.equal({ xenbr0: '192.0.2.10' });
  });

  it('FACTS-07 a running guest: its VIF ports on the bridges of its networks, an internal bridge for a network without PIF', async () => {
    const internal = await makeNetwork(h, { name_label: 'internal' });
    const ibridge = await h.call<string>('network.get_bridge', internal);
    const mgmtNet = await h.call<string>('PIF.get_network', h.pif('eth0'));
    const { vm } = await vmWithVifs(h, [mgmtNet, internal], { start: true });
    const domid = await h.call<string>('VM.get_domid', vm);
    const host = h.backend.host();
    expect(host.vifs).to.deep.equal({ [`vif${domid}.0`]: 'xenbr0', [`vif${domid}.1`]: ibridge });
    expect(host.uplinks[ibridge]).to.equal(undefined);
  });
});
