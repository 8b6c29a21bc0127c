// The ifcfg backend against real augtool (Debian augeas-tools, installed by `make test`) on a
// sandbox root: the seed scenarios rendered to RHEL network-scripts files and compared byte for
// byte, read() round trips, all-or-nothing apply under failing augtool runs, bond link counting
// from /proc/net/bonding, and the managed node controller endpoint of a daemon on this backend.

import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xmlrpc from 'xmlrpc';
import { BackendError, type Bridge, type IpConfig, type NetState, type Nic, type Step, type Uplink } from '../../src/backends/backend.js';
import { augtoolScript, bondingOpts, IfcfgBackend, nodeConfig, parseFiles, preConfigScript, renderFiles, SCRIPTS_DIR } from '../../src/backends/ifcfg.js';
import { createBackend } from '../../src/backends/index.js';
import { TEST_USERS } from '../helpers/users.js';
import { DEFAULTS, DEMO_INVENTORY, parseArgs, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';

const MACS = ['02:00:5e:10:00:00', '02:00:5e:10:00:01', '02:00:5e:10:00:02', '02:00:5e:10:00:03'];
const NICS: Nic[] = MACS.map((MAC, i) => ({ device: `eth${i}`, MAC, MTU: 1500, carrier: true }));
const MGMT: IpConfig = { mode: 'Static', address: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1', dns: '192.0.2.53,192.0.2.54' };

function br(name: string, extra: Partial<Bridge> = {}): Bridge {
  const b = { name, MTU: extra.MTU ?? 1500 } as Bridge;
  if (extra.vlan) b.vlan = extra.vlan;
  if (extra.uplink) b.uplink = extra.uplink;
  if (extra.ip) b.ip = extra.ip;
  b.vifs = extra.vifs ?? [];
  return b;
}
function state(...bridges: Bridge[]): NetState {
  return { bridges: Object.fromEntries(bridges.sort((a, b) => (a.name < b.name ? -1 : 1)).map((b) => [b.name, b])) };
}
const nic = (device: string): Uplink => ({ kind: 'nic', device });
const bond0: Uplink = { kind: 'bond', name: 'bond0', members: ['eth0', 'eth3'], mode: 'active-backup', properties: {}, mac: MACS[0] };

const START_OF_DAY = state(
  br('xenbr0', { uplink: nic('eth0'), ip: MGMT }),
  br('xenbr1', { uplink: nic('eth1') }),
  br('xenbr2', { uplink: nic('eth2') }),
  br('xenbr3', { uplink: nic('eth3') }),
);
const BONDED = state(br('xapi1', { uplink: bond0, ip: MGMT }), br('xenbr1', { uplink: nic('eth1') }), br('xenbr2', { uplink: nic('eth2') }));

const startOfDayPlan: Step[] = [
  ...[0, 1, 2, 3].flatMap((i): Step[] => [
    { op: 'bridge.add', bridge: `xenbr${i}`, MTU: 1500 },
    { op: 'uplink.add', bridge: `xenbr${i}`, uplink: nic(`eth${i}`) },
  ]),
  { op: 'ip.set', bridge: 'xenbr0', ip: MGMT },
];

/** seed 004: bond eth0+eth3 active-backup on a new network's bridge xapi1; management moves with it. */
const bondMovePlan: Step[] = [
  { op: 'ip.clear', bridge: 'xenbr0', ip: MGMT },
  { op: 'uplink.del', bridge: 'xenbr0', uplink: nic('eth0') },
  { op: 'bridge.del', bridge: 'xenbr0', MTU: 1500 },
  { op: 'uplink.del', bridge: 'xenbr3', uplink: nic('eth3') },
  { op: 'bridge.del', bridge: 'xenbr3', MTU: 1500 },
  { op: 'bridge.add', bridge: 'xapi1', MTU: 1500 },
  { op: 'uplink.add', bridge: 'xapi1', uplink: bond0 },
  { op: 'ip.set', bridge: 'xapi1', ip: MGMT },
];

/** The exact inverse of a plan (Bond.destroy of the seed 004 bond). */
function inverse(plan: Step[]): Step[] {
  const flip: Record<string, Step['op']> = {
    'bridge.add': 'bridge.del',
    'bridge.del': 'bridge.add',
    'uplink.add': 'uplink.del',
    'uplink.del': 'uplink.add',
    'ip.set': 'ip.clear',
    'ip.clear': 'ip.set',
    'vif.add': 'vif.del',
    'vif.del': 'vif.add',
  };
  return plan.map((s) => ({ ...s, op: flip[s.op] }) as Step).reverse();
}

// ----------------------------------------------------------------------------- expected files

const eth = (i: number, tail: string) => `DEVICE=eth${i}\nBOOTPROTO=none\nHWADDR=${MACS[i]}\nTYPE=Ethernet\nONBOOT=yes\n${tail}NM_CONTROLLED=no\n`;
const plainEth = (i: number, bridge: string) => eth(i, `MTU=1500\nBRIDGE=${bridge}\n`);
const memberEth = (i: number, bond: string) => eth(i, `MASTER=${bond}\nSLAVE=yes\n`);
const bridgeFile = (name: string, ip = '', boot = 'none', mtu = 1500) =>
  `DEVICE=${name}\nBOOTPROTO=${boot}\nONBOOT=yes\nTYPE=Bridge\nDELAY=0\nSTP=off\nMTU=${mtu}\n${ip}NM_CONTROLLED=no\n`;
const MGMT_LINES = 'IPADDR=192.0.2.10\nNETMASK=255.255.255.0\nGATEWAY=192.0.2.1\nDNS1=192.0.2.53\nDNS2=192.0.2.54\n';

const START_OF_DAY_FILES: Record<string, string> = {
  'ifcfg-eth0': plainEth(0, 'xenbr0'),
  'ifcfg-eth1': plainEth(1, 'xenbr1'),
  'ifcfg-eth2': plainEth(2, 'xenbr2'),
  'ifcfg-eth3': plainEth(3, 'xenbr3'),
  'ifcfg-xenbr0': bridgeFile('xenbr0', MGMT_LINES),
  'ifcfg-xenbr1': bridgeFile('xenbr1'),
  'ifcfg-xenbr2': bridgeFile('xenbr2'),
  'ifcfg-xenbr3': bridgeFile('xenbr3'),
};

const BOND0_FILE = [
  'DEVICE=bond0',
  'BOOTPROTO=none',
  'ONBOOT=yes',
  'TYPE=Bond',
  'BONDING_MASTER=yes',
  'BONDING_OPTS="mode=active-backup miimon=100 downdelay=200 updelay=31000 use_carrier=1"',
  `MACADDR=${MACS[0]}`,
  'MTU=1500',
  'BRIDGE=xapi1',
  'NM_CONTROLLED=no',
  'XENAPI_BOND_MEMBERS="eth0 eth3"',
  '',
].join('\n');

const BONDED_FILES: Record<string, string> = {
  'ifcfg-bond0': BOND0_FILE,
  'ifcfg-eth0': memberEth(0, 'bond0'),
  'ifcfg-eth1': plainEth(1, 'xenbr1'),
  'ifcfg-eth2': plainEth(2, 'xenbr2'),
  'ifcfg-eth3': memberEth(3, 'bond0'),
  'ifcfg-xapi1': bridgeFile('xapi1', MGMT_LINES),
  'ifcfg-xenbr1': bridgeFile('xenbr1'),
  'ifcfg-xenbr2': bridgeFile('xenbr2'),
};

// ----------------------------------------------------------------------------- sandbox helpers

const roots: string[] = [];
function sandboxRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'xenapi-netd-ifcfg-'));
  roots.push(r);
  return r;
}
function scriptsDir(root: string): string {
  return join(root, SCRIPTS_DIR);
}
/** Every file of the network-scripts directory: name → text. */
function filesOf(root: string): Record<string, string> {
  const dir = scriptsDir(root);
  const out: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const n of names) if (statSync(join(dir, n)).isFile()) out[n] = readFileSync(join(dir, n), 'utf8');
  return out;
}
function noVifs(s: NetState): NetState {
  return { bridges: Object.fromEntries(Object.entries(s.bridges).map(([k, b]) => [k, { ...b, vifs: [] }])) };
}

async function startOfDay(opts: Partial<ConstructorParameters<typeof IfcfgBackend>[0]> = {}): Promise<{ root: string; b: IfcfgBackend }> {
  const root = sandboxRoot();
  const b = new IfcfgBackend({ root, nics: NICS, ...opts });
  await b.apply(startOfDayPlan);
  return { root, b };
}

after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

// ----------------------------------------------------------------------------- tests

describe('ifcfg backend: bond mode mapping', () => {
  it('maps active-backup, balance-slb (approximated as balance-alb) and lacp with its properties', () => {
    const base = 'miimon=100 downdelay=200 updelay=31000 use_carrier=1';
    expect(bondingOpts('active-backup', {})).to.equal(`mode=active-backup ${base}`);
    expect(bondingOpts('balance-slb', {})).to.equal(`mode=balance-alb ${base}`);
    expect(bondingOpts('lacp', {})).to.equal(`mode=802.3ad ${base} lacp_rate=slow xmit_hash_policy=layer3+4`);
    expect(bondingOpts('lacp', { hashing_algorithm: 'tcpudp_ports', 'lacp-time': 'slow' })).to.equal(
      `mode=802.3ad ${base} lacp_rate=slow xmit_hash_policy=layer3+4`,
    );
    expect(bondingOpts('lacp', { hashing_algorithm: 'src_mac', 'lacp-time': 'fast' })).to.equal(`mode=802.3ad ${base} lacp_rate=fast xmit_hash_policy=layer2`);
    expect(bondingOpts('active-backup', { updelay: '0', downdelay: '100' })).to.equal('mode=active-backup miimon=100 downdelay=100 updelay=0 use_carrier=1');
  });
});

describe('ifcfg backend: seed scenarios through augtool -r on a sandbox root', () => {
  it('start of day: one bridge per NIC, the management IP on xenbr0, files exactly as rendered', async () => {
    const { root, b } = await startOfDay();
    expect(filesOf(root)).to.deep.equal(START_OF_DAY_FILES);
    expect(b.augtoolRuns).to.equal(1);
    expect(await b.read()).to.deep.equal(START_OF_DAY);
  });

  it('seed 004: bond eth0+eth3 active-backup on xapi1 with the IP; xenbr0/xenbr3 go; eth1/eth2 untouched', async () => {
    const { root, b } = await startOfDay();
    const untouched = statSync(join(scriptsDir(root), 'ifcfg-xenbr1')).mtimeMs;
    const script = augtoolScript(await b.render(BONDED), ['ifcfg-xenbr0', 'ifcfg-xenbr3'], { transform: true });
    expect(script).to.match(/^rm \/files\/etc\/sysconfig\/network-scripts\/ifcfg-xenbr0$/m);
    expect(script).to.match(
      /^set \/files\/etc\/sysconfig\/network-scripts\/ifcfg-bond0\/BONDING_OPTS '"mode=active-backup miimon=100 downdelay=200 updelay=31000 use_carrier=1"'$/m,
    );
    expect(script.trimEnd().split('\n').at(-1)).to.equal('save');
    await b.apply(bondMovePlan);
    expect(filesOf(root)).to.deep.equal(BONDED_FILES);
    expect(statSync(join(scriptsDir(root), 'ifcfg-xenbr1')).mtimeMs).to.equal(untouched);
    expect(await b.read()).to.deep.equal(BONDED);
    expect(b.augtoolRuns).to.equal(2);
  });

  it('Bond.destroy (the inverse plan) gives back the start-of-day files byte for byte', async () => {
    const { root, b } = await startOfDay();
    await b.apply(bondMovePlan);
    await b.apply(inverse(bondMovePlan));
    expect(filesOf(root)).to.deep.equal(START_OF_DAY_FILES);
    expect(await b.read()).to.deep.equal(START_OF_DAY);
  });

  it('a VLAN on the bond: ifcfg-bond0.100 (VLAN=yes, BRIDGE=xapi2) and the VLAN bridge ifcfg-xapi2', async () => {
    const { root, b } = await startOfDay();
    await b.apply(bondMovePlan);
    await b.apply([{ op: 'bridge.add', bridge: 'xapi2', MTU: 1500, vlan: { parent: 'xapi1', tag: 100 } }]);
    const f = filesOf(root);
    expect(f['ifcfg-bond0.100']).to.equal('DEVICE=bond0.100\nONBOOT=yes\nBOOTPROTO=none\nVLAN=yes\nTYPE=Ethernet\nMTU=1500\nBRIDGE=xapi2\nNM_CONTROLLED=no\n');
    expect(f['ifcfg-xapi2']).to.equal(bridgeFile('xapi2'));
    expect(await b.read()).to.deep.equal(state(...Object.values(BONDED.bridges), br('xapi2', { vlan: { parent: 'xapi1', tag: 100 } })));
    // a VLAN on a plain NIC is named after the NIC; its DHCP bridge says so
    await b.apply([
      { op: 'bridge.add', bridge: 'xapi3', MTU: 1500, vlan: { parent: 'xenbr1', tag: 7 } },
      { op: 'ip.set', bridge: 'xapi3', ip: { mode: 'DHCP', address: '', netmask: '', gateway: '', dns: '' } },
    ]);
    expect(filesOf(root)['ifcfg-eth1.7']).to.equal(
      'DEVICE=eth1.7\nONBOOT=yes\nBOOTPROTO=none\nVLAN=yes\nTYPE=Ethernet\nMTU=1500\nBRIDGE=xapi3\nNM_CONTROLLED=no\n',
    );
    expect(filesOf(root)['ifcfg-xapi3']).to.equal(bridgeFile('xapi3', '', 'dhcp'));
    expect((await b.read()).bridges.xapi3).to.deep.equal(
      br('xapi3', { vlan: { parent: 'xenbr1', tag: 7 }, ip: { mode: 'DHCP', address: '', netmask: '', gateway: '', dns: '' } }),
    );
  });

  it('lacp with properties: 802.3ad, lacp_rate and xmit_hash_policy; the XenAPI properties survive in the file', async () => {
    const { root, b } = await startOfDay();
    const lacp: Uplink = {
      kind: 'bond',
      name: 'bond1',
      members: ['eth2', 'eth1'],
      mode: 'lacp',
      properties: { hashing_algorithm: 'src_mac', 'lacp-time': 'fast', 'lacp-fallback-ab': 'true', 'lacp-aggregation-key': '42' },
      mac: MACS[2],
    };
    await b.apply([
      { op: 'uplink.del', bridge: 'xenbr1', uplink: nic('eth1') },
      { op: 'bridge.del', bridge: 'xenbr1', MTU: 1500 },
      { op: 'uplink.del', bridge: 'xenbr2', uplink: nic('eth2') },
      { op: 'bridge.del', bridge: 'xenbr2', MTU: 1500 },
      { op: 'bridge.add', bridge: 'xapi5', MTU: 9000 },
      { op: 'uplink.add', bridge: 'xapi5', uplink: lacp },
      { op: 'vif.add', bridge: 'xapi5', vif: 'vif3.0' },
    ]);
    const f = filesOf(root);
    expect(f['ifcfg-bond1']).to.equal(
      [
        'DEVICE=bond1',
        'BOOTPROTO=none',
        'ONBOOT=yes',
        'TYPE=Bond',
        'BONDING_MASTER=yes',
        'BONDING_OPTS="mode=802.3ad miimon=100 downdelay=200 updelay=31000 use_carrier=1 lacp_rate=fast xmit_hash_policy=layer2"',
        `MACADDR=${MACS[2]}`,
        'MTU=9000',
        'BRIDGE=xapi5',
        'NM_CONTROLLED=no',
        'XENAPI_BOND_MEMBERS="eth2 eth1"',
        'XENAPI_BOND_PROPERTIES="hashing_algorithm=src_mac lacp-aggregation-key=42 lacp-fallback-ab=true lacp-time=fast"',
        '',
      ].join('\n'),
    );
    expect(f['ifcfg-eth1']).to.equal(memberEth(1, 'bond1'));
    expect(f['ifcfg-xapi5']).to.equal(bridgeFile('xapi5', '', 'none', 9000));
    const read = await b.read();
    expect(read.bridges.xapi5).to.deep.equal(br('xapi5', { MTU: 9000, uplink: lacp, vifs: ['vif3.0'] }));
    // a second backend on the same root reads the same files (VIFs are runtime state, not files)
    expect(await new IfcfgBackend({ root, nics: NICS }).read()).to.deep.equal(noVifs(read));
    // the pre-config script loads the bonding module for every bond
    expect(preConfigScript(read)).to.equal(
      [
        '#!/bin/bash',
        "# xenapi-netd pre-config script: load the bonding module for this host's bonds (modes are in BONDING_OPTS)",
        "cat > /etc/modprobe.d/bonding.conf <<'EOF'",
        'alias bond1 bonding',
        'options bonding max_bonds=1',
        'EOF',
        'modprobe bonding max_bonds=1',
        '',
      ].join('\n'),
    );
  });

  it('balance-slb is flagged in the file as approximated by balance-alb; tunnels are recorded', async () => {
    const { root, b } = await startOfDay();
    const slb: Uplink = { kind: 'bond', name: 'bond0', members: ['eth0', 'eth3'], mode: 'balance-slb', properties: {}, mac: MACS[0] };
    await b.apply([...bondMovePlan.slice(0, 6), { op: 'uplink.add', bridge: 'xapi1', uplink: slb }, { op: 'ip.set', bridge: 'xapi1', ip: MGMT }]);
    const text = filesOf(root)['ifcfg-bond0'];
    expect(text.split('\n').slice(0, 7).join('\n')).to.equal(
      [
        ' # balance-slb approximated as balance-alb (mode 6): Linux bonding has no SLB mode',
        'DEVICE=bond0',
        'BOOTPROTO=none',
        'ONBOOT=yes',
        'TYPE=Bond',
        'BONDING_MASTER=yes',
        'BONDING_OPTS="mode=balance-alb miimon=100 downdelay=200 updelay=31000 use_carrier=1"',
      ].join('\n'),
    );
    expect((await b.read()).bridges.xapi1.uplink).to.deep.equal(slb);
    const tun: Uplink = { kind: 'tunnel', name: 't0', protocol: 'gre', remote: '198.51.100.7', key: '5', transport: 'xapi1' };
    await b.apply([
      { op: 'bridge.add', bridge: 'xapi9', MTU: 1500 },
      { op: 'uplink.add', bridge: 'xapi9', uplink: tun },
    ]);
    expect(filesOf(root)['ifcfg-t0']).to.equal(
      ' # gre tunnel recorded for the toolstack: initscripts cannot put a tunnel on a bridge\n' +
        'DEVICE=t0\nBOOTPROTO=none\nONBOOT=no\nTYPE=GRE\nPEER_OUTER_IPADDR=198.51.100.7\nKEY=5\nBRIDGE=xapi9\nNM_CONTROLLED=no\nXENAPI_TUNNEL_TRANSPORT=xapi1\n',
    );
    expect((await b.read()).bridges.xapi9.uplink).to.deep.equal(tun);
  });

  it('VIF steps change no file and run no augtool; read() reports them', async () => {
    const { root, b } = await startOfDay();
    const before = filesOf(root);
    await b.apply([
      { op: 'vif.add', bridge: 'xenbr2', vif: 'vif1.0' },
      { op: 'vif.add', bridge: 'xenbr2', vif: 'vif1.1' },
    ]);
    expect(b.augtoolRuns).to.equal(1);
    expect(filesOf(root)).to.deep.equal(before);
    expect((await b.read()).bridges.xenbr2.vifs).to.deep.equal(['vif1.0', 'vif1.1']);
    await b.apply([{ op: 'vif.del', bridge: 'xenbr2', vif: 'vif1.0' }]);
    expect((await b.read()).bridges.xenbr2.vifs).to.deep.equal(['vif1.1']);
  });

  it('leaves files it does not understand alone (ifcfg-lo, an alias) and reads hand-written bonds (seed 003 style)', async () => {
    const { root, b } = await startOfDay();
    const dir = scriptsDir(root);
    writeFileSync(join(dir, 'ifcfg-lo'), 'DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\n');
    writeFileSync(join(dir, 'ifcfg-vlan100:1'), 'BOOTPROTO=static\nONBOOT=yes\nIPADDR=10.1.1.101\nNETMASK=255.255.255.0\n');
    await b.apply(bondMovePlan);
    expect(filesOf(root)['ifcfg-lo']).to.equal('DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\n');
    expect(filesOf(root)['ifcfg-vlan100:1']).to.equal('BOOTPROTO=static\nONBOOT=yes\nIPADDR=10.1.1.101\nNETMASK=255.255.255.0\n');
    expect(await b.read()).to.deep.equal(BONDED);
    // Oracle VM's hand-made layout: numeric mode 4, no XENAPI_* keys, bridge files without DEVICE
    const seed = new Map([
      [
        'ifcfg-bond0',
        '# 802.3ad bonded link\n# switch po1: Gi1/1, Gi1/2\nDEVICE=bond0\nBOOTPROTO=none\nONBOOT=yes\nBONDING_OPTS="mode=4 miimon=100"\nBRIDGE=vlan1\n',
      ],
      [
        'ifcfg-eth0',
        '# First interface in bond0\nDEVICE=eth0\nBOOTPROTO=static\nHWADDR=00:14:5E:C0:FF:EE\nTYPE=Ethernet\nONBOOT=yes\nMASTER=bond0\nSLAVE=yes\n',
      ],
      [
        'ifcfg-eth1',
        '# Second interface in bond0\nDEVICE=eth1\nBOOTPROTO=static\nHWADDR=00:14:5E:C0:FF:EF\nTYPE=Ethernet\nONBOOT=yes\nMASTER=bond0\nSLAVE=yes\n',
      ],
      ['ifcfg-vlan1', 'BOOTPROTO=none\nONBOOT=yes\nTYPE=Bridge\n'],
      ['ifcfg-vlan100', 'BOOTPROTO=none\nONBOOT=yes\nTYPE=Bridge\n'],
      ['ifcfg-bond0.100', 'ONBOOT=yes\nBOOTPROTO=none\nVLAN=yes\nTYPE=Ethernet\nBRIDGE=vlan100\n'],
    ]);
    expect(parseFiles(seed).state).to.deep.equal(
      state(
        br('vlan1', { uplink: { kind: 'bond', name: 'bond0', members: ['eth0', 'eth1'], mode: 'lacp', properties: {}, mac: '' } }),
        br('vlan100', { vlan: { parent: 'vlan1', tag: 100 } }),
      ),
    );
  });
});

describe('ifcfg backend: all or nothing', () => {
  it('a forced bad augtool command: nothing saved, previous files kept, BackendError', async () => {
    const { root } = await startOfDay();
    const before = filesOf(root);
    const bad = new IfcfgBackend({ root, nics: NICS, editCommands: (l) => [...l.slice(0, -1), 'bogus command', 'save'] });
    const e = await bad.apply(bondMovePlan).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(BackendError);
    expect((e as Error).message).to.match(/augtool exited 1/);
    expect(filesOf(root)).to.deep.equal(before);
    expect(await bad.read()).to.deep.equal(START_OF_DAY);
  });

  it('augtool saves, but a file differs from the rendering: every file is put back, the step of that bridge is named', async () => {
    const { root, b } = await startOfDay();
    const before = filesOf(root);
    const sly = new IfcfgBackend({ root, nics: NICS, editCommands: (l) => [...l.slice(0, -1), `set /files/${SCRIPTS_DIR}/ifcfg-xapi1/MTU 9000`, 'save'] });
    const e = await sly.apply(bondMovePlan).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(BackendError);
    expect((e as BackendError).step).to.equal(5); // bridge.add xapi1
    expect((e as Error).message).to.match(/ifcfg-xapi1/);
    expect(filesOf(root)).to.deep.equal(before);
    expect(await b.read()).to.deep.equal(START_OF_DAY);
  });

  it('a file augeas cannot save (a directory in the way): the files it did save are undone', async () => {
    const { root, b } = await startOfDay();
    const before = filesOf(root);
    mkdirSync(join(scriptsDir(root), 'ifcfg-bond0'));
    const e = await b.apply(bondMovePlan).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(BackendError);
    expect((e as Error).message).to.match(/previous files restored.*augtool exited/);
    expect(filesOf(root)).to.deep.equal(before);
    expect(statSync(join(scriptsDir(root), 'ifcfg-bond0')).isDirectory()).to.equal(true);
    expect(await b.read()).to.deep.equal(START_OF_DAY);
  });

  it('a step that does not fit, or a NIC the host does not have, fails before any file is written', async () => {
    const { root, b } = await startOfDay();
    const before = filesOf(root);
    const e1 = await b.apply([bondMovePlan[0], { op: 'ip.clear', bridge: 'xenbr0', ip: MGMT }]).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e1).to.be.instanceOf(BackendError);
    expect((e1 as BackendError).step).to.equal(1);
    const e2 = await b
      .apply([
        { op: 'bridge.add', bridge: 'xapi7', MTU: 1500 },
        { op: 'bridge.add', bridge: 'xapi8', MTU: 1500 },
        { op: 'uplink.add', bridge: 'xapi8', uplink: nic('eth9') },
      ])
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(e2).to.be.instanceOf(BackendError);
    expect((e2 as BackendError).step).to.equal(1);
    expect((e2 as Error).message).to.match(/host has no NIC eth9/);
    expect(filesOf(root)).to.deep.equal(before);
    expect(b.augtoolRuns).to.equal(1);
  });
});

describe('ifcfg backend: NICs and bond links', () => {
  it('nics() from the injected inventory, else from <root>/sys/class/net', async () => {
    expect(await new IfcfgBackend({ root: sandboxRoot(), nics: NICS }).nics()).to.deep.equal(NICS);
    const root = sandboxRoot();
    for (const [dev, phys, carrier] of [
      ['eth0', true, '1'],
      ['eth1', true, '0'],
      ['lo', false, '1'],
    ] as const) {
      const d = join(root, 'sys/class/net', dev);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'address'), `02:00:00:00:00:0${dev.length}\n`);
      writeFileSync(join(d, 'mtu'), '1500\n');
      writeFileSync(join(d, 'carrier'), `${carrier}\n`);
      if (phys) symlinkSync('../../../devices/pci0000:00/0000:00:03.0', join(d, 'device'));
    }
    expect(await new IfcfgBackend({ root }).nics()).to.deep.equal([
      { device: 'eth0', MAC: '02:00:00:00:00:04', MTU: 1500, carrier: true },
      { device: 'eth1', MAC: '02:00:00:00:00:04', MTU: 1500, carrier: false },
    ]);
  });

  it('bondLinksUp() counts members with MII status up in /proc/net/bonding/<bond> (seed 003 format), 0 without it', async () => {
    const root = sandboxRoot();
    const b = new IfcfgBackend({ root, nics: NICS });
    expect(await b.bondLinksUp('bond0')).to.equal(0);
    mkdirSync(join(root, 'proc/net/bonding'), { recursive: true });
    const seed = (second: string) =>
      [
        'Ethernet Channel Bonding Driver: v3.0.3 (March 23, 2006)',
        '',
        'Bonding Mode: IEEE 802.3ad Dynamic link aggregation',
        'Transmit Hash Policy: layer2 (0)',
        'MII Status: up',
        'MII Polling Interval (ms): 100',
        '',
        'Slave Interface: eth0',
        'MII Status: up',
        'Link Failure Count: 0',
        'Permanent HW addr: 00:14:5e:C0:FF:EE',
        'Aggregator ID: 1',
        '',
        'Slave Interface: eth1',
        `MII Status: ${second}`,
        'Link Failure Count: 0',
        'Permanent HW addr: 00:14:5e:C0:FF:EF',
        'Aggregator ID: 1',
        '',
      ].join('\n');
    writeFileSync(join(root, 'proc/net/bonding/bond0'), seed('up'));
    expect(await b.bondLinksUp('bond0')).to.equal(2);
    writeFileSync(join(root, 'proc/net/bonding/bond0'), seed('down'));
    expect(await b.bondLinksUp('bond0')).to.equal(1);
  });

  it('createBackend("ifcfg") with a root uses the inventory; --ifcfg-root parses', async () => {
    const root = sandboxRoot();
    const b = await createBackend('ifcfg', { inventory: NICS, ifcfgRoot: root });
    expect(b.name).to.equal('ifcfg');
    expect((b as IfcfgBackend).root).to.equal(root);
    expect(await b.nics()).to.deep.equal(NICS);
    expect(parseArgs(['--backend', 'ifcfg', '--ifcfg-root', root]).ifcfgRoot).to.equal(root);
  });
});

describe('ifcfg backend: the managed node controller', () => {
  it('nodeConfig renames devices by MAC; the extracted augtool file reproduces the files on another root', async () => {
    const renamed = nodeConfig(BONDED, NICS, { [MACS[0].toUpperCase()]: 'em1', [MACS[3]]: 'em4', [MACS[1]]: 'em2' });
    // bash extracts the two files; run the augtool one against a fresh root, as a node would
    const node = sandboxRoot();
    mkdirSync(scriptsDir(node), { recursive: true });
    const script = renamed.replaceAll('/var/tmp/', `${node}/`);
    const { execa } = await import('execa');
    await execa('bash', ['-c', script]);
    expect(readFileSync(join(node, 'pre-config-script'), 'utf8')).to.equal(preConfigScript(BONDED));
    await execa('augtool', ['-r', node, '-f', join(node, 'node-augtool')]);
    const files = filesOf(node);
    expect(Object.keys(files)).to.deep.equal([
      'ifcfg-bond0',
      'ifcfg-em1',
      'ifcfg-em2',
      'ifcfg-em4',
      'ifcfg-eth2',
      'ifcfg-xapi1',
      'ifcfg-xenbr1',
      'ifcfg-xenbr2',
    ]);
    expect(files['ifcfg-em1']).to.equal(memberEth(0, 'bond0').replace('eth0', 'em1'));
    expect(files['ifcfg-em2']).to.equal(plainEth(1, 'xenbr1').replace('eth1', 'em2'));
    expect(files['ifcfg-bond0']).to.equal(BOND0_FILE.replace('"eth0 eth3"', '"em1 em4"'));
    expect(files['ifcfg-xapi1']).to.equal(BONDED_FILES['ifcfg-xapi1']);
    // without bonds there is no pre-config section
    expect(nodeConfig(START_OF_DAY, NICS, {})).to.not.include('pre-config-script <<');
    expect(renderFiles(START_OF_DAY, new Map(NICS.map((n) => [n.device, n.MAC]))).map((f) => f.name)).to.deep.equal(Object.keys(START_OF_DAY_FILES));
  });

  describe('through a daemon on the ifcfg backend', () => {
    let r: Running;
    let root: string;
    let session: string;
    let client: xmlrpc.Client;
    const call = <T = any>(method: string, ...params: unknown[]): Promise<T> =>
      new Promise((resolve, reject) => {
        client.methodCall(method, params, (err: unknown, v: any) => {
          if (err) return reject(err);
          if (v?.Status === 'Success') return resolve(v.Value);
          reject(new Error(`${method}: ${JSON.stringify(v?.ErrorDescription ?? v)}`));
        });
      });
    const post = (path: string, body: string): Promise<{ status: number; type: string; text: string }> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: r.port, path, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8') }),
          );
        });
        req.on('error', reject);
        req.end(body);
      });
    const mac = (dev: string) => DEMO_INVENTORY.find((n) => n.device === dev)!.MAC;

    before(async () => {
      root = sandboxRoot();
      const cfg: Config = {
        ...DEFAULTS,
        db: ':memory:',
        port: 0,
        authFailDelayMs: 10,
        hostname: 'ifcfghost',
        logLevel: 'error',
        backend: 'ifcfg',
        ifcfgRoot: root,
        inventory: DEMO_INVENTORY,
        users: TEST_USERS,
      };
      r = await startDaemon(cfg, { log: makeLogger({ logLevel: 'error', logFile: '' }) });
      client = xmlrpc.createClient({ host: '127.0.0.1', port: r.port, path: '/' });
      session = await call<string>('session.login_with_password', 'root', 'secret', '1.0', 'test');
    });
    after(async () => {
      await r?.close();
    });

    it('start-up wrote the start-of-day files with augtool; seed 004 Bond.create rewrites them', async () => {
      expect(r.backend.name).to.equal('ifcfg');
      const f = filesOf(root);
      // first start plugs the management PIF only (xapi's start of day)
      expect(Object.keys(f)).to.deep.equal(['ifcfg-eth0', 'ifcfg-xenbr0']);
      expect(f['ifcfg-xenbr0']).to.match(/^IPADDR=192\.0\.2\.10$/m);
      const pifs = await call<string[]>('PIF.get_all', session);
      const byDev: Record<string, string> = {};
      for (const p of pifs) byDev[await call<string>('PIF.get_device', session, p)] = p;
      const net = await call<string>('network.create', session, { name_label: 'MGT', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
      await call('Bond.create', session, net, [byDev.eth0, byDev.eth3], '', 'active-backup', {});
      const g = filesOf(root);
      expect(g).to.not.have.property('ifcfg-xenbr0');
      expect(g).to.not.have.property('ifcfg-xenbr3');
      expect(g['ifcfg-bond0']).to.match(/^BONDING_OPTS="mode=active-backup miimon=100 /m);
      expect(g['ifcfg-eth3']).to.match(/^MASTER=bond0$/m);
      const bridge = await call<string>('network.get_bridge', session, net);
      expect(g[`ifcfg-${bridge}`]).to.match(/^IPADDR=192\.0\.2\.10$/m);
      await call('PIF.plug', session, byDev.eth1);
      expect(filesOf(root)['ifcfg-eth1']).to.match(/^BRIDGE=xenbr1$/m);
      expect(Object.keys(filesOf(root))).to.deep.equal(['ifcfg-bond0', 'ifcfg-eth0', 'ifcfg-eth1', 'ifcfg-eth3', `ifcfg-${bridge}`, 'ifcfg-xenbr1']);
    });

    it(`POST /ifcfg/config with the node's MAC → device map returns both sections, devices renamed by MAC`, async () => {
      const map = { [mac('eth0')]: 'em1', [mac('eth1')]: 'p2p1', [mac('eth2')]: 'em3' };
      const res = await post(`/ifcfg/config?session_id=${session}`, JSON.stringify(map));
      expect(res.status).to.equal(200);
      expect(res.type).to.match(/^text\/plain/);
      expect(res.text).to.include("cat > /var/tmp/pre-config-script <<'__XENAPI_NETD_PRE_CONFIG__'");
      expect(res.text).to.include('options bonding max_bonds=1');
      expect(res.text).to.include("cat > /var/tmp/node-augtool <<'__XENAPI_NETD_AUGTOOL__'");
      expect(res.text).to.include(`set /files/${SCRIPTS_DIR}/ifcfg-em1/MASTER bond0`);
      expect(res.text).to.include(`set /files/${SCRIPTS_DIR}/ifcfg-em1/HWADDR ${mac('eth0')}`);
      expect(res.text).to.include(`set /files/${SCRIPTS_DIR}/ifcfg-eth3/MASTER bond0`); // not reported: keeps its name
      expect(res.text).to.include(`set /files/${SCRIPTS_DIR}/ifcfg-p2p1/BRIDGE xenbr1`);
      expect(res.text).to.include(`set /files/${SCRIPTS_DIR}/ifcfg-bond0/XENAPI_BOND_MEMBERS '"em1 eth3"'`);
      expect(res.text).to.not.match(/ifcfg-eth0\b|ifcfg-eth1\b|em3/);
    });

    it('answers 400 to a body that is not a MAC → device object; XML-RPC still answers on other paths', async () => {
      expect((await post(`/ifcfg/config?session_id=${session}`, 'not json')).status).to.equal(400);
      expect((await post(`/ifcfg/config?session_id=${session}`, '["eth0"]')).status).to.equal(400);
      const other = await post(
        '/ifcfg/configuration',
        '<?xml version="1.0"?><methodCall><methodName>session.get_this_host</methodName><params><param><value>x</value></param></params></methodCall>',
      );
      expect(other.type).to.match(/^text\/xml/);
      expect(await call('session.get_this_host', session, session)).to.match(/^OpaqueRef:/);
    });
  });
});
