// Boundary values (issue 13 §6c): every numeric range of schema/values.ts probed at min-1, min,
// max and max+1 through each entry point that takes it — the API (VLAN.create,
// pool.create_VLAN_from_PIF, VIF trunks, network MTU on a plugged PIF, PIF other_config:mtu,
// bridge names, IPv4/IPv6 prefix lengths), Bond.properties on Linux bonding and --inventory.
// The edges come from RANGES, so a range changed in one place is probed at its new edges; the
// expected verdicts (ok / the XenAPI error) are written out here.
import { expect } from 'chai';
import { RANGES } from '../../schema/values.js';
import { checkInventory } from '../../src/config.js';
import { checkProperties } from '../../src/xapi/bond.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeNetwork, makeVIF, makeVM } from '../helpers/vmfix.js';

type Range = { min: number; max: number };
/** [value, inside the range?] at the four edges. */
const edges = (r: Range): [number, boolean][] => [
  [r.min - 1, false],
  [r.min, true],
  [r.max, true],
  [r.max + 1, false],
];

describe('boundary values of every range (schema/values.ts RANGES)', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  /** A call that must fail with `want` and change nothing stored. */
  async function refused(want: string[], f: () => Promise<string[]>): Promise<void> {
    const before = JSON.stringify(h.dump());
    expect(await f()).to.deep.equal(want);
    expect(JSON.stringify(h.dump())).to.equal(before);
  }

  it("the ranges are xapi's and Linux's (pinned: the probes below follow RANGES, so a change there must show here)", () => {
    expect(RANGES).to.deep.equal({
      vlanTag: { min: 0, max: 4094 },
      mtu: { min: 68, max: 65535 },
      prefix4: { min: 0, max: 32 },
      prefix6: { min: 0, max: 128 },
      ifname: { min: 1, max: 15 },
    });
  });

  it('VLAN tags: VLAN.create and pool.create_VLAN_from_PIF take 0 and 4094, refuse -1 and 4095 with VLAN_TAG_INVALID', async () => {
    const eth1 = h.pif('eth1');
    for (const [tag, ok] of edges(RANGES.vlanTag)) {
      for (const how of ['VLAN.create', 'pool.create_VLAN_from_PIF'] as const) {
        const net = await makeNetwork(h);
        const call = () =>
          how === 'VLAN.create' ? h.call('VLAN.create', eth1, String(tag), net) : h.call('pool.create_VLAN_from_PIF', eth1, net, String(tag));
        if (!ok) {
          await refused(['VLAN_TAG_INVALID', String(tag)], () =>
            call().then(
              () => [],
              (e) => e.details,
            ),
          );
          continue;
        }
        await call();
        const pifs = h.find('PIF', (p) => p.network === net);
        expect(pifs, `${how} ${tag}`).to.have.length(1);
        expect(await h.call('PIF.get_VLAN', pifs[0])).to.equal(String(tag));
        // Free the tag for the other entry point.
        await h.call('PIF.destroy', pifs[0]).catch(async () => h.call('VLAN.destroy', await h.call('PIF.get_VLAN_master_of', pifs[0])));
      }
    }
  });

  it('VIF trunks: add_trunks and set_trunks take 0 and 4094, refuse -1 and 4095 with VLAN_TAG_INVALID', async () => {
    const v = await makeVIF(h, await makeVM(h), await makeNetwork(h), '1');
    for (const [tag, ok] of edges(RANGES.vlanTag)) {
      if (ok) {
        await h.call('VIF.add_trunks', v, String(tag));
        expect(await h.call('VIF.get_trunks', v)).to.include(String(tag));
        await h.call('VIF.set_trunks', v, [String(tag)]);
        expect(await h.call('VIF.get_trunks', v)).to.deep.equal([String(tag)]);
      } else {
        await refused(['VLAN_TAG_INVALID', String(tag)], () => h.fails('VIF.add_trunks', v, String(tag)));
        await refused(['VLAN_TAG_INVALID', String(tag)], () => h.fails('VIF.set_trunks', v, ['5', String(tag)]));
      }
    }
  });

  it("MTU: a plugged PIF's network MTU of 68 and 65535 reaches the bridge; 67 and 65536 fail PIF_CONFIGURATION_ERROR with nothing changed", async () => {
    const eth2 = h.pif('eth2');
    const net = await h.call<string>('PIF.get_network', eth2);
    const bridge = await h.call<string>('network.get_bridge', net);
    await h.call('PIF.plug', eth2);
    for (const [mtu, ok] of edges(RANGES.mtu)) {
      if (ok) {
        await h.call('network.set_MTU', net, String(mtu));
        expect((await h.backend.read()).bridges[bridge].MTU, `MTU ${mtu}`).to.equal(mtu);
      } else {
        const hostBefore = JSON.stringify(await h.backend.read());
        const before = JSON.stringify(h.dump());
        const err = await h.fails('network.set_MTU', net, String(mtu));
        expect(err[0]).to.equal('PIF_CONFIGURATION_ERROR');
        expect(err[2]).to.contain(`MTU ${mtu} is out of range ${RANGES.mtu.min}-${RANGES.mtu.max}`);
        expect(JSON.stringify(h.dump())).to.equal(before);
        expect(JSON.stringify(await h.backend.read())).to.equal(hostBefore);
      }
    }
    await h.call('network.set_MTU', net, '1500');
  });

  it("MTU: PIF other_config:mtu of 68 and 65535 overrides the network's (nm.ml determine_mtu); 67 and 65536 are ignored, as xapi ignores them", async () => {
    const eth3 = h.pif('eth3');
    const bridge = await h.call<string>('network.get_bridge', await h.call<string>('PIF.get_network', eth3));
    await h.call('PIF.plug', eth3);
    for (const [mtu, ok] of edges(RANGES.mtu)) {
      await h.call('PIF.remove_from_other_config', eth3, 'mtu');
      await h.call('PIF.add_to_other_config', eth3, 'mtu', String(mtu));
      expect((await h.backend.read()).bridges[bridge].MTU, `other_config:mtu ${mtu}`).to.equal(ok ? mtu : 1500);
    }
    await h.call('PIF.remove_from_other_config', eth3, 'mtu');
  });

  it('bridge names: network.create takes 15 bytes, refuses 16 (and an empty-after-trim name is generated, not refused)', async () => {
    const name = (n: number) => 'b'.repeat(n);
    const r = await makeNetwork(h, { bridge: name(RANGES.ifname.max) });
    expect(await h.call('network.get_bridge', r)).to.equal(name(RANGES.ifname.max));
    await refused(['INVALID_VALUE', 'bridge', name(RANGES.ifname.max + 1)], () =>
      makeNetwork(h, { bridge: name(RANGES.ifname.max + 1) }).then(
        () => [],
        (e) => e.details,
      ),
    );
    expect(await h.call('network.get_bridge', await makeNetwork(h, { bridge: '' }))).to.match(/^xapi\d+$/);
  });

  it('prefix lengths: a netmask given as a prefix (--inventory) takes 0 and 32, refuses 33; reconfigure_ipv6 takes /0 and /128, refuses /129', async () => {
    // reconfigure_ip takes a dotted quad only, as xapi; the prefix form enters through --inventory.
    const nic = (netmask: string) => ({
      device: 'eth0',
      MAC: '02:00:00:00:00:01',
      MTU: 1500,
      management: true,
      ip: { mode: 'Static', address: '198.51.100.7', netmask, gateway: '', dns: '' },
    });
    for (const [len, ok] of edges(RANGES.prefix4)) {
      if (len < 0) continue; // "-1" is not a netmask's shape at all
      if (ok) expect(checkInventory([nic(String(len))])).to.have.length(1);
      else expect(() => checkInventory([nic(String(len))])).to.throw(/ip.netmask/);
    }
    const eth1 = h.pif('eth1');
    for (const [len, ok] of edges(RANGES.prefix6)) {
      if (len < 0) continue;
      const addr = `2001:db8::7/${len}`;
      if (ok) {
        await h.call('PIF.reconfigure_ipv6', eth1, 'Static', addr, '', '');
        expect(await h.call('PIF.get_IPv6', eth1)).to.deep.equal([addr]);
      } else await refused(['INVALID_CIDR_ADDRESS_SPECIFIED', 'IPv6'], () => h.fails('PIF.reconfigure_ipv6', eth1, 'Static', addr, '', ''));
    }
    await h.call('PIF.reconfigure_ipv6', eth1, 'None', '', '', '');
  });

  it('Bond.properties on Linux bonding: miimon/updelay/downdelay take 0 and 9999999 ms, refuse -1 and 10000000', () => {
    for (const k of ['miimon', 'updelay', 'downdelay']) {
      for (const [v, ok] of edges({ min: 0, max: 9_999_999 })) {
        const f = () => checkProperties('active-backup', { [k]: String(v) }, true);
        if (ok) expect(f()[k]).to.equal(String(v));
        else expect(f).to.throw().with.property('code', 'INVALID_VALUE');
      }
    }
  });

  it('--inventory: VLAN tags 0 and 4094 and MTUs 68 and 65535 (a NIC, a network) start; -1, 4095, 67 and 65536 stop the daemon naming the entry', () => {
    const nic = (MTU: number) => ({ device: 'eth0', MAC: '02:00:00:00:00:01', MTU, management: true });
    for (const [mtu, ok] of edges(RANGES.mtu)) {
      if (ok) expect(checkInventory([nic(mtu)])).to.have.length(1);
      else expect(() => checkInventory([nic(mtu)])).to.throw(/entry 0: MTU/);
    }
    for (const [tag, ok] of edges(RANGES.vlanTag)) {
      const inv = [nic(1500), { vlan: tag, on: 'eth0' }];
      if (ok) expect(checkInventory(inv)).to.have.length(2);
      else expect(() => checkInventory(inv)).to.throw(/entry 1: VLAN tag/);
    }
    // The MTU of an adopted bridge's network (first start on ifcfg files with MTU=…).
    for (const [mtu, ok] of edges(RANGES.mtu)) {
      const inv = [nic(1500), { vlan: 5, on: 'eth0', networkMTU: mtu }];
      if (ok) expect(checkInventory(inv)).to.have.length(2);
      else expect(() => checkInventory(inv)).to.throw(/entry 1: networkMTU/);
    }
  });
});
