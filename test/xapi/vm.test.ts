import { expect } from 'chai';
import { possibleHosts } from '../../src/xapi/vm.js';
import type { Harness } from '../helpers/harness.js';
import { freshHarnessEachTest, failsAtomically, makeNetwork, makeVIF, makeVM, rawBond, setFields, vmWithVifs } from '../helpers/vmfix.js';

const NULL = 'OpaqueRef:NULL';

describe('VM (create and power operations)', () => {
  let h!: Harness;
  freshHarnessEachTest({}, (x) => (h = x));

  const state = async (vm: string) => {
    const r = await h.call('VM.get_record', vm);
    return { power_state: r.power_state, resident_on: r.resident_on, domid: r.domid };
  };

  it('X-VM-01 VM.create: defaults for omitted fields, Halted, domid -1, no residence, new VM_metrics, derived domain type', async () => {
    const vm = await makeVM(h, { name_label: 'a' });
    const r = await h.call('VM.get_record', vm);
    expect(r).to.deep.include({
      name_label: 'a',
      name_description: '',
      power_state: 'Halted',
      resident_on: NULL,
      scheduled_to_be_resident_on: NULL,
      affinity: NULL,
      domid: '-1',
      is_control_domain: false,
      is_a_template: false,
      guest_metrics: NULL,
      VIFs: [],
      domain_type: 'pv',
      current_operations: {},
    });
    // xapi_vm.create adds a random mac_seed (a UUID) when the caller gave none, and keeps a given one
    expect(Object.keys(r.other_config)).to.deep.equal(['mac_seed']);
    expect(r.other_config.mac_seed).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await h.call('VM.get_other_config', await makeVM(h))).mac_seed).to.not.equal(r.other_config.mac_seed);
    expect(await h.call('VM.get_other_config', await makeVM(h, { other_config: { mac_seed: 'mine', k: 'v' } }))).to.deep.equal({ mac_seed: 'mine', k: 'v' });
    expect(await h.call('VM_metrics.get_current_domain_type', r.metrics)).to.equal('unspecified');
    const hvm = await makeVM(h, { HVM_boot_policy: 'BIOS order' });
    expect(await h.call('VM.get_domain_type', hvm)).to.equal('hvm');
    const pvh = await makeVM(h, { domain_type: 'pvh' });
    expect(await h.call('VM.get_domain_type', pvh)).to.equal('pvh');
  });

  it('X-VM-02 VM.create asked for Running still gives Halted; Suspended without a suspend image → VM_BAD_POWER_STATE', async () => {
    const vm = await makeVM(h, { power_state: 'Running' });
    expect(await state(vm)).to.deep.equal({ power_state: 'Halted', resident_on: NULL, domid: '-1' });
    const before = h.dump();
    const err = await h.fails('VM.create', { name_label: 'x', power_state: 'Suspended' });
    expect([err[0], err[2], err[3]]).to.deep.equal(['VM_BAD_POWER_STATE', 'halted', 'suspended']);
    expect(h.dump()).to.deep.equal(before);
  });

  it('X-VM-02b VM.get_allowed_VIF_devices: 0..15 less the devices in use; get_allowed_VBD_devices: 0..254 (no VBDs here)', async () => {
    const vm = await makeVM(h);
    const all = Array.from({ length: 16 }, (_, i) => String(i));
    expect(await h.call('VM.get_allowed_VIF_devices', vm)).to.deep.equal(all);
    const n = await makeNetwork(h);
    await makeVIF(h, vm, n, '0');
    await makeVIF(h, vm, n, '3');
    await makeVIF(h, vm, n, '20');
    expect(await h.call('VM.get_allowed_VIF_devices', vm)).to.deep.equal(all.filter((d) => d !== '0' && d !== '3'));
    expect(await h.call('VM.get_allowed_VBD_devices', vm)).to.deep.equal(Array.from({ length: 255 }, (_, i) => String(i)));
    expect((await h.fails('VM.get_allowed_VIF_devices', 'OpaqueRef:nope'))[0]).to.equal('HANDLE_INVALID');
    expect((await h.fails('VM.get_allowed_VBD_devices', 'OpaqueRef:nope'))[0]).to.equal('HANDLE_INVALID');
  });

  it('X-VM-03 VM.start: Running on this host, next free domid, VIFs attached, ports on their bridges, PIFs plugged', async () => {
    const n1 = await makeNetwork(h);
    const n2 = await h.call('PIF.get_network', h.pif('eth2'));
    const a = await vmWithVifs(h, [n1, n2], { start: false });
    expect(await h.call('VM.start', a.vm, false, false)).to.equal('');
    expect(await state(a.vm)).to.deep.equal({ power_state: 'Running', resident_on: h.r.d.hostRef, domid: '1' });
    for (const v of a.vifs) expect(await h.call('VIF.get_currently_attached', v)).to.equal(true);
    expect(await h.call('PIF.get_currently_attached', h.pif('eth2'))).to.equal(true);
    expect(await h.call('host.get_resident_VMs', h.r.d.hostRef)).to.include(a.vm);
    const b = await vmWithVifs(h, [n1]);
    expect((await state(b.vm)).domid).to.equal('2');
    const br1 = await h.call('network.get_bridge', n1);
    expect(h.backend.host().vifs).to.deep.equal({ 'vif1.0': br1, 'vif1.1': 'xenbr2', 'vif2.0': br1 });
    expect(h.backend.host().uplinks.xenbr2).to.equal('eth2');
  });

  it('X-VM-04 VM.start of a running VM → VM_BAD_POWER_STATE [vm, "halted", "running"]; templates → VM_IS_TEMPLATE [vm, "start"]', async () => {
    const { vm } = await vmWithVifs(h, []);
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'halted', 'running'], () => h.fails('VM.start', vm, false, false));
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'halted', 'running'], () => h.fails('VM.start_on', vm, h.r.d.hostRef, false, false));
    const t = await makeVM(h, { is_a_template: true });
    await failsAtomically(h, ['VM_IS_TEMPLATE', t, 'start'], () => h.fails('VM.start', t, false, false));
  });

  it('X-SL-04 VM.start/start_on when a VIF needs a bond slave → CANNOT_PLUG_BOND_SLAVE [pif] (seed; xapi: NO_HOSTS_AVAILABLE / HOST_CANNOT_ATTACH_NETWORK)', async () => {
    const p = h.pif('eth2');
    const n = await h.call('PIF.get_network', p);
    const { vm } = await vmWithVifs(h, [await makeNetwork(h), n], { start: false });
    await rawBond(h, [p, h.pif('eth3')]);
    await failsAtomically(h, ['CANNOT_PLUG_BOND_SLAVE', p], () => h.fails('VM.start', vm, false, false));
    await failsAtomically(h, ['CANNOT_PLUG_BOND_SLAVE', p], () => h.fails('VM.start_on', vm, h.r.d.hostRef, false, false));
  });

  it('X-VM-05 a network this host cannot see: VM.start → NO_HOSTS_AVAILABLE, VM.start_on → VM_REQUIRES_NETWORK [vm, network]', async () => {
    const n = await makeNetwork(h);
    await h.r.store.write((tx) => {
      const other = tx.create('host', { name_label: 'other', enabled: true });
      tx.create('PIF', {
        device: 'eth0',
        network: n,
        host: other,
        MAC: '02:00:00:00:99:99',
        MTU: 1500,
        VLAN: -1,
        metrics: NULL,
        physical: true,
        currently_attached: false,
      });
    });
    const { vm } = await vmWithVifs(h, [n], { start: false });
    await failsAtomically(h, ['NO_HOSTS_AVAILABLE'], () => h.fails('VM.start', vm, false, false));
    await failsAtomically(h, ['VM_REQUIRES_NETWORK', vm, n], () => h.fails('VM.start_on', vm, h.r.d.hostRef, false, false));
  });

  it('X-VM-06 VM.start_on this host; start_paused gives Paused with the ports present', async () => {
    const n = await makeNetwork(h);
    const { vm } = await vmWithVifs(h, [n], { start: false });
    await h.call('VM.start_on', vm, h.r.d.hostRef, true, false);
    expect(await state(vm)).to.deep.equal({ power_state: 'Paused', resident_on: h.r.d.hostRef, domid: '1' });
    expect(h.backend.host().vifs).to.deep.equal({ 'vif1.0': await h.call('network.get_bridge', n) });
    await h.call('VM.unpause', vm);
    expect((await state(vm)).power_state).to.equal('Running');
    await h.call('VM.pause', vm);
    expect((await state(vm)).power_state).to.equal('Paused');
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'running', 'paused'], () => h.fails('VM.pause', vm));
    await h.call('VM.unpause', vm);
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'paused', 'running'], () => h.fails('VM.unpause', vm));
  });

  for (const op of ['clean_shutdown', 'hard_shutdown', 'shutdown']) {
    it(`X-VM-07 VM.${op}: Halted, no residence, domid -1, VIFs detached, ports gone`, async () => {
      const n = await makeNetwork(h);
      const { vm, vifs } = await vmWithVifs(h, [n]);
      expect(await h.call(`VM.${op}`, vm)).to.equal('');
      expect(await state(vm)).to.deep.equal({ power_state: 'Halted', resident_on: NULL, domid: '-1' });
      expect(await h.call('VIF.get_currently_attached', vifs[0])).to.equal(false);
      expect(await h.call('VIF.get_allowed_operations', vifs[0])).to.deep.equal(['attach']);
      expect(h.backend.host().vifs).to.deep.equal({});
      expect(h.backend.host().bridges).to.not.include(await h.call('network.get_bridge', n));
    });
  }

  it('X-VM-08 shutdown power-state errors: clean_shutdown needs Running; hard_shutdown/shutdown accept Paused and Suspended', async () => {
    const { vm } = await vmWithVifs(h, [], { start: false });
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'running', 'halted'], () => h.fails('VM.clean_shutdown', vm));
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'paused, suspended, running', 'halted'], () => h.fails('VM.hard_shutdown', vm));
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'paused, suspended, running', 'halted'], () => h.fails('VM.shutdown', vm));
    await h.call('VM.start', vm, true, false);
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'running', 'paused'], () => h.fails('VM.clean_shutdown', vm));
    await h.call('VM.hard_shutdown', vm);
    await h.call('VM.start', vm, false, false);
    await h.call('VM.suspend', vm);
    await h.call('VM.shutdown', vm);
    expect((await state(vm)).power_state).to.equal('Halted');
  });

  it('X-VM-09 VM.suspend: Suspended, no residence, domid -1, VIFs stay attached, ports gone; resume brings them back', async () => {
    const n = await makeNetwork(h);
    const { vm, vifs } = await vmWithVifs(h, [n]);
    await h.call('VM.suspend', vm);
    expect(await state(vm)).to.deep.equal({ power_state: 'Suspended', resident_on: NULL, domid: '-1' });
    expect(await h.call('VIF.get_currently_attached', vifs[0])).to.equal(true);
    expect(h.backend.host().vifs).to.deep.equal({});
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'running', 'suspended'], () => h.fails('VM.suspend', vm));
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'halted', 'suspended'], () => h.fails('VM.start', vm, false, false));
    await h.call('VM.resume', vm, false, false);
    expect(await state(vm)).to.deep.equal({ power_state: 'Running', resident_on: h.r.d.hostRef, domid: '1' });
    expect(h.backend.host().vifs).to.deep.equal({ 'vif1.0': await h.call('network.get_bridge', n) });
    await failsAtomically(h, ['VM_BAD_POWER_STATE', vm, 'suspended', 'running'], () => h.fails('VM.resume', vm, false, false));
  });

  it('X-VM-10 the control domain cannot be shut down → OPERATION_NOT_ALLOWED', async () => {
    const dom0 = String(h.r.store.get('host', h.r.d.hostRef).control_domain);
    await failsAtomically(h, ['OPERATION_NOT_ALLOWED', 'This operation is not allowed on a control domain'], () => h.fails('VM.clean_shutdown', dom0));
  });

  it('X-VM-11 VIFs detached while running stay detached across suspend/resume; start re-attaches all', async () => {
    const n = await makeNetwork(h);
    const { vm, vifs } = await vmWithVifs(h, [n, n]);
    await h.call('VIF.unplug', vifs[1]);
    await h.call('VM.suspend', vm);
    await h.call('VM.resume', vm, false, false);
    expect(await h.call('VIF.get_currently_attached', vifs[1])).to.equal(false);
    expect(Object.keys(h.backend.host().vifs)).to.deep.equal(['vif1.0']);
    await h.call('VM.hard_shutdown', vm);
    await h.call('VM.start', vm, false, false);
    expect(Object.keys(h.backend.host().vifs).sort()).to.deep.equal(['vif1.0', 'vif1.1']);
  });

  describe("possibleHosts (the VIF-to-move rule's P)", () => {
    it('X-VM-12 a plain halted VM can start on this host only', async () => {
      const { vm } = await vmWithVifs(h, [await makeNetwork(h)], { start: false });
      expect(possibleHosts(h.r.store, vm)).to.deep.equal([h.r.d.hostRef]);
    });

    it('X-VM-13 a VM needing a bond slave, or a network on another host only, has no possible host', async () => {
      const p = h.pif('eth2');
      const a = await vmWithVifs(h, [await h.call('PIF.get_network', p)], { start: false });
      await rawBond(h, [p, h.pif('eth3')]);
      expect(possibleHosts(h.r.store, a.vm)).to.deep.equal([]);
      const n = await makeNetwork(h);
      let other = '';
      await h.r.store.write((tx) => {
        other = tx.create('host', { name_label: 'other', enabled: true });
        tx.create('PIF', {
          device: 'eth0',
          network: n,
          host: other,
          MAC: '02:00:00:00:99:99',
          MTU: 1500,
          VLAN: -1,
          metrics: NULL,
          physical: true,
          currently_attached: false,
        });
      });
      const b = await vmWithVifs(h, [n], { start: false });
      // the other host has no live metrics: not a candidate either
      expect(possibleHosts(h.r.store, b.vm)).to.deep.equal([]);
      await h.r.store.write((tx) => {
        tx.set('host', other, { metrics: tx.create('host_metrics', { live: true }) });
      });
      expect(possibleHosts(h.r.store, b.vm)).to.deep.equal([other]);
    });

    it('X-VM-14 scheduled_to_be_resident_on wins; a disabled host is not a candidate', async () => {
      const { vm } = await vmWithVifs(h, [], { start: false });
      await setFields(h, 'host', h.r.d.hostRef, { enabled: false });
      expect(possibleHosts(h.r.store, vm)).to.deep.equal([]);
      await setFields(h, 'VM', vm, { scheduled_to_be_resident_on: h.r.d.hostRef });
      expect(possibleHosts(h.r.store, vm)).to.deep.equal([h.r.d.hostRef]);
    });

    it('X-VM-15 a PIF-less network used by a Running VM here is visible only here', async () => {
      const n = await makeNetwork(h);
      await vmWithVifs(h, [n]);
      let other = '';
      await h.r.store.write((tx) => {
        other = tx.create('host', { name_label: 'other', enabled: true, metrics: tx.create('host_metrics', { live: true }) });
      });
      const vm = await makeVM(h);
      await makeVIF(h, vm, n, '0');
      expect(possibleHosts(h.r.store, vm)).to.deep.equal([h.r.d.hostRef]);
      await setFields(h, 'network', n, { other_config: { assume_network_is_shared: 'true' } });
      expect(possibleHosts(h.r.store, vm).sort()).to.deep.equal([h.r.d.hostRef, other].sort());
    });
  });
});
