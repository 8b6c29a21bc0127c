// Seed 004 ("Bonding the Management Interface", Scenario #2 Part #5, with the storage and guest
// bonds of Parts #3 and #4 before it) typed as the walkthrough types it — `xe` command lines
// with their awk pipelines, in bash — against a two-host pool: the master (xs-1) on 127.0.0.1
// and a member (xs-2) on 127.0.0.2, same port, so xe on xs-2 follows HOST_IS_SLAVE to the
// master. Each listing is compared with the seed's transcript (its whitespace collapsed, as the
// page shows it; uuids stand for themselves; order of records is the database's).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { InventoryNic } from '../../src/xapi/startup.js';
import { cleanupDirs, startNode, tempDir, type Node } from '../helpers/nodes.js';
import { until } from '../helpers/wait.js';
import { portFreeOnBoth } from '../helpers/ports.js';

const XE = fileURLToPath(new URL('../../src/cli/xe.cjs', import.meta.url));
const run = promisify(execFile);
const U = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The seed's hosts: six NICs, the management interface on eth0 (xs-1 172.16.0.10, xs-2 .12). */
function nics(h: number): InventoryNic[] {
  return [0, 1, 2, 3, 4, 5].map((i) => ({
    device: `eth${i}`,
    MAC: `00:1f:29:c4:0${h}:${(0x50 + i).toString(16)}`,
    MTU: 1500,
    carrier: true,
    ...(i === 0
      ? { management: true, ip: { mode: 'Static' as const, address: `172.16.0.${10 + 2 * h}`, netmask: '255.255.255.224', gateway: '172.16.0.1', dns: '' } }
      : {}),
  }));
}

/** Whitespace collapsed as the seed's page shows it; uuids replaced by their first use (U1, U2…). */
function shape(s: string, names = new Map<string, string>()): string {
  return s
    .replace(/\s+/g, ' ')
    .trim()
    .replace(U, (u) => {
      if (!names.has(u)) names.set(u, `U${names.size + 1}`);
      return names.get(u)!;
    });
}
/** The records of a listing as a sorted list of shapes (xe prints them in database order). */
function records(s: string): string[] {
  return s
    .split(/(?=^uuid \( RO\))/m)
    .map((r) => r.replace(/^--$/m, '').replace(/\s+/g, ' ').trim().replace(U, 'U'))
    .filter(Boolean)
    .sort();
}

describe('xe-netd replays seed 004 (Parts #3-#5) on a two-host pool', function () {
  this.timeout(120_000);
  let m: Node;
  let s: Node;
  let port: number;
  let dir: string;
  let runtime: string;
  const sdb = () => join(dir, 's.db');

  /** Runs a script on host `on` (1: xs-1, the master; 2: xs-2) with `xe` as xe-netd and $INSTALLATION_UUID set. */
  const on = async (host: 1 | 2, script: string, vars: Record<string, string> = {}): Promise<string> => {
    const addr = host === 1 ? '127.0.0.1' : '127.0.0.2';
    const env = { ...process.env, XE_NETD_URL: `http://${addr}:${port}/`, XDG_RUNTIME_DIR: runtime, ...vars };
    const prelude = `set -e -o pipefail\nxe() { "${process.execPath}" "${XE}" "$@"; }\nINSTALLATION_UUID=$(xe host-list name-label=host${host - 1} params=uuid --minimal)\n`;
    const r = await run('bash', ['-c', prelude + script], { env });
    return r.stdout;
  };
  /** `service xapi restart` on xs-2: the member's daemon stops and starts, syncing from the master. */
  const restartXs2 = async () => {
    const state = await s.backend.read();
    await s.stop();
    s = await startNode({ h: 1, db: sdb(), master: m.url, nics: nics(1), state, config: { host: '127.0.0.2', port } });
    await until('xs-2 start-up sync', () => (s.pool.agent?.syncs ?? 0) >= 1, 20_000);
  };

  before(async () => {
    dir = tempDir();
    runtime = mkdtempSync(join(tmpdir(), 'xnd-seed-'));
    port = await portFreeOnBoth();
    m = await startNode({ h: 0, db: join(dir, 'm.db'), nics: nics(0), config: { host: '127.0.0.1', port } });
    s = await startNode({ h: 1, db: sdb(), master: m.url, nics: nics(1), config: { host: '127.0.0.2', port } });
    await until('xs-2 start-up sync', () => (s.pool.agent?.syncs ?? 0) >= 1, 20_000);
  });
  after(async () => {
    await s?.stop();
    await m?.stop();
    cleanupDirs();
    rmSync(runtime, { recursive: true, force: true });
  });

  it('SEED004-03 Part #3: the storage bond (NAS, active-backup over eth2 and eth4) with a static IP on each host', async () => {
    const out = await on(
      1,
      `
NAS_NET_UUID=$(xe network-create name-label=NAS)
NAS_PIF2_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID device=eth2 params=uuid | awk '{ print $5 }')
NAS_PIF4_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID device=eth4 params=uuid | awk '{ print $5 }')
NAS_BOND_UUID=$(xe bond-create network-uuid=$NAS_NET_UUID pif-uuids=$NAS_PIF2_UUID,$NAS_PIF4_UUID mode=active-backup)
NAS_MSTR_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID network-uuid=$NAS_NET_UUID params=uuid | awk '{ print $5 }')
xe pif-reconfigure-ip uuid=$NAS_MSTR_UUID mode=static IP=172.16.0.35 netmask=255.255.255.240
echo -e "Storage Bond UUID's:\\n BOND INTERFACE UUID: $NAS_BOND_UUID\\n BOND MASTER UUID: $NAS_MSTR_UUID\\n"
xe bond-list uuid=$NAS_BOND_UUID params=master --minimal`,
    );
    const [bond, master] = [/BOND INTERFACE UUID: (\S+)/.exec(out)![1], /BOND MASTER UUID: (\S+)/.exec(out)![1]];
    expect(bond).to.match(U);
    expect(out.trim().split('\n').pop()).to.equal(master);
    await restartXs2();
    await on(
      2,
      `
NAS_MSTR_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID device=bond0 params=uuid | awk '{ print $5 }')
xe pif-reconfigure-ip uuid=$NAS_MSTR_UUID mode=static IP=172.16.0.36 netmask=255.255.255.240`,
    );
  });

  it('SEED004-04 Part #4: the guest bond (PUB, balance-slb over eth1 and eth5), no IP', async () => {
    await on(
      1,
      `
PUB_NET_UUID=$(xe network-create name-label=PUB)
PUB_PIF1_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID device=eth1 params=uuid | awk '{ print $5 }')
PUB_PIF5_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID device=eth5 params=uuid | awk '{ print $5 }')
PUB_BOND_UUID=$(xe bond-create network-uuid=$PUB_NET_UUID pif-uuids=$PUB_PIF1_UUID,$PUB_PIF5_UUID mode=balance-slb)`,
    );
    await restartXs2();
    expect(
      shape(await on(2, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=false IP-configuration-mode=None params=uuid,device,IP,network-name-label')),
    ).to.equal(shape('uuid ( RO) : f1a21f27-8191-f91a-51de-224ed52a2687 device ( RO): bond1 network-name-label ( RO): PUB IP ( RO):'));
  });

  it('SEED004-05a Part #5 on the pool-master: steps 1-3 as typed (network, PIF uuids by awk, the bond)', async () => {
    const out = await on(
      1,
      `
MGT_NET_UUID=$(xe network-create name-label=MGT)
echo -e "Management Network UUID: $MGT_NET_UUID\\n"
PMI_PIF_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID management=true params=uuid | awk '{ print $5 }')
MGT_PIF0_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID device=eth0 params=uuid | awk '{ print $5 }')
MGT_PIF3_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID device=eth3 params=uuid | awk '{ print $5 }')
echo -e "Management PIF UUID's:\\n PMI: $PMI_PIF_UUID\\n PIF0: $MGT_PIF0_UUID\\n PIF3: $MGT_PIF3_UUID\\n"
MGT_BOND_UUID=$(xe bond-create network-uuid=$MGT_NET_UUID pif-uuids=$PMI_PIF_UUID,$MGT_PIF3_UUID mode=active-backup)
MGT_MSTR_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID network-uuid=$MGT_NET_UUID params=uuid | awk '{ print $5 }')
echo -e "Management Bond UUID's:\\n BOND INTERFACE UUID: $MGT_BOND_UUID\\n BOND MASTER UUID: $MGT_MSTR_UUID\\n"`,
    );
    // The seed's transcript: the PMI is eth0, so PMI and PIF0 are the same uuid; every value is a uuid.
    expect(shape(out)).to.equal(
      shape(`Management Network UUID: 01ec20b5-1c91-d311-5d28-df7b6745b910
      Management PIF UUID's: PMI: 8445b796-01b0-e2cf-ba17-9e7af7856925 PIF0: 8445b796-01b0-e2cf-ba17-9e7af7856925 PIF3: a9ffe301-bec3-807f-c825-702517196ead
      Management Bond UUID's: BOND INTERFACE UUID: feb191c1-5faa-ca88-3a19-60604dc63ddd BOND MASTER UUID: 8f937d86-10a5-3bf5-132a-07f7a6bc9b46`),
    );
  });

  it("SEED004-05b Part #5 on the pool-master: step 4 listings have the seed's shape", async () => {
    const nets = await on(1, 'xe network-list params=uuid,name-label,bridge | grep -v Pool | grep -v management | grep -B1 -A2 name-label');
    expect(records(nets)).to.deep.equal(
      records(
        `uuid ( RO) : 929521ce-0cd6-db0a-0501-4a6829192378 name-label ( RW): NAS bridge ( RO): xapi0 -- uuid ( RO) : 01ec20b5-1c91-d311-5d28-df7b6745b910 name-label ( RW): MGT bridge ( RO): xapi2 -- uuid ( RO) : 01abebfb-9b44-4a99-305e-b0cc94f068df name-label ( RW): PUB bridge ( RO): xapi1`
          .replace(/ -- /g, '\n--\n')
          .replace(/ (?=uuid \( RO\))/g, '\n'),
      ),
    );
    expect(
      await on(1, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=true IP-configuration-mode=Static params=uuid,device,IP,network-name-label'),
    ).to.equal('');
    expect(
      shape(await on(1, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=false IP-configuration-mode=Static params=uuid,device,IP,network-name-label')),
    ).to.equal(
      shape(
        'uuid ( RO) : 501c099a-7215-fc4f-97c6-324b7661f827 device ( RO): bond0 network-name-label ( RO): NAS IP ( RO): 172.16.0.35 uuid ( RO) : 8f937d86-10a5-3bf5-132a-07f7a6bc9b46 device ( RO): bond2 network-name-label ( RO): MGT IP ( RO): 172.16.0.10',
      ),
    );
    expect(
      shape(await on(1, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=false IP-configuration-mode=None params=uuid,device,IP,network-name-label')),
    ).to.equal(shape('uuid ( RO) : 41e8de7d-b7a5-6f2d-9134-b86009a56ebf device ( RO): bond1 network-name-label ( RO): PUB IP ( RO):'));
    const bonds = await on(1, 'xe bond-list params=uuid,master,mode');
    expect(records(bonds)).to.deep.equal(
      records(`uuid ( RO) : c7b1a5ec-34eb-7fd6-bfe2-a8ede5129a4c master ( RO): 41e8de7d-b7a5-6f2d-9134-b86009a56ebf mode ( RO): balance-slb
uuid ( RO) : feb191c1-5faa-ca88-3a19-60604dc63ddd master ( RO): 8f937d86-10a5-3bf5-132a-07f7a6bc9b46 mode ( RO): active-backup
uuid ( RO) : b4da6a53-c233-3730-c98f-b90835eaf9ca master ( RO): effda92b-4a34-ad8b-582e-3c1de7cfd864 mode ( RO): active-backup
uuid ( RO) : 2c22c629-b1de-7921-dae3-6c36141f1bf3 master ( RO): 501c099a-7215-fc4f-97c6-324b7661f827 mode ( RO): active-backup
uuid ( RO) : bb703a1f-eb27-0ac2-75fa-a37383ee6804 master ( RO): f1a21f27-8191-f91a-51de-224ed52a2687 mode ( RO): balance-slb`),
    );
    // "the master UUID of the newly-created bond is identical to the UUID of the new, non-physical interface, bond2"
    const check = await on(
      1,
      `
MGT_NET_UUID=$(xe network-list name-label=MGT params=uuid | awk '{ print $5 }')
MGT_MSTR_UUID=$(xe pif-list host-uuid=$INSTALLATION_UUID network-uuid=$MGT_NET_UUID params=uuid | awk '{ print $5 }')
xe bond-list params=uuid,master,mode | grep -B1 -A1 "$MGT_MSTR_UUID" | awk '/mode/ { print $4 }'
xe pif-list uuid=$MGT_MSTR_UUID params=device | awk 'NF { print $5 }'`,
    );
    expect(check).to.equal('active-backup\nbond2\n');
  });

  it("SEED004-05c Part #5 on xs-2 before and after `service xapi restart`: the listings have the seed's shape", async () => {
    const nets = await on(2, 'xe network-list params=uuid,name-label,bridge | grep -v Pool | grep -v management | grep -B1 -A2 name-label');
    // "the network that was just created on the PM in Step #1 is already visible from the other pool members"
    expect(nets).to.equal(await on(1, 'xe network-list params=uuid,name-label,bridge | grep -v Pool | grep -v management | grep -B1 -A2 name-label'));
    expect(records(nets)).to.have.length(3);
    expect(
      shape(await on(2, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=true IP-configuration-mode=Static params=uuid,device,IP,network-name-label')),
    ).to.equal(
      shape(
        'uuid ( RO) : 7e171fca-dbbf-fb2b-dc27-b17dce481c02 device ( RO): eth0 network-name-label ( RO): Pool-wide network associated with eth0 IP ( RO): 172.16.0.12',
      ),
    );
    expect(
      shape(await on(2, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=false IP-configuration-mode=Static params=uuid,device,IP,network-name-label')),
    ).to.equal(shape('uuid ( RO) : effda92b-4a34-ad8b-582e-3c1de7cfd864 device ( RO): bond0 network-name-label ( RO): NAS IP ( RO): 172.16.0.36'));
    expect(records(await on(2, 'xe bond-list params=uuid,master,mode'))).to.have.length(5);
    await restartXs2();
    expect(
      await on(2, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=true IP-configuration-mode=Static params=uuid,device,IP,network-name-label'),
    ).to.equal('');
    expect(
      records(await on(2, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=false IP-configuration-mode=Static params=uuid,device,IP,network-name-label')),
    ).to.deep.equal(
      records(`uuid ( RO) : ce750d79-4770-b6c4-6b79-4813b2cacc26 device ( RO): bond2 network-name-label ( RO): MGT IP ( RO): 172.16.0.12
uuid ( RO) : effda92b-4a34-ad8b-582e-3c1de7cfd864 device ( RO): bond0 network-name-label ( RO): NAS IP ( RO): 172.16.0.36`),
    );
    expect(
      shape(await on(2, 'xe pif-list host-uuid=$INSTALLATION_UUID physical=false IP-configuration-mode=None params=uuid,device,IP,network-name-label')),
    ).to.equal(shape('uuid ( RO) : f1a21f27-8191-f91a-51de-224ed52a2687 device ( RO): bond1 network-name-label ( RO): PUB IP ( RO):'));
    const bonds = records(await on(2, 'xe bond-list params=uuid,master,mode'));
    expect(bonds).to.have.length(6);
    expect(bonds.filter((b) => b.endsWith('active-backup'))).to.have.length(4);
  });
});
