// Debian's Ansible (community.general's xenserver modules, unmodified) against a harness daemon:
// xenserver_guest_info and xenserver_guest over TCP (adding a NIC with a static IPv4 address to
// a VM, the "native" path through VIF.configure_ipv4 that host.software_version selects), and
// xenserver_facts over the local socket (xapi_local(), login as root without a password) as far
// as networking goes: storage (SR) is out of scope. `import XenAPI` is Debian's os-xenapi
// through test/clients/ansible/XenAPI.py. Never skipped: without Ansible (make test-deps
// installs the Debian package `ansible`) the tests fail, naming the missing package.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeNetwork, makeVIF, makeVM, setGuestMetrics, setFields } from '../helpers/vmfix.js';

const run = promisify(execFile);
const PLAYBOOK_BIN = '/usr/bin/ansible-playbook';
const COLLECTION = '/usr/lib/python3/dist-packages/ansible_collections/community/general/plugins/modules/xenserver_guest.py';
const SHIM = fileURLToPath(new URL('../../../test/clients/ansible', import.meta.url));

interface TaskResult {
  changed?: boolean;
  failed?: boolean;
  msg?: string;
  instance?: Record<string, any>;
  ansible_facts?: Record<string, any>;
}

describe('clients/ansible (Debian ansible, community.general xenserver modules)', function () {
  this.timeout(120_000);
  let h: Harness;
  let dir: string;
  let sock: string;
  let vm: string;
  let netA: string;

  before(async function () {
    if (!existsSync(PLAYBOOK_BIN) || !existsSync(COLLECTION)) {
      // make test-deps installs the Debian package ansible: its absence is a broken set-up, not a reason to skip.
      throw new Error('Ansible with community.general is not installed: run make test-deps (Debian package ansible)');
    }
    dir = mkdtempSync(join(tmpdir(), 'xndansible'));
    sock = join(dir, 'xapi');
    h = await startHarness({ config: { unixSocket: sock } });
    netA = await makeNetwork(h, { name_label: 'net-a' });
    vm = await makeVM(h, { name_label: 'ansible-vm' });
    await makeVIF(h, vm, netA, '0', { MAC: '02:00:00:aa:00:01' });
    // A guest agent that can set IP addresses (what xapi learns from the guest's xenstore).
    const gm = await setGuestMetrics(h, vm, { PV_drivers_detected: true });
    await setFields(h, 'VM_guest_metrics', gm, { other: { 'feature-static-ip-setting': '1' } });
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs one play of `tasks` on localhost; returns each task's result (the json callback). */
  async function play(tasks: object[]): Promise<TaskResult[]> {
    const file = join(dir, `play${Date.now()}.json`);
    // JSON is YAML: the playbook is written as JSON.
    writeFileSync(
      file,
      JSON.stringify([
        {
          hosts: 'localhost',
          connection: 'local',
          gather_facts: false,
          vars: { ansible_python_interpreter: '/usr/bin/python3' },
          environment: { PYTHONPATH: SHIM, XENAPI_LOCAL_SOCKET: sock },
          tasks,
        },
      ]),
    );
    const { stdout } = await run(PLAYBOOK_BIN, ['-i', 'localhost,', file], {
      timeout: 100_000,
      env: {
        ...process.env,
        ANSIBLE_STDOUT_CALLBACK: 'json',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCALHOST_WARNING: 'false',
        ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
        ANSIBLE_HOME: join(dir, '.ansible'),
      },
    }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      if (e.stdout?.trim().startsWith('{')) return { stdout: e.stdout };
      throw new Error(`ansible-playbook failed: ${e.message}\n${e.stderr ?? ''}`);
    });
    const out = JSON.parse(stdout) as { plays: { tasks: { hosts: { localhost: TaskResult } }[] }[] };
    return out.plays[0].tasks.map((t) => t.hosts.localhost);
  }

  const tcp = () => ({ hostname: `127.0.0.1:${h.r.port}`, username: 'root', password: 'secret' });

  it('xenserver_guest_info: the VM and its NIC (network name, MAC) as the module reports them', async () => {
    const [info] = await play([{ 'community.general.xenserver_guest_info': { ...tcp(), name: 'ansible-vm' } }]);
    expect(info.failed ?? false, info.msg).to.equal(false);
    expect(info.instance).to.deep.include({ name: 'ansible-vm', state: 'poweredoff', customization_agent: 'native' });
    expect(info.instance!.networks).to.deep.equal([
      {
        name: 'net-a',
        mac: '02:00:00:aa:00:01',
        vif_device: '0',
        mtu: '1500',
        ip: '',
        prefix: '',
        netmask: '',
        gateway: '',
        ip6: [],
        prefix6: '',
        gateway6: '',
      },
    ]);
  });

  it('xenserver_guest adds a NIC with a static IPv4 address (VIF.create + VIF.configure_ipv4); a second run changes nothing', async () => {
    const eth1Net = 'Pool-wide network associated with eth1';
    const networks = [
      { name: 'net-a' },
      { name: eth1Net, mac: '02:00:00:aa:00:02', type: 'static', ip: '192.0.2.50', netmask: '255.255.255.0', gateway: '192.0.2.1' },
    ];
    const [first, second, info] = await play([
      { 'community.general.xenserver_guest': { ...tcp(), name: 'ansible-vm', state: 'present', networks } },
      { 'community.general.xenserver_guest': { ...tcp(), name: 'ansible-vm', state: 'present', networks } },
      { 'community.general.xenserver_guest_info': { ...tcp(), name: 'ansible-vm' } },
    ]);
    expect(first.failed ?? false, first.msg).to.equal(false);
    expect(first.changed).to.equal(true);
    expect(second.failed ?? false, second.msg).to.equal(false);
    expect(second.changed).to.equal(false);
    // What the daemon holds now.
    const vifs = await h.call<string[]>('VM.get_VIFs', vm);
    expect(vifs).to.have.length(2);
    const recs = await Promise.all(vifs.map((v) => h.call('VIF.get_record', v)));
    const added = recs.find((r) => r.device === '1')!;
    expect(await h.call('network.get_name_label', added.network)).to.equal(eth1Net);
    expect(added).to.deep.include({
      MAC: '02:00:00:aa:00:02',
      MTU: '1500',
      ipv4_configuration_mode: 'Static',
      ipv4_addresses: ['192.0.2.50/24'],
      ipv4_gateway: '192.0.2.1',
    });
    // And what the module reads back: prefix and gateway from the VIF; the address itself from
    // the guest's report (VM_guest_metrics.networks), which only a running guest agent makes.
    expect(info.instance!.networks[1]).to.deep.include({
      name: eth1Net,
      mac: '02:00:00:aa:00:02',
      vif_device: '1',
      ip: '',
      prefix: '24',
      netmask: '255.255.255.0',
      gateway: '192.0.2.1',
    });
  });

  it('xenserver_facts over the local socket: logs in as root without a password; stops at SR.get_all_records (storage is out of scope)', async () => {
    const [facts] = await play([{ 'community.general.xenserver_facts': {}, ignore_errors: true }]);
    expect(facts.failed).to.equal(true);
    expect(JSON.stringify(facts)).to.include('MESSAGE_METHOD_UNKNOWN').and.include('SR.get_all_records');
    // The module's networking part, run as the module runs it (its own functions, the same session).
    const py = [
      'import json, sys',
      `sys.path.insert(0, ${JSON.stringify(SHIM)})`,
      'from ansible_collections.community.general.plugins.modules import xenserver_facts as f',
      's = f.get_xenapi_session()',
      'nets, pifs, vlans = f.get_networks(s), f.get_pifs(s), f.get_vlans(s)',
      'print(json.dumps({"networks": sorted(nets), "pifs": {k: [p["network"] == nets["Pool-wide network associated with " + k]["ref"], p["management"]] for k, p in sorted(pifs.items())}, "vlans": vlans, "superuser": s.xenapi.session.get_is_local_superuser(s._session)}))',
    ].join('\n');
    const { stdout } = await run('/usr/bin/python3', ['-c', py], { env: { ...process.env, XENAPI_LOCAL_SOCKET: sock }, timeout: 30_000 });
    const got = JSON.parse(stdout);
    expect(got.networks).to.include.members(['net-a', ...[0, 1, 2, 3, 4, 5].map((i) => `Pool-wide network associated with eth${i}`)]);
    expect(got.pifs).to.deep.equal({
      eth0: [true, true],
      eth1: [true, false],
      eth2: [true, false],
      eth3: [true, false],
      eth4: [true, false],
      eth5: [true, false],
    });
    expect(got.vlans).to.deep.equal({});
    expect(got.superuser).to.equal(true);
  });
});
