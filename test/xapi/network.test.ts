import { expect } from 'chai';
import type { Harness } from '../helpers/harness.js';
import { freshHarnessEachTest, failsAtomically, makeNetwork, makeVIF, makeVM, rawBond, setFields, vmWithVifs } from '../helpers/vmfix.js';

describe('network (create/destroy/attach/purposes/locking)', () => {
  let h!: Harness;
  freshHarnessEachTest({}, (x) => (h = x));

  describe('A.4 network purposes', () => {
    const setup = async (p1: string[], p2: string[]) => {
      const n1 = await makeNetwork(h);
      const n2 = await makeNetwork(h);
      for (const p of p1) await h.call('network.add_purpose', n1, p);
      for (const p of p2) await h.call('network.add_purpose', n2, p);
      return { n1, n2 };
    };
    const purposes = async (n: string) => [...(await h.call<string[]>('network.get_purpose', n))].sort();
    const ok: [string, string[], string[], string, string, string[]][] = [
      ['NET-01', [], [], 'add_purpose', 'nbd', ['nbd']],
      ['NET-02', [], ['nbd'], 'add_purpose', 'nbd', ['nbd']],
      ['NET-03', [], [], 'add_purpose', 'insecure_nbd', ['insecure_nbd']],
      ['NET-04', [], ['insecure_nbd'], 'add_purpose', 'insecure_nbd', ['insecure_nbd']],
      ['NET-05', ['nbd'], [], 'add_purpose', 'nbd', ['nbd']],
      ['NET-10', ['nbd'], [], 'remove_purpose', 'insecure_nbd', ['nbd']],
      ['NET-11', [], [], 'remove_purpose', 'nbd', []],
      ['NET-12', ['nbd'], [], 'remove_purpose', 'nbd', []],
    ];
    for (const [id, p1, p2, call, value, expected] of ok) {
      it(`${id} ${call}(n1 ${JSON.stringify(p1)}, ${value}) with n2 ${JSON.stringify(p2)} → n1 ${JSON.stringify(expected)}`, async () => {
        const { n1, n2 } = await setup(p1, p2);
        expect(await h.call(`network.${call}`, n1, value)).to.equal('');
        expect(await purposes(n1)).to.deep.equal(expected);
        expect(await purposes(n2)).to.deep.equal(p2);
      });
    }
    const bad: [string, string[], string[], string, string[]][] = [
      ['NET-06', ['nbd'], [], 'insecure_nbd', ['insecure_nbd', 'nbd']],
      ['NET-07', [], ['nbd'], 'insecure_nbd', ['insecure_nbd', 'nbd']],
      ['NET-08', ['insecure_nbd'], [], 'nbd', ['nbd', 'insecure_nbd']],
      ['NET-09', [], ['insecure_nbd'], 'nbd', ['nbd', 'insecure_nbd']],
    ];
    for (const [id, p1, p2, value, params] of bad) {
      it(`${id} add_purpose(n1 ${JSON.stringify(p1)}, ${value}) with n2 ${JSON.stringify(p2)} → NETWORK_INCOMPATIBLE_PURPOSES`, async () => {
        const { n1 } = await setup(p1, p2);
        await failsAtomically(h, ['NETWORK_INCOMPATIBLE_PURPOSES', ...params], () => h.fails('network.add_purpose', n1, value));
      });
    }
    it('X-NW-03 add_purpose on an unmanaged network → NETWORK_UNMANAGED [n]', async () => {
      const n = await makeNetwork(h, { managed: false });
      await failsAtomically(h, ['NETWORK_UNMANAGED', n], () => h.fails('network.add_purpose', n, 'nbd'));
    });
    it('X-NW-04 add_purpose prepends', async () => {
      const n = await makeNetwork(h);
      await h.call('network.add_purpose', n, 'nbd');
      await h.call('network.remove_purpose', n, 'nbd');
      await h.call('network.add_purpose', n, 'insecure_nbd');
      expect(await h.call('network.get_purpose', n)).to.deep.equal(['insecure_nbd']);
    });
  });

  describe('network.create', () => {
    it('X-NW-05 defaults: xapiN bridge, MTU ≤ 0 → 1500, purpose [], locking unlocked', async () => {
      const n = await makeNetwork(h, { MTU: '0', name_label: 'a', tags: ['t'] });
      const r = await h.call('network.get_record', n);
      expect(r).to.deep.include({
        name_label: 'a',
        name_description: '',
        MTU: '1500',
        other_config: {},
        bridge: 'xapi0',
        managed: true,
        tags: ['t'],
        purpose: [],
        default_locking_mode: 'unlocked',
        assigned_ips: {},
        blobs: {},
        VIFs: [],
        PIFs: [],
        allowed_operations: [],
        current_operations: {},
      });
      const n2 = await makeNetwork(h, { MTU: '-5' });
      expect(await h.call('network.get_bridge', n2)).to.equal('xapi1');
      expect(await h.call('network.get_MTU', n2)).to.equal('1500');
      const n3 = await makeNetwork(h, { MTU: '9000' });
      expect(await h.call('network.get_MTU', n3)).to.equal('9000');
    });

    it('X-NW-06 the generated name skips bridges in use', async () => {
      await makeNetwork(h, { bridge: 'mybr0' });
      await h.r.store.write((tx) => {
        tx.create('network', { bridge: 'xapi0', other_config: {} });
      });
      expect(await h.call('network.get_bridge', await makeNetwork(h))).to.equal('xapi1');
    });

    it('X-NW-02 reserved or long bridge names → INVALID_VALUE ["bridge", name]', async () => {
      for (const b of ['xenbr9', 'xapi77', 'vif1.0', 'tap3', 'eth7', 'abcdefghijklmnop']) {
        await failsAtomically(h, ['INVALID_VALUE', 'bridge', b], () =>
          h.fails('network.create', { name_label: '', name_description: '', MTU: 1500, other_config: {}, bridge: b }),
        );
      }
      const ok = await makeNetwork(h, { bridge: 'abcdefghijklmno' });
      expect(await h.call('network.get_bridge', ok)).to.equal('abcdefghijklmno');
    });

    it('X-NW-07 an existing bridge name → BRIDGE_NAME_EXISTS [bridge]', async () => {
      await makeNetwork(h, { bridge: 'br-guest' });
      await failsAtomically(h, ['BRIDGE_NAME_EXISTS', 'br-guest'], () =>
        h.fails('network.create', { name_label: '', name_description: '', MTU: 1500, other_config: {}, bridge: 'br-guest' }),
      );
    });

    it('X-NW-08 creating a network changes nothing on the host', async () => {
      const before = h.backend.host();
      await makeNetwork(h);
      expect(h.backend.host()).to.deep.equal(before);
    });
  });

  describe('network.destroy', () => {
    it('X-NW-01 a network with PIFs → NETWORK_CONTAINS_PIF [pifs]', async () => {
      const n = await h.call('PIF.get_network', h.pif('eth1'));
      await failsAtomically(h, ['NETWORK_CONTAINS_PIF', h.pif('eth1')], () => h.fails('network.destroy', n));
    });

    it('X-NW-09 attached VIFs → NETWORK_CONTAINS_VIF [every attached vif], checked before PIFs', async () => {
      const n = await h.call('PIF.get_network', h.pif('eth1'));
      const a = await vmWithVifs(h, [n]);
      const b = await vmWithVifs(h, [n]);
      await makeVIF(h, await makeVM(h), n, '0');
      const err = await h.fails('network.destroy', n);
      expect(err[0]).to.equal('NETWORK_CONTAINS_VIF');
      expect(err.slice(1).sort()).to.deep.equal([a.vifs[0], b.vifs[0]].sort());
    });

    it('X-NW-10 system network → CANNOT_DESTROY_SYSTEM_NETWORK [n]', async () => {
      const n = await makeNetwork(h, { other_config: { is_host_internal_management_network: 'true' } });
      await failsAtomically(h, ['CANNOT_DESTROY_SYSTEM_NETWORK', n], () => h.fails('network.destroy', n));
    });

    it('X-NW-11 destroy deletes detached VIFs (and their metrics) with the network', async () => {
      const n = await makeNetwork(h);
      const vm = await makeVM(h);
      const vif = await makeVIF(h, vm, n, '0');
      const metrics = await h.call('VIF.get_metrics', vif);
      expect(await h.call('network.destroy', n)).to.equal('');
      expect(h.r.store.find('network', n)).to.equal(undefined);
      expect(h.r.store.find('VIF', vif)).to.equal(undefined);
      expect(h.r.store.find('VIF_metrics', metrics)).to.equal(undefined);
      expect(await h.call('VM.get_VIFs', vm)).to.deep.equal([]);
    });
  });

  describe('network.attach', () => {
    it("X-NW-12 attach brings up the host's PIF on the network and its bridge", async () => {
      const p = h.pif('eth2');
      const n = await h.call('PIF.get_network', p);
      expect(h.backend.host().bridges).to.not.include('xenbr2');
      expect(await h.call('network.attach', n, h.r.d.hostRef)).to.equal('');
      expect(await h.call('PIF.get_currently_attached', p)).to.equal(true);
      const host = h.backend.host();
      expect(host.uplinks.xenbr2).to.equal('eth2');
      expect(host.up).to.include('eth2');
    });

    it("X-SL-06 attach of a bond slave's network → CANNOT_PLUG_BOND_SLAVE [pif]", async () => {
      const p = h.pif('eth2');
      await rawBond(h, [p, h.pif('eth3')]);
      const n = await h.call('PIF.get_network', p);
      await failsAtomically(h, ['CANNOT_PLUG_BOND_SLAVE', p], () => h.fails('network.attach', n, h.r.d.hostRef));
    });

    it('X-NW-13 unmanaged network whose bridge does not exist → BRIDGE_NOT_AVAILABLE [bridge]; one that exists is fine', async () => {
      const n = await makeNetwork(h, { managed: false, bridge: 'extbr' });
      await failsAtomically(h, ['BRIDGE_NOT_AVAILABLE', 'extbr'], () => h.fails('network.attach', n, h.r.d.hostRef));
      const n0 = await h.r.store.write((tx) => tx.create('network', { bridge: 'xenbr0', managed: false, other_config: {} }));
      expect(await h.call('network.attach', n0, h.r.d.hostRef)).to.equal('');
    });

    it('X-NW-14 attach of an unmanaged PIF is a no-op', async () => {
      const p = h.pif('eth5');
      await setFields(h, 'PIF', p, { managed: false });
      await h.call('network.attach', await h.call('PIF.get_network', p), h.r.d.hostRef);
      expect(await h.call('PIF.get_currently_attached', p)).to.equal(false);
    });
  });

  describe('network.set_default_locking_mode', () => {
    it('X-NW-15 stores the mode; an attached VIF → VIF_IN_USE [network, vif]', async () => {
      const n = await makeNetwork(h);
      await h.call('network.set_default_locking_mode', n, 'disabled');
      expect(await h.call('network.get_default_locking_mode', n)).to.equal('disabled');
      const { vifs } = await vmWithVifs(h, [n]);
      await failsAtomically(h, ['VIF_IN_USE', n, vifs[0]], () => h.fails('network.set_default_locking_mode', n, 'unlocked'));
    });
  });
});
