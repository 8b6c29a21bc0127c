// Issue 8 §1, the layers below the API: value types on writes that bypass the OVS sandbox test
// (tunnel other_config), a malicious desired state from a "master", --inventory, the host-tool
// wrappers' own refusals (ip, ovs-vsctl, augtool) and the ifcfg backend writing through augtool.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetState, Step } from '../../src/backends/backend.js';
import { IfcfgBackend, SCRIPTS_DIR } from '../../src/backends/ifcfg.js';
import { valueProblems } from '../../src/backends/state.js';
import { AugScript } from '../../src/backends/tools/augtool.js';
import { RefusedValue, Tool } from '../../src/backends/tools/exec.js';
import { IpTool } from '../../src/backends/tools/ip.js';
import { VsctlTxn } from '../../src/backends/tools/ovs.js';
import { checkInventory } from '../../src/config.js';
import { xapiCall } from '../../src/pool/rpc.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { cleanupDirs, failure, startNode, tempDir, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';

describe('security: value types below the API', function () {
  this.timeout(30000);

  describe('tunnel other_config (simulated backend)', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ config: { networkBackend: 'openvswitch' } });
    });
    after(async () => {
      await h.r.close();
    });
    it('SEC-10 tunnel remote_ip/key that are not an IPv4 address / key never reach the host; a good remote does', async () => {
      await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'Static', '198.51.100.2', '255.255.255.0', '', '');
      const net = await h.call<string>('network.create', { name_label: 't', name_description: '', MTU: 1500, other_config: {}, tags: [] });
      const t = await h.call<string>('tunnel.create', h.pif('eth1'), net, 'gre');
      // Stored as xapi stores other_config, but never read into a host command (desired.ts filters).
      for (const bad of ['192.0.2.1\nx', '192.0.2.1,key=1', '-h', '300.1.1.1']) {
        await h.call('tunnel.set_other_config', t, { remote_ip: bad });
        expect(Object.values((await h.backend.read()).bridges).some((b) => b.uplink?.kind === 'tunnel')).to.equal(false);
      }
      await h.call('tunnel.set_other_config', t, {});
      await h.call('tunnel.add_to_other_config', t, 'remote_ip', '203.0.113.9');
      await h.call('tunnel.add_to_other_config', t, 'key', '42');
      expect(Object.values((await h.backend.read()).bridges).find((b) => b.uplink?.kind === 'tunnel')?.uplink).to.include({ remote: '203.0.113.9', key: '42' });
    });
  });

  describe('a malicious desired state from a "master"', () => {
    afterEach(() => cleanupDirs());
    it('SEC-11 host.apply_network_state with bad names, addresses, MACs, tags, MTUs or bond properties, whole or as a delta, is INVALID_VALUE [state, …]; the slave applies nothing', async () => {
      const dir = tempDir();
      const nodes: Node[] = [];
      try {
        const m = await startNode({ h: 0, db: join(dir, 'm.db') });
        nodes.push(m);
        const s = await startNode({ h: 1, db: join(dir, 's.db'), master: m.url, heartbeatMs: 60_000 });
        nodes.push(s);
        await until('slave sync', () => (s.pool.agent?.syncs ?? 0) >= 1, 10_000);
        const token = s.pool.role.token!;
        const before = await s.backend.read();
        const ticket = () => JSON.stringify({ seq: Date.now(), deadline: Date.now() + 10_000 });
        const bad = (mut: (st: NetState) => void): NetState => {
          const st = JSON.parse(JSON.stringify(before)) as NetState;
          mut(st);
          return st;
        };
        const b0 = Object.keys(before.bridges)[0];
        const shapes: [string, NetState][] = [
          [
            'IP with a newline',
            bad((st) => {
              st.bridges[b0].ip = { mode: 'Static', address: '192.0.2.9\nnetns exec x id', netmask: '255.255.255.0', gateway: '', dns: '' };
            }),
          ],
          [
            'gateway with a command',
            bad((st) => {
              st.bridges[b0].ip = { mode: 'Static', address: '192.0.2.9', netmask: '24', gateway: '192.0.2.1\nlink set dev eth2 down', dns: '' };
            }),
          ],
          [
            'bridge named --',
            bad((st) => {
              st.bridges['--'] = { name: '--', MTU: 1500, vifs: [] };
            }),
          ],
          [
            'bridge named ../../x',
            bad((st) => {
              st.bridges['../../x'] = { name: '../../x', MTU: 1500, vifs: [] };
            }),
          ],
          [
            '16-byte bridge',
            bad((st) => {
              st.bridges.abcdefghijklmnop = { name: 'abcdefghijklmnop', MTU: 1500, vifs: [] };
            }),
          ],
          [
            'NIC -h',
            bad((st) => {
              st.bridges.xnew = { name: 'xnew', MTU: 1500, uplink: { kind: 'nic', device: '-h' }, vifs: [] };
            }),
          ],
          [
            'bond MAC',
            bad((st) => {
              st.bridges.xnew = {
                name: 'xnew',
                MTU: 1500,
                uplink: { kind: 'bond', name: 'bond9', members: ['eth2', 'eth3'], mode: 'active-backup', properties: {}, mac: 'zz' },
                vifs: [],
              };
            }),
          ],
          [
            'bond property',
            bad((st) => {
              st.bridges.xnew = {
                name: 'xnew',
                MTU: 1500,
                uplink: { kind: 'bond', name: 'bond9', members: ['eth2', 'eth3'], mode: 'lacp', properties: { 'lacp-time': 'fast"; reboot' }, mac: '' },
                vifs: [],
              };
            }),
          ],
          [
            'VLAN tag 4095',
            bad((st) => {
              st.bridges.xv = { name: 'xv', MTU: 1500, vlan: { parent: b0, tag: 4095 }, vifs: [] };
            }),
          ],
          [
            'MTU 1',
            bad((st) => {
              st.bridges[b0].MTU = 1;
            }),
          ],
          [
            'VIF name',
            bad((st) => {
              st.bridges[b0].vifs = ['vif1.0 x'];
            }),
          ],
          [
            'key and name differ',
            bad((st) => {
              st.bridges.xa = { name: 'xb', MTU: 1500, vifs: [] };
            }),
          ],
        ];
        for (const [what, st] of shapes) {
          const got = await failure(xapiCall(s.url, 'host.apply_network_state', [token, JSON.stringify(st), ticket()]));
          expect(got.slice(0, 2), what).to.deep.equal(['INVALID_VALUE', 'state']);
          expect(await s.backend.read(), what).to.deep.equal(before);
        }
        // The same bridges as deltas on the slave's last state (how the master sends a change), a delete of a bad name, and a
        // delta whose whole state is inconsistent.
        const base = s.pool.role.stateSeq!;
        const changed = (st: NetState) =>
          Object.fromEntries(Object.entries(st.bridges).filter(([k, b]) => JSON.stringify(b) !== JSON.stringify(before.bridges[k])));
        const deltas: [string, object][] = shapes.map(([what, st]) => [`delta: ${what}`, { base, set: changed(st), del: [] }]);
        deltas.push(['delta: delete of a bad name', { base, set: {}, del: ['../../x'] }]);
        deltas.push([
          'delta: a VLAN bridge on a parent that does not exist',
          { base, set: { v9: { name: 'v9', MTU: 1500, vlan: { parent: 'nothere', tag: 9 }, vifs: [] } }, del: [] },
        ]);
        deltas.push(['delta: no base', { set: {}, del: [] }]);
        let seq = Date.now() * 2000;
        for (const [what, d] of deltas) {
          const got = await failure(
            xapiCall(s.url, 'host.apply_network_state', [token, JSON.stringify(d), JSON.stringify({ seq: ++seq, deadline: Date.now() + 10_000 })]),
          );
          expect(got.slice(0, 2), what).to.deep.equal(['INVALID_VALUE', 'state']);
          expect(await s.backend.read(), what).to.deep.equal(before);
          expect(s.pool.role.stateSeq, what).to.equal(base);
        }
      } finally {
        for (const n of nodes.reverse()) await n.stop();
      }
    });
  });

  it('SEC-12 --inventory: bad device names, MACs, MTUs, bridges, tags, bond properties and IPs stop the daemon from starting', () => {
    const nic = { device: 'eth0', MAC: '02:00:5e:00:53:10', MTU: 1500 };
    expect(checkInventory([nic])).to.deep.equal([nic]);
    const bads: unknown[] = [
      {},
      [{ ...nic, device: 'eth0\nx' }],
      [{ ...nic, device: '-h' }],
      [{ ...nic, MAC: 'x' }],
      [{ ...nic, MTU: 0 }],
      [{ ...nic, bridge: 'br;id' }],
      [nic, { vlan: 4095, on: 'eth0' }],
      [nic, { bond: 'bond0', members: ['eth0', '../x'], mode: 'active-backup' }],
      [nic, { bond: 'bond0', members: ['eth0'], mode: 'lacp', properties: { 'lacp-time': '$(id)' } }],
      [{ ...nic, management: true, ip: { mode: 'Static', address: '192.0.2.1\nx', netmask: '24' } }],
      [{ ...nic, management: true, ip: { mode: 'Static', address: '192.0.2.1', netmask: '24', dns: '1.1.1.1;id' } }],
      [nic, nic],
    ];
    for (const b of bads) expect(() => checkInventory(b), JSON.stringify(b)).to.throw(Error, /--inventory/);
  });

  it('SEC-13 the tool wrappers refuse what their types forbid before anything runs, and log every command', async () => {
    const ran: string[][] = [];
    const logged: string[] = [];
    const tool = new Tool(
      'ip',
      async (a) => {
        ran.push(a);
        return '[]';
      },
      { debug: (m) => logged.push(m), info: () => undefined, warn: () => undefined },
    );
    const ip = new IpTool(tool);
    for (const c of [
      { op: 'link.up' as const, dev: 'eth0 down' },
      { op: 'addr.replace' as const, dev: 'xenbr0', address: '10.0.0.1\nlink set dev eth0 down', prefix: 24 },
    ]) {
      await ip.batch([c]).then(
        () => expect.fail('ran'),
        (e) => expect(e).to.be.instanceOf(RefusedValue),
      );
    }
    await tool.run(['-j', 'link', 'show']).catch(() => undefined);
    expect(ran).to.deep.equal([['-j', 'link', 'show']]);
    expect(logged).to.deep.equal(['ip -j link show']);
    await tool.run(['a\0b']).then(
      () => expect.fail('ran'),
      (e) => expect(e).to.be.instanceOf(RefusedValue),
    );
    const tx = new VsctlTxn();
    expect(() => tx.addBr('--', 'netdev')).to.throw(RefusedValue);
    expect(() => tx.addBr('br0', 'netdev -- del-br x')).to.throw(RefusedValue);
    expect(() => tx.setBridgeHwaddr('br0', '02:00:00:00:00:01"')).to.throw(RefusedValue);
    expect(() => tx.setTunnel('t0', 'gre', '1.2.3.4,key=5', '', {})).to.throw(RefusedValue);
    expect(() => tx.setMtu('br0', 70000)).to.throw(RefusedValue);
    expect(() => tx.addFakeBr('v1', 'br0', 4095)).to.throw(RefusedValue);
    expect(tx.cmds).to.deep.equal([]);
    const aug = new AugScript();
    expect(() => aug.set('/files/etc/x/ifcfg-eth0/IPADDR', '1.2.3.4\nrm /files/etc')).to.throw(RefusedValue);
    expect(() => aug.set('/files/etc/x/ifcfg-eth0 /IPADDR', '1')).to.throw(RefusedValue);
    expect(() => aug.set('/files/etc/x/ifcfg-eth0/X', "a' b")).to.throw(RefusedValue);
    expect(() => aug.setComment('/files/x/#comment[1]', "it's")).to.throw(RefusedValue);
    expect(aug.set('/files/etc/x/ifcfg-eth0/BONDING_OPTS', '"mode=1 miimon=100"').save().text()).to.equal(
      `set /files/etc/x/ifcfg-eth0/BONDING_OPTS '"mode=1 miimon=100"'\nsave\n`,
    );
  });

  it('SEC-14 ifcfg + augtool: augtool runs through its wrapper; a plan carrying an injection is refused, and the files stay byte for byte', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xnd-sec-ifcfg-'));
    try {
      const logged: string[] = [];
      const log = { debug: (m: string) => logged.push(m), info: () => undefined, warn: () => undefined };
      const be = new IfcfgBackend({ root, nics: [{ device: 'eth0', MAC: '02:00:5e:00:53:10', MTU: 1500, carrier: true }], log });
      await be.apply([
        { op: 'bridge.add', bridge: 'xenbr0', MTU: 1500 },
        { op: 'uplink.add', bridge: 'xenbr0', uplink: { kind: 'nic', device: 'eth0' } },
      ]);
      // augtool ran through its wrapper (tools/augtool.ts: the Tool choke point logs every command, argv only).
      expect(logged.filter((l) => l.startsWith(`augtool -A -r ${root} -f `))).to.have.length(1);
      const dir = join(root, SCRIPTS_DIR);
      const snap = () =>
        Object.fromEntries(
          readdirSync(dir)
            .sort()
            .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
        );
      const s0 = snap();
      const plans: Step[][] = [
        [{ op: 'ip.set', bridge: 'xenbr0', ip: { mode: 'Static', address: '192.0.2.9\nrm /files/etc', netmask: '255.255.255.0', gateway: '', dns: '' } }],
        [{ op: 'ip.set', bridge: 'xenbr0', ip: { mode: 'Static', address: '192.0.2.9', netmask: '255.255.255.0', gateway: '$(reboot)', dns: '' } }],
        [{ op: 'ip.set', bridge: 'xenbr0', ip: { mode: 'Static', address: '192.0.2.9', netmask: '255.255.255.0', gateway: '', dns: "1.1.1.1' x" } }],
        [{ op: 'bridge.add', bridge: 'br;id', MTU: 1500 }],
      ];
      for (const p of plans) {
        expect(valueProblems([], p), JSON.stringify(p)).to.not.deep.equal([]);
        await be.apply(p).then(
          () => expect.fail(`applied ${JSON.stringify(p)}`),
          () => undefined,
        );
        expect(snap(), JSON.stringify(p)).to.deep.equal(s0);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
