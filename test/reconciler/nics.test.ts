// The host's NIC list as the reconciler sees it (issue 9 §4): refreshed by PIF.scan and whenever a
// plan meets a NIC it has not seen; a call that needs a NIC the host lacks fails before the host is
// touched, with nothing changed (fitting plans to the NICs present is for start-up only).
import { expect } from 'chai';
import type { Harness } from '../helpers/harness.js';
import { freshHarnessEachTest, makeNetwork } from '../helpers/vmfix.js';

describe('reconciler: the host NIC list', () => {
  let h!: Harness;
  freshHarnessEachTest({}, (x) => (h = x));

  it('NIC-01 a NIC added after start: PIF.scan introduces eth9 and PIF.plug really puts eth9 on its bridge', async () => {
    h.backend.addNic({ device: 'eth9', MAC: '02:00:5e:00:53:19', MTU: 1500, carrier: true });
    await h.call('PIF.scan', h.r.d.hostRef);
    const pif = h.pif('eth9');
    await h.call('PIF.plug', pif);
    const bridge = await h.call('network.get_bridge', await h.call('PIF.get_network', pif));
    expect(await h.call('PIF.get_currently_attached', pif)).to.equal(true);
    expect(h.backend.host().uplinks[bridge]).to.equal('eth9');
  });

  it('NIC-02 a plan meeting a NIC it does not know reads the NICs again (no PIF.scan in between)', async () => {
    h.backend.addNic({ device: 'eth9', MAC: '02:00:5e:00:53:19', MTU: 1500, carrier: true });
    // A PIF for eth9 made without PIF.scan (PIF.introduce reads the NICs itself, not through the reconciler).
    const pif = await h.call('PIF.introduce', h.r.d.hostRef, '02:00:5e:00:53:19', 'eth9', true);
    await h.call('PIF.plug', pif);
    const bridge = await h.call('network.get_bridge', await h.call('PIF.get_network', pif));
    expect(h.backend.host().uplinks[bridge]).to.equal('eth9');
  });

  it('NIC-03 Bond.create with a member whose NIC vanished → PIF_CONFIGURATION_ERROR [its PIF, "NIC eth3 is not present…"], nothing changed, host untouched', async () => {
    const net = await makeNetwork(h);
    await h.call('PIF.plug', h.pif('eth1')); // a plugged member: the bond master is plugged by Bond.create
    h.backend.removeNic('eth3');
    await h.call('PIF.scan', h.r.d.hostRef); // the NIC list is read again: eth3 is gone (its PIF stays, as in xapi)
    const before = h.dump();
    const host = h.backend.host();
    const plans = h.backend.stats.plans;
    const err = await h.fails('Bond.create', net, [h.pif('eth1'), h.pif('eth3')], '', 'active-backup', {});
    expect(err[0]).to.equal('PIF_CONFIGURATION_ERROR');
    expect(err[1]).to.equal(h.pif('eth3'));
    expect(err[2]).to.match(/^NIC eth3 is not present on this host/);
    expect(h.dump()).to.deep.equal(before);
    expect(h.backend.host()).to.deep.equal(host);
    expect(h.backend.stats.plans, 'the backend was not asked').to.equal(plans);
    // the dry run says the same
    const dry = await h.fails('DryRun.Bond.create', net, [h.pif('eth1'), h.pif('eth3')], '', 'active-backup', {});
    expect(dry.slice(0, 2)).to.deep.equal(['PIF_CONFIGURATION_ERROR', h.pif('eth3')]);
    // a bond over NICs the host has is fine
    await h.call('Bond.create', net, [h.pif('eth1'), h.pif('eth2')], '', 'active-backup', {});
    expect(h.backend.host().bondMembers).to.deep.equal({ bond0: ['eth1', 'eth2'] });
  });
});
