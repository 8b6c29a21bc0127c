// Fault injection at every step of the host plan of Bond.create, Bond.destroy,
// host.management_reconfigure and VLAN.create, through the daemon (simulated backend, real
// XML-RPC). For each call: a dry run (`DryRun.<call>`) gives the plan and its length n and must
// change nothing; then the call is made n times with the backend failing step k = 0..n-1: each
// must fail with PIF_CONFIGURATION_ERROR [pif, msg] and leave the database (h.dump()), the host
// (h.backend.host()) and the journal (no entry left open) as before; finally the call without a
// fault applies exactly the dry-run's steps and the host matches the database.
//
// The scenarios are the management ones (seed 004's bond of the management PIF with a VLAN and a
// running guest on it), so they do not repeat test/xapi/bond.test.ts's SEED-C*/SEED-D* fault loops
// (a non-management balance-slb bond).
import { expect } from 'chai';
import { startHarness, XenAPIFailure, type Harness } from '../helpers/harness.js';
import { assertHostMatchesDb, makeNetwork, vmWithVifs } from '../helpers/vmfix.js';

interface Row {
  name: string;
  method: string;
  /** Builds the world; returns the call's arguments (after the session). */
  setup(h: Harness): Promise<unknown[]>;
  /** Smallest plan length the scenario must produce (so the loop really covers something). */
  minSteps: number;
}

/** seed 004's starting point: eth3 plugged (xenbr3), network MGT, a running guest on the management network, a VLAN 42 on eth0. */
async function seed004World(h: Harness): Promise<{ mgt: string; vlanNet: string }> {
  await h.call('PIF.plug', h.pif('eth3'));
  const mgmtNet = await h.call('PIF.get_network', h.pif('eth0'));
  await vmWithVifs(h, [mgmtNet]);
  const vlanNet = await makeNetwork(h, { name_label: 'v42' });
  await h.call('VLAN.create', h.pif('eth0'), 42, vlanNet);
  const mgt = await makeNetwork(h, { name_label: 'MGT' });
  return { mgt, vlanNet };
}

const ROWS: Row[] = [
  {
    name: 'Bond.create of the management PIF eth0 + eth3, active-backup (seed 004, with a VLAN and a guest moving)',
    method: 'Bond.create',
    minSteps: 8,
    async setup(h) {
      const { mgt } = await seed004World(h);
      return [mgt, [h.pif('eth0'), h.pif('eth3')], '', 'active-backup', {}];
    },
  },
  {
    name: 'Bond.destroy of the management bond (management, VLAN and guest move back to eth0)',
    method: 'Bond.destroy',
    minSteps: 8,
    async setup(h) {
      const { mgt } = await seed004World(h);
      return [await h.call('Bond.create', mgt, [h.pif('eth0'), h.pif('eth3')], '', 'active-backup', {})];
    },
  },
  {
    name: 'host.management_reconfigure to an unplugged eth1 with a static IP',
    method: 'host.management_reconfigure',
    minSteps: 3,
    async setup(h) {
      await h.call('PIF.reconfigure_ip', h.pif('eth1'), 'Static', '198.51.100.5', '255.255.255.0', '198.51.100.1', '');
      await h.call('PIF.unplug', h.pif('eth1'));
      return [h.pif('eth1')];
    },
  },
  {
    name: 'VLAN.create on eth2 for a network whose running guest sits on an internal bridge',
    method: 'VLAN.create',
    minSteps: 4,
    async setup(h) {
      const net = await makeNetwork(h, { name_label: 'guests' });
      await vmWithVifs(h, [net]);
      return [h.pif('eth2'), 7, net];
    },
  },
];

describe('reconciler: a backend fault at every plan step leaves database and host as before', function () {
  this.timeout(60000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    h.backend.faults.failAt = undefined;
    await h.close();
  });

  for (const row of ROWS) {
    it(`FAULT ${row.name}`, async () => {
      const args = await row.setup(h);
      await assertHostMatchesDb(h);
      const before = h.dump();
      const host = h.backend.host();

      const dry = await h.call<{ method: string; steps: string[] }>(`DryRun.${row.method}`, ...args);
      expect(dry.method).to.equal(row.method);
      const n = dry.steps.length;
      expect(n, `plan of ${row.method}: ${dry.steps.join('; ')}`).to.be.at.least(row.minSteps);
      expect(h.dump(), 'DB after the dry run').to.deep.equal(before);
      expect(h.backend.host(), 'host after the dry run').to.deep.equal(host);

      const failedBefore = h.backend.stats.failed;
      for (let k = 0; k < n; k++) {
        h.backend.faults.failAt = (_s, i) => i === k;
        let details: string[] | undefined;
        try {
          await h.call(row.method, ...args);
        } catch (e) {
          if (!(e instanceof XenAPIFailure)) throw e;
          details = e.details;
        }
        expect(details, `${row.method} with a fault at step ${k} of ${n}`).to.not.equal(undefined);
        expect(details![0]).to.equal('PIF_CONFIGURATION_ERROR');
        expect(details).to.have.length(3);
        expect(details![2]).to.contain(`step ${k + 1} of ${n}`);
        expect(h.dump(), `DB after a fault at step ${k}`).to.deep.equal(before);
        expect(h.backend.host(), `host after a fault at step ${k}`).to.deep.equal(host);
        expect(h.r.reconciler.journal!.openEntries(), `journal after a fault at step ${k}`).to.deep.equal([]);
        expect(h.r.reconciler.journal!.recent(1)[0].status).to.equal('undone');
      }
      expect(h.backend.stats.failed - failedBefore).to.equal(n);

      h.backend.faults.failAt = undefined;
      await h.call(row.method, ...args);
      expect(h.r.reconciler.last.lines, "the applied plan is the dry run's").to.deep.equal(dry.steps);
      expect(h.r.reconciler.journal!.recent(1)[0].status).to.equal('committed');
      await assertHostMatchesDb(h);
    });
  }
});
