// Issue 11 §3, seed 003: first start of the daemon on the ifcfg backend (real augtool) on a
// scratch root set up by hand exactly as Oracle VM's wiki page lays it out — eth0+eth1 enslaved
// to bond0 (BONDING_OPTS="mode=4 miimon=100"), VLAN devices bond0.50/.51/.100 on bridges
// vlan50/51/100, bond0 itself on no bridge — with the management address on vlan100. The
// daemon adopts it (Bond lacp, VLAN PIFs on the bond master, networks on the vlanN bridges,
// management on the VLAN 100 PIF) and writes nothing; files it cannot adopt (an alias, a
// bridge with two ports, a TYPE it does not model) are reported and stay byte for byte. The NICs
// come from <root>/sys/class/net, as on a host (no --inventory).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bridgeless, fileText, IfcfgBackend, parseFiles, renderFiles, SCRIPTS_DIR } from '../../src/backends/ifcfg.js';
import { DEFAULTS, type Config } from '../../src/config.js';
import { startDaemon, type Running } from '../../src/daemon.js';
import { TEST_USERS } from '../helpers/users.js';
import { memLog } from '../helpers/log.js';
import { rpc } from '../helpers/child.js';

const MACS = ['00:14:5e:c0:ff:ee', '00:14:5e:c0:ff:ef', '00:14:5e:c0:ff:f0', '00:14:5e:c0:ff:f1', '00:14:5e:c0:ff:f2'];

/** Seed 003's files (the wiki's text; HWADDR filled in), the address on vlan100 itself. */
const SEED003: Record<string, string> = {
  'ifcfg-bond0': '# 802.3ad bonded link\n# switch po1: Gi1/1, Gi1/2\nDEVICE=bond0\nBOOTPROTO=none\nONBOOT=yes\nBONDING_OPTS="mode=4 miimon=100"\n',
  'ifcfg-eth0': `# First interface in bond0\nDEVICE=eth0\nBOOTPROTO=static\nHWADDR=${MACS[0].toUpperCase()}\nTYPE=Ethernet\nONBOOT=yes\nMASTER=bond0\nSLAVE=yes\n`,
  'ifcfg-eth1': `# Second interface in bond0\nDEVICE=eth1\nBOOTPROTO=static\nHWADDR=${MACS[1].toUpperCase()}\nTYPE=Ethernet\nONBOOT=yes\nMASTER=bond0\nSLAVE=yes\n`,
  'ifcfg-vlan50': 'BOOTPROTO=none\nONBOOT=yes\nTYPE=Bridge\n',
  'ifcfg-vlan51': 'BOOTPROTO=none\nONBOOT=yes\nTYPE=Bridge\n',
  'ifcfg-vlan100': 'BOOTPROTO=static\nONBOOT=yes\nTYPE=Bridge\nIPADDR=10.1.1.101\nNETMASK=255.255.255.0\nGATEWAY=10.1.1.1\nDNS1=10.1.1.53\n',
  'ifcfg-bond0.50': 'ONBOOT=yes\nBOOTPROTO=none\nVLAN=yes\nTYPE=Ethernet\nBRIDGE=vlan50\n',
  'ifcfg-bond0.51': 'ONBOOT=yes\nBOOTPROTO=none\nVLAN=yes\nTYPE=Ethernet\nBRIDGE=vlan51\n',
  'ifcfg-bond0.100': 'ONBOOT=yes\nBOOTPROTO=none\nVLAN=yes\nTYPE=Ethernet\nBRIDGE=vlan100\n',
};
/** What XenAPI cannot record: left alone, each reported. */
const FOREIGN: Record<string, string> = {
  'ifcfg-lo': 'DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\n',
  'ifcfg-vlan100:2': 'BOOTPROTO=static\nONBOOT=yes\nIPADDR=10.1.51.7\nNETMASK=255.255.255.0\n',
  'ifcfg-br9': 'DEVICE=br9\nTYPE=Bridge\nBOOTPROTO=none\nONBOOT=yes\n',
  'ifcfg-eth2': `DEVICE=eth2\nHWADDR=${MACS[2]}\nBRIDGE=br9\nONBOOT=yes\n`,
  'ifcfg-eth3': `DEVICE=eth3\nHWADDR=${MACS[3]}\nBRIDGE=br9\nONBOOT=yes\n`,
  'ifcfg-ib0': 'DEVICE=ib0\nTYPE=InfiniBand\nBOOTPROTO=none\nONBOOT=yes\n',
};

/** Seed 003 exactly as printed: vlan100 without an address, the management address on its alias vlan100:1. */
const SEED003_ALIAS: Record<string, string> = {
  ...SEED003,
  'ifcfg-vlan100': 'BOOTPROTO=none\nONBOOT=yes\nTYPE=Bridge\n',
  'ifcfg-vlan100:1': 'BOOTPROTO=static\nONBOOT=yes\nIPADDR=10.1.1.101\nNETMASK=255.255.255.0\n',
};

/** Seed 003 with jumbo frames on the bond (bridgeless: its MTU is in ifcfg-bond0) and on VLAN 50's bridge. */
const SEED003_JUMBO: Record<string, string> = {
  ...SEED003,
  'ifcfg-bond0': `${SEED003['ifcfg-bond0']}MTU=9000\n`,
  'ifcfg-eth0': `${SEED003['ifcfg-eth0']}MTU=9000\n`,
  'ifcfg-eth1': `${SEED003['ifcfg-eth1']}MTU=9000\n`,
  'ifcfg-bond0.50': `${SEED003['ifcfg-bond0.50']}MTU=9000\n`,
  'ifcfg-vlan50': `${SEED003['ifcfg-vlan50']}MTU=9000\n`,
};

function scratchRoot(files: Record<string, string> = { ...SEED003, ...FOREIGN }): string {
  const root = mkdtempSync(join(tmpdir(), 'xnd-takeover-'));
  const dir = join(root, SCRIPTS_DIR);
  mkdirSync(dir, { recursive: true });
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
  // The host's NICs as sysfs shows them (a `device` link marks a physical NIC).
  MACS.forEach((mac, i) => {
    const d = join(root, 'sys/class/net', `eth${i}`);
    mkdirSync(join(root, 'sys/devices/pci', `0000:00:0${i}.0`), { recursive: true });
    mkdirSync(d, { recursive: true });
    symlinkSync(join(root, 'sys/devices/pci', `0000:00:0${i}.0`), join(d, 'device'));
    writeFileSync(join(d, 'address'), `${mac}\n`);
    writeFileSync(join(d, 'mtu'), '1500\n');
    writeFileSync(join(d, 'carrier'), '1\n');
  });
  return root;
}
function filesOf(root: string): Record<string, string> {
  const dir = join(root, SCRIPTS_DIR);
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((n) => [n, readFileSync(join(dir, n), 'utf8')]),
  );
}

describe('e2e: ifcfg first start adopts a hand-made seed 003 host', function () {
  this.timeout(60000);
  let root: string;
  let dbDir: string;
  let r: Running | undefined;
  let lines: string[];
  const cfg = (): Config => ({
    ...DEFAULTS,
    db: join(dbDir, 'db.sqlite'),
    port: 0,
    authFailDelayMs: 10,
    hostname: 'virtual4',
    logLevel: 'info',
    backend: 'ifcfg',
    ifcfgRoot: root,
    users: TEST_USERS,
  });
  const start = async () => {
    const m = memLog();
    lines = m.lines;
    r = await startDaemon(cfg(), { log: m.log, monitorIntervalMs: 0 });
  };
  const pifs = () => [...r!.store.rows('PIF')];
  const pif = (device: string, vlan = -1) => pifs().find(([, p]) => p.device === device && Number(p.VLAN) === vlan)!;
  const bridgeOf = (p: Record<string, unknown>) => String(r!.store.get('network', String(p.network)).bridge);
  /** Runs `fn` on a scratch root of its own holding `files` and a fresh database; the shared ones are restored after. */
  const onOwnRoot = async (files: Record<string, string>, fn: () => Promise<void>) => {
    const [savedRoot, savedDb] = [root, dbDir];
    root = scratchRoot(files);
    dbDir = mkdtempSync(join(tmpdir(), 'xnd-takeover-db-'));
    try {
      await fn();
    } finally {
      await r?.close();
      r = undefined;
      rmSync(root, { recursive: true, force: true });
      rmSync(dbDir, { recursive: true, force: true });
      [root, dbDir] = [savedRoot, savedDb];
    }
  };

  before(() => {
    root = scratchRoot();
    dbDir = mkdtempSync(join(tmpdir(), 'xnd-takeover-db-'));
  });
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(dbDir, { recursive: true, force: true });
  });

  it('records Bond (lacp) + VLANs 50/51/100 on its master + management on VLAN 100, and writes nothing', async () => {
    const before = filesOf(root);
    await start();
    expect(filesOf(root), lines.join('\n')).to.deep.equal(before);
    expect((r!.backend as IfcfgBackend).augtoolRuns).to.equal(0);

    const [mref, master] = pif('bond0');
    expect([master.physical, master.currently_attached, master.ip_configuration_mode, master.IP, master.MAC]).to.deep.equal([false, true, 'None', '', MACS[0]]);
    const bondRef = r!.store.children('PIF', mref, 'bond_master_of')[0];
    const bond = r!.store.get('Bond', bondRef);
    expect(bond.mode).to.equal('lacp');
    // What "mode=4 miimon=100" means to the bonding driver, in Bond.properties (docs/backends.md).
    expect({ ...(bond.properties as object) }).to.deep.equal({
      downdelay: '0',
      hashing_algorithm: 'src_mac',
      'lacp-fallback-ab': 'true',
      'lacp-time': 'slow',
      updelay: '0',
    });
    expect(
      r!.store
        .children('Bond', bondRef, 'slaves')
        .map((s) => r!.store.get('PIF', s).device)
        .sort(),
    ).to.deep.equal(['eth0', 'eth1']);
    expect([pif('eth0')[1].currently_attached, pif('eth1')[1].currently_attached]).to.deep.equal([false, false]);

    for (const tag of [50, 51, 100]) {
      const [, v] = pif('bond0', tag);
      expect(v.currently_attached).to.equal(true);
      expect(bridgeOf(v)).to.equal(`vlan${tag}`);
      const vlan = r!.store.get('VLAN', String(v.VLAN_master_of));
      expect([vlan.tagged_PIF, Number(vlan.tag)]).to.deep.equal([mref, tag]);
    }
    const [, v100] = pif('bond0', 100);
    expect([v100.management, v100.ip_configuration_mode, v100.IP, v100.netmask, v100.gateway, v100.DNS]).to.deep.equal([
      true,
      'Static',
      '10.1.1.101',
      '255.255.255.0',
      '10.1.1.1',
      '10.1.1.53',
    ]);
    expect(pifs().filter(([, p]) => p.management).length).to.equal(1);
    expect(r!.store.get('host', r!.d.hostRef).address).to.equal('10.1.1.101');
    // NICs that nothing adoptable uses are recorded, unplugged.
    expect([pif('eth2')[1].currently_attached, pif('eth3')[1].currently_attached, pif('eth4')[1].currently_attached]).to.deep.equal([false, false, false]);

    // The files the backend would write for this state are equivalent to what is there: one IP
    // file, both members enslaved, no bridge on bond0 (its network's bridge is only a name).
    const state = await r!.backend.read();
    const bondBridge = bridgeOf(master);
    expect(state.bridges[bondBridge].uplink).to.deep.include({ kind: 'bond', name: 'bond0', members: ['eth0', 'eth1'], mode: 'lacp' });
    expect(bridgeless(state, state.bridges[bondBridge])).to.equal(true);
    const rendered = renderFiles(state, new Map(MACS.map((m, i) => [`eth${i}`, m])));
    expect(rendered.map((f) => f.name)).to.deep.equal(Object.keys(SEED003).sort());
    const texts = new Map(rendered.map((f) => [f.name, fileText(f)]));
    expect(parseFiles(texts, { host: { macs: new Map(MACS.map((m, i) => [`eth${i}`, m])) } }).state).to.deep.equal(state);
    expect([...texts].filter(([, t]) => /^IPADDR=/m.test(t)).map(([n]) => n)).to.deep.equal(['ifcfg-vlan100']);
    expect(texts.get('ifcfg-eth0')).to.match(/^MASTER=bond0$/m);
    expect(texts.get('ifcfg-bond0')).to.not.match(/^BRIDGE=/m);
    expect(texts.get('ifcfg-bond0')).to.match(
      /^BONDING_OPTS="mode=802.3ad miimon=100 downdelay=0 updelay=0 use_carrier=1 lacp_rate=slow xmit_hash_policy=layer2"$/m,
    );

    // Each file left alone is reported with its reason.
    const warned = (file: string, re: RegExp) =>
      expect(
        lines.some((l) => l.startsWith('warn') && l.includes(`${file} not adopted`) && re.test(l)),
        `${file}: ${lines.join('\n')}`,
      ).to.equal(true);
    warned('ifcfg-vlan100:2', /alias/);
    warned('ifcfg-br9', /2 ports/);
    warned('ifcfg-eth2', /port of bridge br9/);
    warned('ifcfg-eth3', /port of bridge br9/);
    warned('ifcfg-ib0', /TYPE=InfiniBand/);
    expect(lines.some((l) => /ifcfg-lo/.test(l))).to.equal(false);
    expect(lines.some((l) => /adopted VLAN 100 on bond0, bridge vlan100, Static 10\.1\.1\.101/.test(l))).to.equal(true);
  });

  it("seed 003 as printed (address on the alias vlan100:1): adopted as VLAN 100's IP, nothing written; the first change of that IP moves it into ifcfg-vlan100 and removes the alias", async () => {
    await onOwnRoot(SEED003_ALIAS, async () => {
      const before = filesOf(root);
      await start();
      expect(filesOf(root), lines.join('\n')).to.deep.equal(before);
      expect((r!.backend as IfcfgBackend).augtoolRuns).to.equal(0);
      expect(
        lines.some((l) => /not adopted/.test(l)),
        lines.join('\n'),
      ).to.equal(false);
      const [v100ref, v100] = pif('bond0', 100);
      expect([v100.management, v100.ip_configuration_mode, v100.IP, v100.netmask, v100.gateway]).to.deep.equal([
        true,
        'Static',
        '10.1.1.101',
        '255.255.255.0',
        '',
      ]);
      const { call } = rpc(r!.port);
      await call('PIF.reconfigure_ip', v100ref, 'Static', '10.1.1.102', '255.255.255.0', '10.1.1.1', '');
      const after = filesOf(root);
      expect(Object.keys(after)).to.not.include('ifcfg-vlan100:1');
      expect(after['ifcfg-vlan100']).to.match(/^IPADDR=10\.1\.1\.102$/m);
      expect(
        Object.entries(after)
          .filter(([, t]) => /^IPADDR=/m.test(t))
          .map(([n]) => n),
      ).to.deep.equal(['ifcfg-vlan100']);
      for (const n of ['ifcfg-eth0', 'ifcfg-eth1', 'ifcfg-bond0', 'ifcfg-bond0.50', 'ifcfg-vlan50']) expect(after[n], n).to.equal(before[n]);
    });
  });

  it('jumbo frames: a bond and a VLAN bridge with MTU=9000 in their files get networks with MTU 9000, and nothing is written at first start or restart', async () => {
    await onOwnRoot(SEED003_JUMBO, async () => {
      const before = filesOf(root);
      await start();
      expect(filesOf(root), lines.join('\n')).to.deep.equal(before);
      expect((r!.backend as IfcfgBackend).augtoolRuns).to.equal(0);
      const [, master] = pif('bond0');
      const mtuOf = (p: Record<string, unknown>) => Number(r!.store.get('network', String(p.network)).MTU);
      expect([mtuOf(master), Number(master.MTU)]).to.deep.equal([9000, 9000]);
      expect([50, 51, 100].map((tag) => mtuOf(pif('bond0', tag)[1]))).to.deep.equal([9000, 1500, 1500]);
      expect((await r!.backend.read()).bridges.vlan50.MTU).to.equal(9000);
      await r!.close();
      r = undefined;
      await start();
      const now = filesOf(root);
      for (const n of ['ifcfg-bond0', 'ifcfg-bond0.50', 'ifcfg-vlan50', 'ifcfg-eth0', 'ifcfg-eth1']) expect(now[n], n).to.equal(before[n]);
      // An API change of that network's bridge renders the MTU the network has.
      const { call } = rpc(r!.port);
      await call('PIF.reconfigure_ip', pif('bond0', 50)[0], 'Static', '10.1.50.2', '255.255.255.0', '', '');
      expect(filesOf(root)['ifcfg-vlan50']).to.match(/^MTU=9000$/m);
    });
  });

  it("a hand-made bond's MACADDR is the bond master PIF's MAC (auto_update_mac false, as Bond.create given a MAC), and nothing is written", async () => {
    await onOwnRoot({ ...SEED003, 'ifcfg-bond0': `${SEED003['ifcfg-bond0']}MACADDR=02:00:00:AA:BB:CC\n` }, async () => {
      const before = filesOf(root);
      await start();
      expect(filesOf(root), lines.join('\n')).to.deep.equal(before);
      expect((r!.backend as IfcfgBackend).augtoolRuns).to.equal(0);
      const [mref, master] = pif('bond0');
      const bond = r!.store.get('Bond', r!.store.children('PIF', mref, 'bond_master_of')[0]);
      expect([master.MAC, bond.auto_update_mac]).to.deep.equal(['02:00:00:aa:bb:cc', false]);
    });
  });

  it('a restart changes no adopted or foreign file; an API change rewrites only the files it concerns', async () => {
    const before = filesOf(root);
    await start();
    // Start of day (xapi's, at every restart) plugs the physical PIFs: eth4, which no file used,
    // gets its bridge; eth2 and eth3 are ports of the hand-made br9 and are refused, not rewritten.
    const now = filesOf(root);
    expect(Object.fromEntries(Object.keys(before).map((n) => [n, now[n]]))).to.deep.equal(before);
    expect(Object.keys(now).filter((n) => !(n in before))).to.deep.equal(['ifcfg-eth4', 'ifcfg-xenbr4']);
    expect(
      lines.some((l) => /could not bring up PIF .*\(eth2\).*ifcfg-eth2 is not this backend's: it is a port of bridge br9/.test(l)),
      lines.join('\n'),
    ).to.equal(true);
    expect([pif('eth2')[1].currently_attached, pif('eth4')[1].currently_attached]).to.deep.equal([false, true]);
    const { call } = rpc(r!.port);
    const [v51] = pif('bond0', 51);
    await call('VLAN.destroy', String(r!.store.get('PIF', v51).VLAN_master_of));
    const after = filesOf(root);
    const expected = { ...now };
    delete expected['ifcfg-bond0.51'];
    delete expected['ifcfg-vlan51'];
    // bond0 still carries VLANs 50 and 100 only: still no bridge, its hand-made files untouched.
    expect(after).to.deep.equal(expected);
  });

  it('the bond network gets a bridge while a VIF uses it, and goes bridgeless again after (XENAPI_BRIDGE keeps its name)', async () => {
    const fresh = scratchRoot();
    try {
      const nics = MACS.map((MAC, i) => ({ device: `eth${i}`, MAC, MTU: 1500, carrier: true }));
      const b = new IfcfgBackend({ root: fresh, nics });
      const before = filesOf(fresh);
      await b.apply([{ op: 'vif.add', bridge: 'xapi0', vif: 'vif1.0' }]);
      const withVif = filesOf(fresh);
      expect(withVif['ifcfg-xapi0']).to.match(/^TYPE=Bridge$/m);
      expect(withVif['ifcfg-bond0']).to.match(/^BRIDGE=xapi0$/m);
      // Only the bond bridge's files changed: the VLAN files and bridges are as they were.
      for (const n of Object.keys(before).filter((x) => !['ifcfg-bond0', 'ifcfg-eth0', 'ifcfg-eth1'].includes(x))) expect(withVif[n]).to.equal(before[n]);
      await b.apply([{ op: 'vif.del', bridge: 'xapi0', vif: 'vif1.0' }]);
      const after = filesOf(fresh);
      expect(after).to.not.have.property('ifcfg-xapi0');
      expect(after['ifcfg-bond0']).to.match(/^XENAPI_BRIDGE=xapi0$/m);
      expect(after['ifcfg-bond0']).to.not.match(/^BRIDGE=/m);
      expect((await b.read()).bridges.xapi0.uplink).to.deep.include({ kind: 'bond', name: 'bond0' });
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
