// --inventory describing first-boot management on a bond, and on a VLAN on a bond (seed 003's only
// management path): first start records the Bond, the VLAN and their networks, and the host the
// reconciler builds is that layout with the address on the right bridge.
import { expect } from 'chai';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { DEFAULTS, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import { splitInventory, type InventoryEntry } from '../../src/xapi/startup.js';

const NICS = [0, 1, 2].map((i) => ({ device: `eth${i}`, MAC: `02:00:00:00:03:0${i}`, MTU: 1500 }));
const IP = { mode: 'Static' as const, address: '10.1.1.101', netmask: '255.255.255.0', gateway: '10.1.1.1', dns: '' };

async function start(inventory: InventoryEntry[]): Promise<Running> {
  const backend = new SimulatedBackend({ nics: NICS.map((n) => ({ ...n, carrier: true })) });
  const cfg: Config = { ...DEFAULTS, db: ':memory:', port: 0, authFailDelayMs: 10, inventory, hostname: 'seed003', logLevel: 'error' };
  return startDaemon(cfg, { backend, log: makeLogger({ logLevel: 'error', logFile: '' }) });
}

describe('--inventory: management on a bond and on a VLAN on a bond', () => {
  let r: Running | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });
  const pif = (device: string, vlan = -1) => [...r!.store.rows('PIF')].find(([, p]) => p.device === device && Number(p.VLAN) === vlan)!;

  it('management on bond0 (eth0+eth1, lacp): Bond recorded with lacp defaults, the IP on the bond bridge', async () => {
    r = await start([...NICS, { bond: 'bond0', members: ['eth0', 'eth1'], mode: 'lacp', bridge: 'xapi1', management: true, ip: IP }]);
    const [mref, master] = pif('bond0');
    expect([master.management, master.currently_attached, master.IP, master.physical]).to.deep.equal([true, true, '10.1.1.101', false]);
    const bond = r.store.get('Bond', r.store.children('PIF', mref, 'bond_master_of')[0]);
    expect(bond.mode).to.equal('lacp');
    expect(bond.properties).to.deep.include({ hashing_algorithm: 'tcpudp_ports', 'lacp-time': 'slow' });
    expect(
      r.store
        .children('Bond', r.store.children('PIF', mref, 'bond_master_of')[0], 'slaves')
        .map((s) => r!.store.get('PIF', s).device)
        .sort(),
    ).to.deep.equal(['eth0', 'eth1']);
    expect(pif('eth0')[1].currently_attached).to.equal(false);
    const host = await r.backend.read();
    expect(host.bridges.xapi1.uplink).to.deep.include({ kind: 'bond', name: 'bond0', members: ['eth0', 'eth1'], mode: 'lacp' });
    expect(host.bridges.xapi1.ip?.address).to.equal('10.1.1.101');
    expect(Object.keys(host.bridges)).to.deep.equal(['xapi1']);
    expect(r.store.get('host', r.d.hostRef).address).to.equal('10.1.1.101');
  });

  it('seed 003: management on VLAN 100 on bond0 (mode lacp), VLANs 50/51 beside it, bridges vlan50/51/100', async () => {
    r = await start([
      ...NICS,
      { bond: 'bond0', members: ['eth0', 'eth1'], mode: 'lacp' },
      { vlan: 50, on: 'bond0', bridge: 'vlan50' },
      { vlan: 51, on: 'bond0', bridge: 'vlan51' },
      { vlan: 100, on: 'bond0', bridge: 'vlan100', management: true, ip: IP },
    ]);
    const [, v100] = pif('bond0', 100);
    expect([v100.management, v100.currently_attached, v100.IP]).to.deep.equal([true, true, '10.1.1.101']);
    expect(r.store.get('network', String(v100.network)).bridge).to.equal('vlan100');
    const host = await r.backend.read();
    expect(host.bridges.vlan100.vlan?.tag).to.equal(100);
    expect(host.bridges.vlan100.ip?.address).to.equal('10.1.1.101');
    expect(host.bridges[host.bridges.vlan100.vlan!.parent].uplink).to.deep.include({ kind: 'bond', name: 'bond0' });
    expect(['vlan50', 'vlan51'].every((b) => host.bridges[b]?.vlan !== undefined)).to.equal(true);
    expect(r.store.count('VLAN')).to.equal(3);
  });

  it("first start gives IPv6 as xapi's makers do: [] on NICs (introduce_internal), [''] on an adopted bond master and VLAN PIF (xapi_bond.ml, xapi_vlan.ml), as Bond.create and VLAN.create (bond, vlan, tunnel tests)", async () => {
    r = await start([...NICS, { bond: 'bond0', members: ['eth0', 'eth1'], mode: 'lacp' }, { vlan: 100, on: 'bond0', management: true, ip: IP }]);
    expect(['eth0', 'eth1', 'eth2'].map((d) => pif(d)[1].IPv6)).to.deep.equal([[], [], []]);
    expect(pif('bond0')[1].IPv6).to.deep.equal(['']);
    expect(pif('bond0', 100)[1].IPv6).to.deep.equal(['']);
  });

  it('refuses an inventory whose bond or VLAN names what is not there', () => {
    expect(() => splitInventory([...NICS, { bond: 'bond0', members: ['eth0', 'eth9'], mode: 'lacp' }])).to.throw(/members must be NICs/);
    expect(() => splitInventory([...NICS, { vlan: 100, on: 'bond7' }])).to.throw(/"on" must be a NIC or bond/);
    expect(() => splitInventory([...NICS, { bond: 'bond0', members: ['eth0'], mode: 'round-robin' as never }])).to.throw(/mode is/);
    expect(() => splitInventory([{ ...NICS[0], management: true }, NICS[1], { bond: 'bond0', members: ['eth1'], mode: 'lacp', management: true }])).to.throw(
      /only one management/,
    );
  });
});
