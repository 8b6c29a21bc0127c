// xe-netd against one daemon, one describe per command family: output layout as xe prints it
// (cli_printer.ml), records as records.ml names them, filters, the param commands, the networking
// commands with xe's arguments (cli_frontend.ml), errors and exit codes as xe reports them, help,
// event-wait, --progress, the kept session, and bash completion.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness } from '../helpers/harness.js';
import { setFields } from '../helpers/vmfix.js';
import { startNode } from '../helpers/nodes.js';
import { selfSignedCert } from '../helpers/tls.js';

const XE = fileURLToPath(new URL('../../src/cli/xe.cjs', import.meta.url));
const COMPLETION = fileURLToPath(new URL('../../../share/xe-netd.bash', import.meta.url));
const run = promisify(execFile);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Res {
  out: string;
  err: string;
  code: number;
}

describe('xe-netd CLI', function () {
  this.timeout(60_000);
  let h: Harness;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const xe = async (...args: string[]): Promise<Res> => {
    try {
      const r = await run(process.execPath, [XE, ...args], { env });
      return { out: r.stdout, err: r.stderr, code: 0 };
    } catch (e: any) {
      return { out: e.stdout, err: e.stderr, code: e.code };
    }
  };
  /** A bash script where `xe` is xe-netd, as an operator types it. */
  const sh = async (script: string): Promise<Res> => {
    try {
      const r = await run('bash', ['-c', `set -e -o pipefail\nxe() { "${process.execPath}" "${XE}" "$@"; }\n${script}`], { env });
      return { out: r.stdout, err: r.stderr, code: 0 };
    } catch (e: any) {
      return { out: e.stdout, err: e.stderr, code: e.code };
    }
  };
  const ok = async (...args: string[]) => {
    const r = await xe(...args);
    expect(r.code, `${args.join(' ')}: ${r.err}`).to.equal(0);
    return r.out;
  };
  const uuidOf = async (cls: string, ref: string) => String((await h.call(`${cls}.get_record`, ref)).uuid);

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'xnd-xe-'));
    env = { ...process.env, XE_NETD_URL: `${h.url}/`, XDG_RUNTIME_DIR: dir, HOME: dir };
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('layout and records', () => {
    it('CLI-01 prints xe records: padded labels with tags, xe field order whatever params= says, two blank lines after each', async () => {
      const out = await ok('pif-list', 'device=eth0', 'params=IP,device,uuid,network-name-label');
      const eth0 = await uuidOf('PIF', h.pif('eth0'));
      expect(out).to.equal(
        `uuid ( RO)                  : ${eth0}\n` +
          '                device ( RO): eth0\n' +
          '    network-name-label ( RO): Pool-wide network associated with eth0\n' +
          '                    IP ( RO): 192.0.2.10\n\n\n',
      );
    });

    it("CLI-02 `awk '{ print $5 }'` on params=uuid gives the uuid, as seed 004 uses it", async () => {
      const r = await sh("xe pif-list device=eth3 params=uuid | awk '{ print $5 }'");
      expect(r.out.trim()).to.equal(await uuidOf('PIF', h.pif('eth3')));
    });

    it("CLI-03 the default pif-list fields are records.ml's (uuid device MAC currently-attached VLAN network-uuid host-uuid), refs as uuids", async () => {
      const out = await ok('pif-list', 'device=eth1');
      const rec = await h.call('PIF.get_record', h.pif('eth1'));
      const labels = out
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(':')[0].trim());
      expect(labels).to.deep.equal([
        'uuid ( RO)',
        'device ( RO)',
        'MAC ( RO)',
        'currently-attached ( RO)',
        'VLAN ( RO)',
        'network-uuid ( RO)',
        'host-uuid ( RO)',
      ]);
      expect(out).to.contain(`network-uuid ( RO): ${await uuidOf('network', rec.network)}`);
      expect(out).to.contain(`host-uuid ( RO): ${await uuidOf('host', rec.host)}`);
      expect(out).to.not.contain('OpaqueRef');
    });

    it('CLI-04 param-list shows every field with its tag: RW scalars, MRW/MRO maps, SRO sets, null refs as <not in database>', async () => {
      const out = await ok('pif-param-list', `uuid=${await uuidOf('PIF', h.pif('eth0'))}`);
      expect(out).to.match(/^uuid \( RO\) +: /);
      for (const l of [
        'disallow-unplug ( RW): false',
        'other-config (MRW): ',
        'properties (MRO): ',
        'capabilities (SRO): ',
        'bond-slave-of ( RO): <not in database>',
        'IP-configuration-mode ( RO): Static',
        'management ( RO): true',
        'io_read_kbs ( RO): <unknown>',
        'speed ( RO): ',
      ]) {
        expect(out).to.contain(l);
      }
      expect(out).to.not.contain('OpaqueRef');
    });

    it('CLI-05 --minimal prints the first field of each record comma-separated on one line', async () => {
      const out = await ok('pif-list', 'physical=true', 'params=device', '--minimal');
      expect(out).to.equal('eth0,eth1,eth2,eth3,eth4,eth5\n');
      expect(await ok('pif-list', 'device=nothing', '--minimal')).to.equal('\n');
    });
  });

  describe('filters', () => {
    it('CLI-06 filter on derived fields (network-name-label, host-uuid), on IP-configuration-mode, and MAC case-insensitively', async () => {
      const host = await uuidOf('host', (await h.call('host.get_all'))[0]);
      expect(await ok('pif-list', `host-uuid=${host}`, 'network-name-label=Pool-wide network associated with eth2', 'params=device', '--minimal')).to.equal(
        'eth2\n',
      );
      expect(await ok('pif-list', 'IP-configuration-mode=Static', 'params=device', '--minimal')).to.equal('eth0\n');
      expect(await ok('pif-list', 'MAC=02:00:5E:00:53:14', 'params=device', '--minimal')).to.equal('eth4\n');
    });

    it('CLI-07 map filters (other-config:k=v) and set filters (tags:contains=t)', async () => {
      const net = (await ok('network-create', 'name-label=filtered')).trim();
      await ok('network-param-set', `uuid=${net}`, 'other-config:role=storage');
      await ok('network-param-add', `uuid=${net}`, 'param-name=tags', 'param-key=blue');
      expect(await ok('network-list', 'other-config:role=storage', 'params=uuid', '--minimal')).to.equal(`${net}\n`);
      expect(await ok('network-list', 'tags:contains=blue', 'params=name-label', '--minimal')).to.equal('filtered\n');
      expect(await ok('network-list', 'tags:contains=red', '--minimal')).to.equal('\n');
    });

    it('CLI-08 an unknown filter or params= field is an error (exit 1), not an empty list', async () => {
      const a = await xe('pif-list', 'colour=blue');
      expect([a.code, a.out]).to.deep.equal([1, '']);
      expect(a.err).to.contain("Unknown field 'colour'");
      const b = await xe('pif-list', 'params=uuid,colour');
      expect(b.code).to.equal(1);
      expect(b.err).to.equal('Error code: Missing parameter\nError parameters: colour\n');
    });
  });

  describe('param commands', () => {
    it('CLI-09 -param-get (with param-key= for maps) and -param-set of strings, ints, booleans, map keys', async () => {
      const net = (await ok('network-create', 'name-label=Y')).trim();
      await ok('network-param-set', `uuid=${net}`, 'name-description=hello', 'MTU=9000', 'other-config:a=1', 'other-config:b=2');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=name-description')).to.equal('hello\n');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=MTU')).to.equal('9000\n');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=other-config')).to.equal('a: 1; b: 2\n');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=other-config', 'param-key=b')).to.equal('2\n');
      await ok('network-param-set', `uuid=${net}`, 'default-locking-mode=disabled'); // an enum
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=default-locking-mode')).to.equal('disabled\n');
      const eth5 = await uuidOf('PIF', h.pif('eth5'));
      await ok('pif-param-set', `uuid=${eth5}`, 'disallow-unplug=true');
      expect(await h.call('PIF.get_disallow_unplug', h.pif('eth5'))).to.equal(true);
      const bad = await xe('pif-param-set', `uuid=${eth5}`, 'disallow-unplug=maybe');
      expect(bad.code).to.equal(1);
      expect(bad.err).to.contain('must be a boolean');
      const ro = await xe('pif-param-set', `uuid=${eth5}`, 'device=eth9');
      expect(ro.err).to.contain("Field 'device' is read-only.");
      await ok('pif-param-set', `uuid=${eth5}`, 'disallow-unplug=false');
    });

    it('CLI-09b map keys named like Object.prototype members (__proto__, constructor, toString) are keys like any other in -param-get, -param-set and filters', async () => {
      const net = (await ok('network-create', 'name-label=Proto')).trim();
      const ref = await h.call('network.get_by_uuid', net);
      await h.call('network.add_to_other_config', ref, '__proto__', 'p');
      await h.call('network.add_to_other_config', ref, 'constructor', 'c');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=other-config', 'param-key=__proto__')).to.equal('p\n');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=other-config', 'param-key=constructor')).to.equal('c\n');
      const none = await xe('network-param-get', `uuid=${net}`, 'param-name=other-config', 'param-key=toString');
      expect(none.code).to.equal(1);
      expect(none.err).to.contain('Key toString not found in map');
      await ok('network-param-set', `uuid=${net}`, 'other-config:__proto__=q', 'other-config:toString=t');
      expect({ ...h.r.store.get('network', ref).other_config }).to.deep.equal(JSON.parse('{"__proto__": "q", "constructor": "c", "toString": "t"}'));
      expect(await ok('network-list', 'other-config:__proto__=q', 'params=uuid', '--minimal')).to.equal(`${net}\n`);
      await ok('network-destroy', `uuid=${net}`);
    });

    it('CLI-10 -param-add/-remove/-clear on sets and maps', async () => {
      const net = (await ok('network-create', 'name-label=Z')).trim();
      await ok('network-param-add', `uuid=${net}`, 'param-name=other-config', 'x=1', 'y=2');
      await ok('network-param-add', `uuid=${net}`, 'param-name=tags', 'param-key=t1');
      await ok('network-param-add', `uuid=${net}`, 'param-name=tags', 'param-key=t2');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=tags')).to.equal('t1, t2\n');
      await ok('network-param-remove', `uuid=${net}`, 'param-name=tags', 'param-key=t1');
      await ok('network-param-remove', `uuid=${net}`, 'param-name=other-config', 'param-key=x');
      expect(await ok('network-param-get', `uuid=${net}`, 'param-name=other-config')).to.equal('y: 2\n');
      const missing = await xe('network-param-remove', `uuid=${net}`, 'param-name=other-config', 'param-key=nope');
      expect(missing.code).to.equal(1);
      await ok('network-param-clear', `uuid=${net}`, 'param-name=other-config');
      await ok('network-param-clear', `uuid=${net}`, 'param-name=tags');
      const rec = await h.call('network.get_record', await h.call('network.get_by_uuid', net));
      expect([rec.other_config, rec.tags]).to.deep.equal([{}, []]);
    });
  });

  describe('networking commands', () => {
    it('CLI-11 bond-create network-uuid= pif-uuids= mode= properties:k=v, bond-set-mode, bond-destroy', async () => {
      const net = (await ok('network-create', 'name-label=BOND')).trim();
      const [e1, e2] = [await uuidOf('PIF', h.pif('eth1')), await uuidOf('PIF', h.pif('eth2'))];
      const bond = (await ok('bond-create', `network-uuid=${net}`, `pif-uuids=${e1},${e2}`, 'mode=lacp', 'properties:hashing_algorithm=tcpudp_ports')).trim();
      expect(bond).to.match(UUID);
      expect(await ok('bond-param-get', `uuid=${bond}`, 'param-name=mode')).to.equal('lacp\n');
      expect(await ok('bond-param-get', `uuid=${bond}`, 'param-name=properties', 'param-key=hashing_algorithm')).to.equal('tcpudp_ports\n');
      expect(await ok('bond-param-get', `uuid=${bond}`, 'param-name=slaves')).to.equal(`${e1}; ${e2}\n`);
      await ok('bond-set-mode', `uuid=${bond}`, 'mode=active-backup');
      expect(await ok('bond-list', `uuid=${bond}`, 'params=mode', '--minimal')).to.equal('active-backup\n');
      const master = (await ok('bond-param-get', `uuid=${bond}`, 'param-name=master')).trim();
      expect(await ok('pif-param-get', `uuid=${master}`, 'param-name=bond-master-of')).to.equal(`${bond}\n`);
      expect(await ok('pif-param-get', `uuid=${e1}`, 'param-name=bond-slave-of')).to.equal(`${bond}\n`);
      await ok('bond-destroy', `uuid=${bond}`);
      expect(await h.call('Bond.get_all')).to.deep.equal([]);
    });

    it('CLI-12 vlan-create pif-uuid= vlan= network-uuid= prints the VLAN PIF uuid; vlan-destroy takes the VLAN (or its PIF)', async () => {
      const net = (await ok('network-create', 'name-label=V10')).trim();
      const eth3 = await uuidOf('PIF', h.pif('eth3'));
      const pif = (await ok('vlan-create', `pif-uuid=${eth3}`, 'vlan=10', `network-uuid=${net}`)).trim();
      expect(await ok('pif-param-get', `uuid=${pif}`, 'param-name=VLAN')).to.equal('10\n');
      const vlan = (await ok('pif-param-get', `uuid=${pif}`, 'param-name=vlan-master-of')).trim();
      expect(await ok('vlan-list', `uuid=${vlan}`, 'params=tagged-PIF,untagged-PIF,tag')).to.equal(
        `tagged-PIF ( RO)      : ${eth3}\n    untagged-PIF ( RO): ${pif}\n             tag ( RO): 10\n\n\n`,
      );
      await ok('vlan-destroy', `uuid=${vlan}`);
      const pif2 = (await ok('vlan-create', `pif-uuid=${eth3}`, 'vlan=11', `network-uuid=${net}`)).trim();
      await ok('vlan-destroy', `uuid=${pif2}`); // Rio's form: the PIF's uuid
      expect(await h.call('VLAN.get_all')).to.deep.equal([]);
    });

    it('CLI-13 tunnel-create pif-uuid= network-uuid= protocol= prints the access PIF; tunnel-destroy', async () => {
      // tunnel.create needs every host on the openvswitch backend (xapi's check)
      const sv = await h.call<Record<string, string>>('host.get_software_version', h.r.d.hostRef);
      await setFields(h, 'host', h.r.d.hostRef, { software_version: { ...sv, network_backend: 'openvswitch' } });
      const net = (await ok('network-create', 'name-label=T')).trim();
      const eth0 = await uuidOf('PIF', h.pif('eth0'));
      const access = (await ok('tunnel-create', `pif-uuid=${eth0}`, `network-uuid=${net}`, 'protocol=vxlan')).trim();
      const tunnel = (await ok('pif-param-get', `uuid=${access}`, 'param-name=tunnel-access-PIF-of')).trim();
      expect(await ok('tunnel-param-get', `uuid=${tunnel}`, 'param-name=protocol')).to.equal('vxlan\n');
      expect(await ok('tunnel-param-get', `uuid=${tunnel}`, 'param-name=transport-PIF')).to.equal(`${eth0}\n`);
      await ok('tunnel-destroy', `uuid=${tunnel}`);
      expect(await h.call('tunnel.get_all')).to.deep.equal([]);
    });

    it('CLI-14 pif-reconfigure-ip (mode case-insensitive), pif-unplug/plug, pif-reconfigure-ipv6, pif-set-primary-address-type', async () => {
      const eth4 = await uuidOf('PIF', h.pif('eth4'));
      await ok('pif-reconfigure-ip', `uuid=${eth4}`, 'mode=static', 'IP=198.51.100.4', 'netmask=255.255.255.0', 'gateway=198.51.100.1', 'DNS=198.51.100.53');
      expect(await ok('pif-list', `uuid=${eth4}`, 'params=netmask,IP-configuration-mode,IP')).to.equal(
        `IP-configuration-mode ( RO)    : Static\n${' '.repeat(23)}IP ( RO): 198.51.100.4\n${' '.repeat(18)}netmask ( RO): 255.255.255.0\n\n\n`,
      );
      await ok('pif-plug', `uuid=${eth4}`);
      expect(await ok('pif-param-get', `uuid=${eth4}`, 'param-name=currently-attached')).to.equal('true\n');
      await ok('pif-unplug', `uuid=${eth4}`);
      expect(await ok('pif-param-get', `uuid=${eth4}`, 'param-name=currently-attached')).to.equal('false\n');
      await ok('pif-reconfigure-ipv6', `uuid=${eth4}`, 'mode=static', 'IPv6=2001:db8::4/64');
      await ok('pif-set-primary-address-type', `uuid=${eth4}`, 'primary_address_type=ipv6');
      expect(await ok('pif-list', `uuid=${eth4}`, 'params=IPv6,primary-address-type')).to.contain('primary-address-type ( RO): IPv6');
      await ok('pif-set-primary-address-type', `uuid=${eth4}`, 'primary_address_type=ipv4');
      await ok('pif-reconfigure-ipv6', `uuid=${eth4}`, 'mode=none');
      await ok('pif-reconfigure-ip', `uuid=${eth4}`, 'mode=none');
      const bad = await xe('pif-reconfigure-ip', `uuid=${eth4}`, 'mode=sometimes');
      expect(bad.code).to.equal(1);
    });

    it('CLI-15 host-management-reconfigure pif-uuid= moves management; pif-scan, pif-forget, pif-introduce', async () => {
      const [eth0, eth1] = [await uuidOf('PIF', h.pif('eth0')), await uuidOf('PIF', h.pif('eth1'))];
      await ok('pif-reconfigure-ip', `uuid=${eth1}`, 'mode=static', 'IP=192.0.2.20', 'netmask=255.255.255.0');
      await ok('host-management-reconfigure', `pif-uuid=${eth1}`);
      expect(await ok('pif-list', 'management=true', 'params=device', '--minimal')).to.equal('eth1\n');
      await ok('host-management-reconfigure', `pif-uuid=${eth0}`);
      expect(await ok('pif-list', 'management=true', 'params=device', '--minimal')).to.equal('eth0\n');
      await ok('pif-reconfigure-ip', `uuid=${eth1}`, 'mode=none');
      const host = await uuidOf('host', (await h.call('host.get_all'))[0]);
      const mac = await ok('pif-param-get', `uuid=${eth1}`, 'param-name=MAC');
      await ok('pif-forget', `uuid=${eth1}`);
      expect(await ok('pif-list', 'device=eth1', '--minimal')).to.equal('\n');
      const back = (await ok('pif-introduce', `host-uuid=${host}`, 'device=eth1', `mac=${mac.trim()}`)).trim();
      expect(back).to.match(UUID);
      expect(await ok('pif-list', 'device=eth1', 'params=uuid', '--minimal')).to.equal(`${back}\n`);
      await ok('pif-scan', `host-uuid=${host}`);
      expect(await ok('pif-list', 'physical=true', 'params=device', '--minimal')).to.equal('eth0,eth2,eth3,eth4,eth5,eth1\n');
    });

    it('CLI-16 network-create (MTU=, bridge=), network-attach, network-destroy', async () => {
      const net = (await ok('network-create', 'name-label=N', 'name-description=d', 'MTU=1400')).trim();
      expect(await ok('network-list', `uuid=${net}`, 'params=name-label,name-description,MTU,managed')).to.equal(
        'name-label ( RW)          : N\n    name-description ( RW): d\n                 MTU ( RW): 1400\n             managed ( RO): true\n\n\n',
      );
      const host = await uuidOf('host', (await h.call('host.get_all'))[0]);
      await ok('network-attach', `uuid=${net}`, `host-uuid=${host}`);
      await ok('network-destroy', `uuid=${net}`);
      expect(await ok('network-list', `uuid=${net}`, '--minimal')).to.equal('\n');
    });

    it('CLI-17 vif-create vm-uuid= network-uuid= device= mac=, vif-plug/unplug, vif-move, vif-destroy', async () => {
      const vm = (await ok('vm-create', 'name-label=guest')).trim();
      const [n1, n2] = [(await ok('network-create', 'name-label=G1')).trim(), (await ok('network-create', 'name-label=G2')).trim()];
      const vif = (await ok('vif-create', `vm-uuid=${vm}`, `network-uuid=${n1}`, 'device=0', 'mac=02:11:22:33:44:55')).trim();
      expect(await ok('vif-list', `uuid=${vif}`)).to.equal(
        `uuid ( RO)            : ${vif}\n         vm-uuid ( RO): ${vm}\n          device ( RO): 0\n    network-uuid ( RO): ${n1}\n\n\n`,
      );
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=vm-name-label')).to.equal('guest\n');
      await ok('vif-move', `uuid=${vif}`, `network-uuid=${n2}`);
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=network-name-label')).to.equal('G2\n');
      const plug = await xe('vif-plug', `uuid=${vif}`); // the VM is halted: xapi's error, exit 1
      expect(plug.code).to.equal(1);
      expect(plug.err).to.match(/power_state|VM_BAD_POWER_STATE|halted/i);
      await ok('vif-destroy', `uuid=${vif}`);
      expect(await ok('vif-list', `vm-uuid=${vm}`, '--minimal')).to.equal('\n');
    });

    it('CLI-18 host-list, pool-list and pif-metrics-list show their records; pool-param-set name-label', async () => {
      expect(await ok('host-list', 'params=name-label', '--minimal')).to.equal('testhost\n');
      const pool = (await ok('pool-list', '--minimal')).trim();
      await ok('pool-param-set', `uuid=${pool}`, 'name-label=Pool A');
      expect(await ok('pool-list', 'params=name-label,master')).to.match(/^name-label \( RW\) {4}: Pool A\n {8}master \( RO\): [0-9a-f-]{36}\n\n\n$/);
      const m = (await ok('pif-param-get', `uuid=${await uuidOf('PIF', h.pif('eth0'))}`, 'param-name=carrier')).trim();
      expect(['true', 'false']).to.include(m);
      expect(await ok('pif-metrics-list', '--minimal')).to.match(/^[0-9a-f-]{36}(,[0-9a-f-]{36})*\n$/);
    });
  });

  describe('errors and exit codes', () => {
    it('CLI-19 a XenAPI failure prints its description and named parameters, refs as uuid (name), exit 1', async () => {
      const net = (await ok('network-create', 'name-label=X')).trim();
      const eth2 = await uuidOf('PIF', h.pif('eth2'));
      const r = await xe('bond-create', `network-uuid=${net}`, `pif-uuids=${eth2}`, 'mac=zz');
      expect(r.code).to.equal(1);
      expect(r.err).to.equal('The MAC address specified is not valid\nMAC: zz\n');
      const u = await xe('pif-param-get', 'uuid=00000000-0000-0000-0000-000000000000', 'param-name=device');
      expect(u.code).to.equal(1);
      expect(u.err).to.match(/\ntype: PIF\nuuid: 00000000-0000-0000-0000-000000000000\n$/);
    });

    it("CLI-20 unknown command, missing parameter, bad credentials, no server: xe's messages, exit 1", async () => {
      expect(await xe('pif-frobnicate')).to.deep.equal({ out: '', err: "Unknown command: pif-frobnicate\nFor usage run: 'xe help'\n", code: 1 });
      expect(await xe('bond-create', 'network-uuid=x')).to.deep.equal({
        out: '',
        err: "Required parameter not found: pif-uuids\nFor usage run: 'xe help'\n",
        code: 1,
      });
      expect(await xe('-pw', 'wrong', 'pif-list')).to.deep.equal({ out: '', err: "Authentication failed\nFor usage run: 'xe help'\n", code: 1 });
      const r = await xe('-s', '127.0.0.1', '-p', '1', 'pif-list');
      expect([r.code, r.err]).to.deep.equal([1, 'Unable to contact server. Please check server and port settings.\n']);
    });

    it('CLI-21 -u/-pw, -pwf and username=/password= forms log in; --nossl and -s/-p address the server', async () => {
      const port = new URL(h.url).port;
      expect(await ok('-s', '127.0.0.1', '-p', port, '-u', 'root', '-pw', 'secret', 'host-list', '--minimal')).to.match(
        UUID.source.length ? /^[0-9a-f-]{36}\n$/ : /./,
      );
      const pwf = join(dir, 'pw');
      writeFileSync(pwf, 'root\nsecret\n', { mode: 0o600 });
      expect(await ok('-s', 'localhost', '-p', port, '--nossl', '-pwf', pwf, 'host-list', '--minimal')).to.match(/^[0-9a-f-]{36}\n$/);
      expect(await ok(`server=127.0.0.1`, `port=${port}`, 'username=root', 'password=secret', 'host-list', '--minimal')).to.match(/^[0-9a-f-]{36}\n$/);
    });
  });

  describe('help', () => {
    it('CLI-22 help <command> prints its parameters as xe does; help --all --minimal lists every command', async () => {
      expect(await ok('help', 'vlan-create')).to.equal(
        'command name            : vlan-create\n        reqd params     : pif-uuid, vlan, network-uuid\n        optional params : \n        description     : Creates a VLAN on a host; prints the uuid of the new VLAN PIF.\n\n\n',
      );
      const all = (await ok('help', '--all', '--minimal')).trim().split(',');
      for (const c of [
        'bond-create',
        'bond-set-mode',
        'vlan-create',
        'tunnel-create',
        'vif-move',
        'pif-reconfigure-ipv6',
        'pif-set-primary-address-type',
        'host-management-disable',
        'pool-join',
        'pool-eject',
        'pool-designate-new-master',
        'event-wait',
        'pif-param-list',
        'network-param-add',
        'pif-metrics-list',
      ])
        expect(all).to.include(c);
      expect(await ok('help')).to.contain('Common command list');
      const usage = await xe();
      expect([usage.code, usage.err]).to.deep.equal([0, usage.err]);
      expect(usage.err).to.match(/^Usage:/);
    });
  });

  describe('event-wait and --progress', () => {
    it('CLI-23 event-wait class=pif waits until a condition holds (= and /=)', async () => {
      const eth5 = await uuidOf('PIF', h.pif('eth5'));
      await ok('event-wait', 'class=pif', `uuid=${eth5}`, 'currently-attached=false');
      const waiting = xe('event-wait', 'class=pif', `uuid=${eth5}`, 'currently-attached=/=false');
      let done = false;
      void waiting.then(() => (done = true));
      await new Promise((r) => setTimeout(r, 500));
      expect(done).to.equal(false);
      await ok('pif-plug', `uuid=${eth5}`);
      expect((await waiting).code).to.equal(0);
      await ok('pif-unplug', `uuid=${eth5}`);
    });

    it('CLI-24 --progress runs the call as an Async task and draws its progress on stderr', async () => {
      const r = await xe('network-create', 'name-label=P', '--progress');
      expect(r.code, r.err).to.equal(0);
      expect(r.out.trim()).to.match(UUID);
      // xe's bar (cli_operations.ml progress_bar): `\r %3d%% <spinner> <70 * progress hashes>` lines, then a blank line.
      expect(r.err.endsWith(`\r 100% | ${'#'.repeat(70)}\n\n\n`), JSON.stringify(r.err)).to.equal(true);
      expect(r.err.startsWith('\r   0% | \n')).to.equal(true);
    });
  });

  describe('session', () => {
    it('CLI-25 the session is kept between commands (one login), and replaced when it has gone', async () => {
      const sessions = () => h.find('session', () => true).length;
      const before = sessions();
      await ok('pif-list', '--minimal');
      await ok('pif-list', '--minimal');
      expect(sessions()).to.equal(before);
      const files = readdirSync(join(dir, 'xe-netd'));
      expect(files).to.have.length.greaterThan(0);
      const ours = h.find('session', (s) => s.originator === 'cli');
      for (const s of ours) await h.r.store.write((tx) => tx.destroy('session', s));
      expect(await ok('host-list', 'params=name-label', '--minimal')).to.equal('testhost\n');
    });
  });

  describe('bash completion', () => {
    const complete = async (line: string) => {
      const script = `source "${COMPLETION}"\nxe-netd() { "${process.execPath}" "${XE}" "$@"; }\nCOMP_LINE='${line}'; COMP_POINT=\${#COMP_LINE}; _xe_netd; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return (await run('bash', ['-c', script], { env })).stdout.split('\n').filter(Boolean);
    };
    it('CLI-26 completes commands, parameters and uuids of the right class', async () => {
      expect(await complete('xe-netd bond-cr')).to.deep.equal(['bond-create']);
      expect(await complete('xe-netd bond-create ')).to.deep.equal(['network-uuid=', 'pif-uuids=', 'mac=', 'mode=']);
      expect(await complete('xe-netd bond-create mode=a')).to.deep.equal(['active-backup']);
      const eth0 = await uuidOf('PIF', h.pif('eth0'));
      expect(await complete(`xe-netd pif-param-list uuid=${eth0.slice(0, 6)}`)).to.deep.equal([eth0]);
      expect(await complete('xe-netd pif-list params=dev')).to.deep.equal(['device', 'device-id', 'device-name']);
    });
  });

  describe('docs', () => {
    it('CLI-27 docs/cli.md lists every command xe-netd has', () => {
      const doc = readFileSync(fileURLToPath(new URL('../../../docs/cli.md', import.meta.url)), 'utf8');
      const { commands } = createRequire(import.meta.url)('../../src/cli/commands.cjs');
      const missing = [...commands().keys()].filter((c: string) => !doc.includes(`| \`${c}\` |`));
      expect(missing).to.deep.equal([]);
    });
  });

  describe('TLS', () => {
    it('CLI-28 with -s a remote server is reached over HTTPS on -p, as xe (no --nossl); 127.0.0.1 stays plain HTTP', async () => {
      selfSignedCert(dir, 'localhost', 'DNS:localhost,IP:127.0.0.1');
      const t = await startNode({ h: 0, db: ':memory:', config: { tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') } });
      try {
        expect(t.url).to.match(/^https:/);
        const port = new URL(t.url).port;
        expect(await ok('-s', 'localhost', '-p', port, 'host-list', 'params=name-label', '--minimal')).to.equal('host0\n');
        const plain = await xe('-s', '127.0.0.1', '-p', port, 'host-list'); // xe never uses SSL on-host
        expect(plain.code).to.equal(1);
      } finally {
        await t.stop();
      }
    });

    it('CLI-29 refs in a failure are shown as uuids (PIF_DOES_NOT_ALLOW_UNPLUG)', async () => {
      const eth5 = await uuidOf('PIF', h.pif('eth5'));
      await ok('pif-plug', `uuid=${eth5}`);
      await ok('pif-param-set', `uuid=${eth5}`, 'disallow-unplug=true');
      const r = await xe('pif-unplug', `uuid=${eth5}`);
      expect(r.code).to.equal(1);
      expect(r.err).to.match(new RegExp(`\\nPIF: ${eth5}\\n$`));
      expect(r.err).to.not.contain('OpaqueRef');
      await ok('pif-param-set', `uuid=${eth5}`, 'disallow-unplug=false');
      await ok('pif-unplug', `uuid=${eth5}`);
    });
  });

  describe('other datamodel messages', () => {
    it('CLI-30 <class>-<message> reaches any other message: pool-create-VLAN device= network-uuid= VLAN= prints the new PIFs as uuids', async () => {
      const net = (await ok('network-create', 'name-label=V30')).trim();
      const out = (await ok('pool-create-VLAN', 'device=eth2', `network-uuid=${net}`, 'VLAN=30')).trim();
      expect(out).to.match(UUID);
      expect(await ok('pif-param-get', `uuid=${out}`, 'param-name=VLAN')).to.equal('30\n');
      expect(await ok('pif-param-get', `uuid=${out}`, 'param-name=network-name-label')).to.equal('V30\n');
      const bad = await xe('pool-create-VLAN', 'device=eth2', `network-uuid=${net}`, 'VLAN=x');
      expect([bad.code, bad.err]).to.deep.equal([1, 'Error: Parameter VLAN must be an integer\n']);
      await ok('vlan-destroy', `uuid=${out}`);
      expect(await ok('help', 'pool-create-VLAN')).to.match(/reqd params {5}: network-uuid, VLAN\n {8}optional params : device\n/);
    });
  });

  describe('xe commands reaching the other networking messages', () => {
    it('CLI-31 vif-configure-ipv4/-ipv6 uuid= mode= address= gateway= (Static needs address=, as xe checks), pif-db-forget uuid=', async () => {
      const vm = (await ok('vm-create', 'name-label=cfg')).trim();
      const net = (await ok('network-create', 'name-label=C31')).trim();
      const vif = (await ok('vif-create', `vm-uuid=${vm}`, `network-uuid=${net}`, 'device=0')).trim();
      expect(await ok('help', 'vif-configure-ipv4')).to.match(/reqd params {5}: uuid, mode\n {8}optional params : address, gateway\n/);
      // No guest agent that sets addresses: xapi's VM_LACKS_FEATURE, the VM as uuid (name).
      const lacks = await xe('vif-configure-ipv4', `uuid=${vif}`, 'mode=static', 'address=192.0.2.9/24');
      expect([lacks.code, lacks.err]).to.deep.equal([1, `You attempted an operation on a VM which lacks the feature.\nvm: ${vm} (cfg)\n`]);
      const vmRef = await h.call<string>('VM.get_by_uuid', vm);
      const gm = await h.r.store.write((tx) => tx.create('VM_guest_metrics', { other: { 'feature-static-ip-setting': '1' } }));
      await setFields(h, 'VM', vmRef, { guest_metrics: gm });
      await ok('vif-configure-ipv4', `uuid=${vif}`, 'mode=static', 'address=192.0.2.9/24', 'gateway=192.0.2.1');
      expect(await ok('vif-list', `uuid=${vif}`, 'params=ipv4-configuration-mode,ipv4-addresses,ipv4-gateway')).to.equal(
        'ipv4-configuration-mode ( RO)    : Static\n             ipv4-addresses ( RO): 192.0.2.9/24\n               ipv4-gateway ( RO): 192.0.2.1\n\n\n',
      );
      const noAddr = await xe('vif-configure-ipv4', `uuid=${vif}`, 'mode=Static');
      expect(noAddr.code).to.equal(1);
      expect(noAddr.err).to.match(/\nmessage: Failure: Required parameter not found: address\n$/);
      await ok('vif-configure-ipv6', `uuid=${vif}`, 'mode=autoconf');
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=ipv6-configuration-mode')).to.equal('Autoconf\n');
      const bad = await xe('vif-configure-ipv6', `uuid=${vif}`, 'mode=dhcp');
      expect(bad.code).to.equal(1);
      // pif-db-forget (hidden in xe's help) drops the record only; pif-scan finds the NIC again.
      const eth5 = await uuidOf('PIF', h.pif('eth5'));
      await ok('pif-db-forget', `uuid=${eth5}`);
      expect(await ok('pif-list', 'device=eth5', '--minimal')).to.equal('\n');
      expect((await ok('help', '--all', '--minimal')).trim().split(',')).to.not.include('pif-db-forget');
      await ok('pif-scan', `host-uuid=${await uuidOf('host', h.r.d.hostRef)}`);
      expect(await ok('pif-list', 'device=eth5', 'params=device', '--minimal')).to.equal('eth5\n');
    });
  });

  describe("records.ml's fields", () => {
    // Each class's fields as xapi's records.ml (xen-api ocaml/xapi-cli-server, read 2026-12) lists
    // them, in its order, with the tag print_field gives (set/map, with or without a setter or
    // add/remove), hidden fields left out; `$` is a deprecated field. Left out here as in
    // docs/cli.md: pool supported-sr-types and license-state, host memory-free-computed.
    const RECORDS_ML: Record<string, string> = {
      pif: `uuid:RO device:RO MAC:RO physical:RO managed:RO currently-attached:RO MTU:RO VLAN:RO vlan-master-of:RO vlan-slave-of:RO
    bond-master-of:RO bond-slave-of:RO sriov-physical-PIF-of:RO sriov-logical-PIF-of:RO tunnel-access-PIF-of:RO
    tunnel-transport-PIF-of:RO management:RO network-uuid:RO network-name-label:RO host-uuid:RO host-name-label:RO
    IP-configuration-mode:RO IP:RO netmask:RO gateway:RO IPv6-configuration-mode:RO IPv6:RO IPv6-gateway:RO primary-address-type:RO
    DNS:RO properties:MRO capabilities:SRO io_read_kbs:RO io_write_kbs:RO carrier:RO vendor-id:RO vendor-name:RO device-id:RO
    device-name:RO speed:RO duplex:RO disallow-unplug:RW pci-bus-path:RO other-config:MRW igmp-snooping-status:RO`,
      bond: `uuid:RO master:RO slaves:RO mode:RO properties:MRO primary-slave:RO links-up:RO auto-update-mac:RO`,
      vlan: `uuid:RO tagged-PIF:RO untagged-PIF:RO tag:RO`,
      tunnel: `uuid:RO access-PIF:RO transport-PIF:RO status:RO other-config:MRW protocol:RO`,
      network: `uuid:RO name-label:RW name-description:RW VIF-uuids:SRO PIF-uuids:SRO MTU:RW bridge:RO managed:RO other-config:MRW blobs:RO
    tags:SRW default-locking-mode:RW purpose:SRW`,
      vif: `uuid:RO vm-uuid:RO vm-name-label:RO allowed-operations:SRO current-operations:SRO device:RO MAC:RO MAC-autogenerated:RO MTU:RO
    currently-attached:RO qos_algorithm_type:RW qos_algorithm_params:MRW qos_supported_algorithms:SRO other-config:MRW network-uuid:RO
    network-name-label:RO io_read_kbs:RO io_write_kbs:RO locking-mode:RW ipv4-allowed:SRW ipv6-allowed:SRW ipv4-configuration-mode:RO
    ipv4-addresses:RO ipv4-gateway:RO ipv6-configuration-mode:RO ipv6-addresses:RO ipv6-gateway:RO trunks:SRW`,
      host: `uuid:RO name-label:RW name-description:RW allowed-operations:SRO current-operations:SRO enabled:RO display:RO API-version-major:RO
    API-version-minor:RO API-version-vendor:RO API-version-vendor-implementation:MRO logging:MRW suspend-image-sr-uuid:RW
    crash-dump-sr-uuid:RW software-version:MRO capabilities:SRO other-config:MRW cpu_info:MRO chipset-info:MRO hostname:RO address:RO
    https-only:RW supported-bootloaders:SRO blobs:RO memory-overhead:RO memory-total:RO memory-free:RO host-metrics-live:RO
    patches:SRO$ updates:SRO ha-statefiles:RO ha-network-peers:RO external-auth-type:RO external-auth-service-name:RO
    external-auth-configuration:MRO edition:RO license-server:MRO power-on-mode:RO power-on-config:MRO local-cache-sr:RO tags:SRW
    ssl-legacy:RW guest_VCPUs_params:MRW virtual-hardware-platform-versions:SRO control-domain-uuid:RO resident-vms:SRO
    updates-requiring-reboot:SRO features:SRO iscsi_iqn:RW multipathing:RW numa-affinity-policy:RW pending-guidances:RO
    tls-verification-enabled:RO last-software-update:RO latest-synced-updates-applied:RO pending-guidances-recommended:RO
    pending-guidances-full:RO last-update-hash:RO ssh-enabled:RO ssh-enabled-timeout:RW ssh-expiry:RO console-idle-timeout:RW
    ssh-auto-mode:RW max-cstate:RW secure-boot:RO ntp-mode:RW ntp-custom-servers:SRO timezone:RW`,
      pool: `uuid:RO name-label:RW name-description:RW master:RO default-SR:RW crash-dump-SR:RW suspend-image-SR:RW other-config:MRW
    allowed-operations:SRO current-operations:SRO ha-enabled:RO ha-configuration:RO ha-statefiles:RO ha-host-failures-to-tolerate:RW
    ha-plan-exists-for:RO ha-allow-overcommit:RW ha-overcommitted:RO ha-reboot-vm-on-internal-shutdown:RW blobs:RO wlb-url:RO
    wlb-username:RO wlb-enabled:RW wlb-verify-cert:RW igmp-snooping-enabled:RW gui-config:MRW health-check-config:MRW restrictions:RO
    tags:SRW ha-cluster-stack:RO guest-agent-config:MRW cpu_info:MRO policy-no-vendor-device:RW live-patching-disabled:RW
    tls-verification-enabled:RO client-certificate-auth-enabled:RO client-certificate-auth-name:RO repositories:SRW
    repository-proxy-url:RO repository-proxy-username:RO https-only:RW migration-compression:RW coordinator-bias:RW
    telemetry-frequency:RO telemetry-next-collection:RO last-update-sync:RO update-sync-frequency:RO update-sync-day:RO
    update-sync-enabled:RO auto-update-vm-secureboot-certificates:RW recommendations:MRO ext-auth-cache-enabled:RW
    ext-auth-cache-size:RW ext-auth-cache-expiry:RW license-server:MRW ssh-enabled:RO ssh-enabled-timeout:RW ssh-expiry:RO
    console-idle-timeout:RW ssh-auto-mode:RW limit-console-sessions:RW vm-console-idle-timeout:RW`,
    };
    const labels = (out: string) =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const m = /^\s*(\S+) \(( RO| RW|MRO|MRW|SRO|SRW)\)( \[DEPRECATED\])?\s*: /.exec(l);
          if (!m) throw new Error(`not a record line: ${l}`);
          return `${m[1]}:${m[2].trim()}${m[3] ? '$' : ''}`;
        });

    it('CLI-32 -param-list of pif, bond, vlan, tunnel, network, vif, host and pool prints records.ml fields, order and tags', async () => {
      const sv = await h.call<Record<string, string>>('host.get_software_version', h.r.d.hostRef);
      await setFields(h, 'host', h.r.d.hostRef, { software_version: { ...sv, network_backend: 'openvswitch' } });
      const [n1, n2, n3] = [
        (await ok('network-create', 'name-label=R1')).trim(),
        (await ok('network-create', 'name-label=R2')).trim(),
        (await ok('network-create', 'name-label=R3')).trim(),
      ];
      const [e2, e3] = [await uuidOf('PIF', h.pif('eth2')), await uuidOf('PIF', h.pif('eth3'))];
      const bond = (await ok('bond-create', `network-uuid=${n1}`, `pif-uuids=${e2},${e3}`)).trim();
      const master = (await ok('bond-param-get', `uuid=${bond}`, 'param-name=master')).trim();
      const vlanPif = (await ok('vlan-create', `pif-uuid=${master}`, 'vlan=32', `network-uuid=${n2}`)).trim();
      const access = (await ok('tunnel-create', `pif-uuid=${await uuidOf('PIF', h.pif('eth0'))}`, `network-uuid=${n3}`)).trim();
      const vm = (await ok('vm-create', 'name-label=R')).trim();
      const uuids: Record<string, string> = {
        pif: await uuidOf('PIF', h.pif('eth0')),
        bond,
        vlan: (await ok('pif-param-get', `uuid=${vlanPif}`, 'param-name=vlan-master-of')).trim(),
        tunnel: (await ok('pif-param-get', `uuid=${access}`, 'param-name=tunnel-access-PIF-of')).trim(),
        network: n1,
        vif: (await ok('vif-create', `vm-uuid=${vm}`, `network-uuid=${n1}`, 'device=0')).trim(),
        host: (await ok('host-list', '--minimal')).trim(),
        pool: (await ok('pool-list', '--minimal')).trim(),
      };
      for (const [cls, want] of Object.entries(RECORDS_ML)) {
        const out = await ok(`${cls}-param-list`, `uuid=${uuids[cls]}`);
        expect(labels(out), cls).to.deep.equal(want.split(/\s+/));
        expect(out, cls).to.not.contain('OpaqueRef');
        // -list params=all prints the same fields; -list alone xe's default ones (cli_operations.ml gen_cmds).
        expect(labels(await ok(`${cls}-list`, `uuid=${uuids[cls]}`, 'params=all')), cls).to.deep.equal(want.split(/\s+/));
      }
      await ok('tunnel-destroy', `uuid=${uuids.tunnel}`);
      await ok('vlan-destroy', `uuid=${uuids.vlan}`);
      await ok('bond-destroy', `uuid=${bond}`);
    });
  });

  describe('param commands on every class', () => {
    it('CLI-33 -param-set/-add/-remove/-clear on bond, tunnel, vif (locking-mode, ipv4-allowed too), host, pool and pif-metrics (maps, sets, enums, booleans); host-management-disable', async () => {
      const sv = await h.call<Record<string, string>>('host.get_software_version', h.r.d.hostRef);
      await setFields(h, 'host', h.r.d.hostRef, { software_version: { ...sv, network_backend: 'openvswitch' } });
      const [n1, n2] = [(await ok('network-create', 'name-label=P1')).trim(), (await ok('network-create', 'name-label=P2')).trim()];
      const [e2, e3] = [await uuidOf('PIF', h.pif('eth2')), await uuidOf('PIF', h.pif('eth3'))];
      // bond properties: set key by key (Bond.set_property), MRO, so no -param-add.
      const bond = (await ok('bond-create', `network-uuid=${n1}`, `pif-uuids=${e2},${e3}`, 'mode=lacp')).trim();
      await ok('bond-param-set', `uuid=${bond}`, 'properties:hashing_algorithm=src_mac');
      expect(await ok('bond-param-get', `uuid=${bond}`, 'param-name=properties', 'param-key=hashing_algorithm')).to.equal('src_mac\n');
      expect((await xe('bond-param-add', `uuid=${bond}`, 'param-name=properties', 'x=1')).err).to.equal(
        "Unknown command: bond-param-add\nFor usage run: 'xe help'\n",
      );
      // tunnel other-config (MRW): add, remove, clear.
      const access = (await ok('tunnel-create', `pif-uuid=${await uuidOf('PIF', h.pif('eth0'))}`, `network-uuid=${n2}`)).trim();
      const tunnel = (await ok('pif-param-get', `uuid=${access}`, 'param-name=tunnel-access-PIF-of')).trim();
      await ok('tunnel-param-add', `uuid=${tunnel}`, 'param-name=other-config', 'a=1', 'b=2');
      await ok('tunnel-param-remove', `uuid=${tunnel}`, 'param-name=other-config', 'param-key=a');
      expect(await ok('tunnel-param-get', `uuid=${tunnel}`, 'param-name=other-config')).to.equal('b: 2\n');
      await ok('tunnel-param-clear', `uuid=${tunnel}`, 'param-name=other-config');
      expect(await ok('tunnel-param-get', `uuid=${tunnel}`, 'param-name=other-config')).to.equal('\n');
      // vif: a scalar (qos_algorithm_type), a set (trunks), a map (qos_algorithm_params); an enum
      // on network (default-locking-mode) refuses what is not one of its values.
      const vm = (await ok('vm-create', 'name-label=P')).trim();
      const vif = (await ok('vif-create', `vm-uuid=${vm}`, `network-uuid=${n1}`, 'device=0')).trim();
      await ok('vif-param-set', `uuid=${vif}`, 'qos_algorithm_type=ratelimit');
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=qos_algorithm_type')).to.equal('ratelimit\n');
      expect((await xe('network-param-set', `uuid=${n1}`, 'default-locking-mode=sometimes')).code).to.equal(1);
      await ok('vif-param-add', `uuid=${vif}`, 'param-name=trunks', 'param-key=10');
      await ok('vif-param-add', `uuid=${vif}`, 'param-name=trunks', 'param-key=20');
      await ok('vif-param-remove', `uuid=${vif}`, 'param-name=trunks', 'param-key=10');
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=trunks')).to.equal('20\n');
      await ok('vif-param-set', `uuid=${vif}`, 'qos_algorithm_params:kbps=100');
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=qos_algorithm_params', 'param-key=kbps')).to.equal('100\n');
      // locking-mode (VIF.set_locking_mode), ipv4-allowed (VIF.add_/remove_/set_ipv4_allowed).
      await ok('vif-param-set', `uuid=${vif}`, 'locking-mode=locked');
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=locking-mode')).to.equal('locked\n');
      expect((await xe('vif-param-set', `uuid=${vif}`, 'locking-mode=sometimes')).code).to.equal(1);
      await ok('vif-param-add', `uuid=${vif}`, 'param-name=ipv4-allowed', 'param-key=192.0.2.7');
      await ok('vif-param-add', `uuid=${vif}`, 'param-name=ipv4-allowed', 'param-key=192.0.2.8');
      await ok('vif-param-remove', `uuid=${vif}`, 'param-name=ipv4-allowed', 'param-key=192.0.2.7');
      expect(await ok('vif-param-get', `uuid=${vif}`, 'param-name=ipv4-allowed')).to.equal('192.0.2.8\n');
      const badIp = await xe('vif-param-add', `uuid=${vif}`, 'param-name=ipv4-allowed', 'param-key=192.0.2.999');
      expect([badIp.code, badIp.err]).to.deep.equal([1, 'A required parameter contained an invalid IP address\nparameter: ipv4_allowed\n']);
      await ok('vif-param-clear', `uuid=${vif}`, 'param-name=ipv4-allowed');
      expect(await h.call('VIF.get_ipv4_allowed', await h.call('VIF.get_by_uuid', vif))).to.deep.equal([]);
      await ok('vif-param-set', `uuid=${vif}`, 'locking-mode=network_default');
      await ok('vif-param-clear', `uuid=${vif}`, 'param-name=trunks');
      expect(await h.call('VIF.get_trunks', await h.call('VIF.get_by_uuid', vif))).to.deep.equal([]);
      // host and pool: a map key, a set member, a boolean; pif-metrics other-config.
      const host = (await ok('host-list', '--minimal')).trim();
      await ok('host-param-set', `uuid=${host}`, 'other-config:rack=r1', 'name-description=top');
      await ok('host-param-add', `uuid=${host}`, 'param-name=tags', 'param-key=edge');
      expect(await ok('host-list', `uuid=${host}`, 'params=name-description,other-config,tags')).to.match(
        /^name-description \( RW\) {4}: top\n {8}other-config \(MRW\): (.*; )?rack: r1(; .*)?\n {16}tags \(SRW\): edge\n\n\n$/,
      );
      const pool = (await ok('pool-list', '--minimal')).trim();
      await ok('pool-param-set', `uuid=${pool}`, 'policy-no-vendor-device=true', 'other-config:site=a');
      expect(await ok('pool-param-get', `uuid=${pool}`, 'param-name=policy-no-vendor-device')).to.equal('true\n');
      expect((await xe('pool-param-set', `uuid=${pool}`, 'policy-no-vendor-device=yes')).code).to.equal(1);
      await ok('pool-param-remove', `uuid=${pool}`, 'param-name=other-config', 'param-key=site');
      expect(await ok('pool-param-get', `uuid=${pool}`, 'param-name=other-config')).to.not.contain('site');
      const metrics = (await ok('pif-metrics-list', '--minimal')).split(',')[0].trim();
      await ok('pif-metrics-param-set', `uuid=${metrics}`, 'other-config:k=v');
      expect(await ok('pif-metrics-param-get', `uuid=${metrics}`, 'param-name=other-config', 'param-key=k')).to.equal('v\n');
      // host-management-disable: no PIF is the management interface any more; reconfigure brings it back.
      await ok('host-management-disable');
      expect(await ok('pif-list', 'management=true', '--minimal')).to.equal('\n');
      await ok('host-management-reconfigure', `pif-uuid=${await uuidOf('PIF', h.pif('eth0'))}`);
      expect(await ok('pif-list', 'management=true', 'params=device', '--minimal')).to.equal('eth0\n');
      await ok('tunnel-destroy', `uuid=${tunnel}`);
      await ok('bond-destroy', `uuid=${bond}`);
    });
  });
});
