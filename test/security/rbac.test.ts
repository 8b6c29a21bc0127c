// RBAC as xapi has it: the six roles, each message's permission from the datamodel, checked in
// the dispatcher for every call (XML-RPC and JSON-RPC, Async. and DryRun.) before any work.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { ROLES, classDef, enumDef, type RoleName, type Ty } from '../../schema/index.js';
import { hashPassword } from '../../src/api/session.js';
import { constructorFields, type Method } from '../../src/api/methods.js';
import { checkUsers, DEFAULT_USERS } from '../../src/config.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeNetwork } from '../helpers/vmfix.js';
import { jsonCall, post } from '../api/rawhttp.js';

/** xapi's error text for a denied permission held by these roles (rbac.ml disallowed_permission_exn). */
const deny = (permission: string, roles: string) => [
  'RBAC_PERMISSION_DENIED',
  permission,
  `No permission in user session. (Roles with this permission: ${roles})`,
];
const POOL_OP = 'pool-admin, pool-operator';

/** A value of each type that passes parameter checking, so a call reaches the RBAC check. */
function sample(ty: Ty): unknown {
  switch (ty.k) {
    case 'int':
    case 'int32':
    case 'float':
      return 0;
    case 'bool':
      return false;
    case 'datetime':
      return '19700101T00:00:00Z';
    case 'enum':
      return enumDef(ty.name).values[0];
    case 'ref':
      return 'OpaqueRef:NULL';
    case 'set':
      return [];
    case 'map':
      return {};
    case 'record':
      return Object.fromEntries(constructorFields(classDef(ty.cls)!).map((fd) => [fd.name, sample(fd.ty)]));
    default:
      return '';
  }
}

/** The messages xapi lets read-only call although they write (its datamodel, by hand: the test's independent reference). */
const WRITES_OPEN_TO_READ_ONLY = [
  'session.logout',
  'task.create',
  'task.destroy',
  'task.add_to_other_config',
  'task.remove_from_other_config',
  'task.set_other_config',
  'event.inject',
].sort();

describe('RBAC (xapi roles)', function () {
  this.timeout(60_000);
  let h: Harness;
  const login: Record<string, string> = {};
  const users: Record<string, RoleName | undefined> = {
    pa: 'pool-admin',
    po: 'pool-operator',
    vpa: 'vm-power-admin',
    va: 'vm-admin',
    vo: 'vm-operator',
    ro: 'read-only',
    norole: undefined,
  };
  const as = (u: string) => ({
    call: <T = any>(m: string, ...p: unknown[]) => h.raw<T>(m, login[u], ...p),
    fails: (m: string, ...p: unknown[]) => h.rawFails(m, login[u], ...p),
  });

  before(async () => {
    const hash = await hashPassword('pw', 1024);
    const list = [...DEFAULT_USERS, ...Object.entries(users).map(([name, role]) => ({ name, hash, ...(role ? { role } : {}) }))];
    h = await startHarness({ config: { users: checkUsers(list) } });
    for (const u of Object.keys(users)) login[u] = await h.raw('session.login_with_password', u, 'pw', '1.0', 'rbac-test');
  });
  after(async () => h?.close());

  describe('roles and permissions (role class)', () => {
    it("has xapi's six roles with their refs, uuids and descriptions", async () => {
      const all = await h.call<string[]>('role.get_all_where', 'subroles<>[]');
      const recs = await Promise.all(all.map((r) => h.call('role.get_record', r)));
      expect(recs.map((r) => r.name_label)).to.deep.equal([...ROLES]);
      const pa = (await h.call<string[]>('role.get_by_name_label', 'pool-admin'))[0];
      // Constants.rbac_pool_admin_uuid, the default of subject.roles in xapi
      expect(pa).to.equal('OpaqueRef:0165f154-ba3e-034e-6b27-5d271af109ba');
      const po = await h.call('role.get_record', (await h.call<string[]>('role.get_by_name_label', 'pool-operator'))[0]);
      const md5 = createHash('md5').update('pool-operator').digest('hex');
      expect(po.uuid).to.equal(`${md5.slice(0, 8)}-${md5.slice(8, 12)}-${md5.slice(12, 16)}-${md5.slice(16, 20)}-${md5.slice(20)}`);
      expect(po.is_internal).to.equal(false);
      expect(po.name_description).to.match(/^The Pool Operator role manages host- and pool-wide resources/);
      const perm = await h.call('role.get_record', (await h.call<string[]>('role.get_by_name_label', 'bond.create'))[0]);
      expect(perm).to.include({ name_label: 'bond.create', name_description: 'A basic permission', is_internal: true });
      expect(perm.subroles).to.deep.equal([]);
      expect(await h.call('role.get_by_uuid', po.uuid)).to.equal((await h.call<string[]>('role.get_by_name_label', 'pool-operator'))[0]);
      expect(await h.fails('role.get_record', 'OpaqueRef:nope')).to.deep.equal(['HANDLE_INVALID', 'role', 'OpaqueRef:nope']);
      const everything = await h.call<string[]>('role.get_all');
      const perms = await h.call<string[]>('role.get_all_where', 'subroles=[]');
      expect(everything.length).to.equal(perms.length + 6);
      expect(Object.keys(await h.call('role.get_all_records')).length).to.equal(everything.length);
    });

    it('each role holds the permissions of the roles below it (roles_gte), read-only only readers', async () => {
      const labels: Record<string, string[]> = {};
      for (const role of ROLES) labels[role] = await h.call('role.get_permissions_name_label', (await h.call<string[]>('role.get_by_name_label', role))[0]);
      for (let i = 1; i < ROLES.length; i++) {
        const upper = new Set(labels[ROLES[i - 1]]);
        expect(
          labels[ROLES[i]].every((l) => upper.has(l)),
          ROLES[i],
        ).to.equal(true);
        expect(labels[ROLES[i]].length, ROLES[i]).to.be.below(labels[ROLES[i - 1]].length);
      }
      expect(labels['read-only']).to.include.members(['bond.get_record', 'pif.get_all_records', 'event.from', 'session.logout', 'role.get_all']);
      expect(labels['read-only']).to.not.include.members(['bond.create', 'pif.reconfigure_ip', 'network.create']);
      expect(labels['pool-operator']).to.include.members([
        'bond.create',
        'bond.destroy',
        'vlan.create',
        'tunnel.create',
        'pif.reconfigure_ip',
        'network.add_to_other_config/key:folder',
      ]);
      expect(labels['pool-operator']).to.not.include.members(['user.set_fullname', 'session.set_other_config', 'vm.add_to_other_config/key:pci']);
      const byPerm = await h.call<string[]>('role.get_by_permission_name_label', 'bond.create');
      expect(await Promise.all(byPerm.map((r) => h.call('role.get_name_label', r)))).to.deep.equal(['pool-admin', 'pool-operator']);
    });
  });

  describe('every mutating message is denied to read-only (from the datamodel)', () => {
    /** Every callable message that takes a session and writes, from the method table the daemon built from schema/. */
    // (pool-internal messages refuse every non-pool session before RBAC: test/security of sec-sessions)
    const writers = () => [...h.r.dispatcher.methods.values()].filter((m) => m.write && m.msg.session !== false && !m.msg.poolInternal);
    const args = (m: Method) => m.msg.params.map((p) => sample(p.ty));

    it('the writes xapi opens to read-only are exactly those of its datamodel', () => {
      const open = writers()
        .filter((m) => m.msg.roles === 'read-only')
        .map((m) => m.wire)
        .sort();
      expect(open).to.deep.equal(WRITES_OPEN_TO_READ_ONLY);
    });

    it('every other one fails with RBAC_PERMISSION_DENIED before any work, sync, Async. and DryRun.', async () => {
      const before = JSON.stringify(h.dump());
      const denied = writers().filter((m) => !WRITES_OPEN_TO_READ_ONLY.includes(m.wire));
      expect(denied.length).to.be.above(200);
      for (const m of denied) {
        const e = await as('ro').fails(m.wire, ...args(m));
        expect(e.slice(0, 2), m.wire).to.deep.equal(['RBAC_PERMISSION_DENIED', m.wire.toLowerCase()]);
        expect(await as('ro').fails(`DryRun.${m.wire}`, ...args(m)), `DryRun.${m.wire}`).to.deep.equal(e);
        if (m.msg.async) expect(await as('ro').fails(`Async.${m.wire}`, ...args(m)), `Async.${m.wire}`).to.deep.equal(e);
      }
      expect(JSON.stringify(h.dump())).to.equal(before);
      expect(await h.call('task.get_all')).to.deep.equal([]);
    });

    it('read-only reads everything: records, getters, get_all_records, events', async () => {
      const ro = as('ro');
      const pif = h.pif('eth0');
      expect((await ro.call('PIF.get_record', pif)).device).to.equal('eth0');
      expect(await ro.call('PIF.get_IP', pif)).to.equal('192.0.2.10');
      expect(Object.keys(await ro.call('network.get_all_records')).length).to.be.above(0);
      const ev = await ro.call('event.from', ['pif'], '', 0);
      expect(ev.events.length).to.be.above(0);
    });
  });

  describe("each role's boundary (xapi's table)", () => {
    it('PIF.reconfigure_ip, Bond.create: pool-operator and up', async () => {
      const pif = h.pif('eth2');
      await as('po').call('PIF.reconfigure_ip', pif, 'DHCP', '', '', '', '');
      for (const u of ['vpa', 'va', 'vo', 'ro'])
        expect(await as(u).fails('PIF.reconfigure_ip', pif, 'None', '', '', '', ''), u).to.deep.equal(deny('pif.reconfigure_ip', POOL_OP));
      expect(await h.call('PIF.get_ip_configuration_mode', pif)).to.equal('DHCP');
      expect(await as('vpa').fails('Bond.create', 'OpaqueRef:NULL', [], '', 'active-backup', {})).to.deep.equal(deny('bond.create', POOL_OP));
    });

    it('network.create/destroy: vm-admin and up; set_name_label: pool-operator; tags: vm-operator', async () => {
      const rec = { name_label: 'n', name_description: '', MTU: 1500, other_config: {}, bridge: '' };
      const n = await as('va').call<string>('network.create', rec);
      expect(await as('vo').fails('network.create', rec)).to.deep.equal(deny('network.create', 'pool-admin, pool-operator, vm-power-admin, vm-admin'));
      expect(await as('va').fails('network.set_name_label', n, 'x')).to.deep.equal(deny('network.set_name_label', POOL_OP));
      await as('po').call('network.set_name_label', n, 'x');
      await as('vo').call('network.add_tags', n, 'blue');
      expect(await as('ro').fails('network.add_tags', n, 'red')).to.deep.equal(
        deny('network.add_tags', 'pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator'),
      );
      expect(await h.call('network.get_tags', n)).to.deep.equal(['blue']);
      await as('va').call('network.destroy', n);
    });

    it('guarded map keys: their own permission (network.other_config:folder for vm-operator, VM pci for pool-admin)', async () => {
      const n = await makeNetwork(h);
      await as('vo').call('network.add_to_other_config', n, 'folder', '/a');
      await as('vo').call('network.add_to_other_config', n, 'XenCenter.CustomFields.owner', 'me');
      expect(await as('vo').fails('network.add_to_other_config', n, 'mtu', '9000')).to.deep.equal(deny('network.add_to_other_config', POOL_OP));
      expect(await as('ro').fails('network.remove_from_other_config', n, 'folder')).to.deep.equal(
        deny('network.remove_from_other_config/key:folder', 'pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator'),
      );
      expect(await h.call('network.get_other_config', n)).to.deep.equal({ folder: '/a', 'XenCenter.CustomFields.owner': 'me' });
      const vm = await h.call('VM.create', { name_label: 'vm' });
      expect(await as('va').fails('VM.add_to_other_config', vm, 'pci', '0/0000:00:01.0')).to.deep.equal(deny('vm.add_to_other_config/key:pci', 'pool-admin'));
      await as('pa').call('VM.add_to_other_config', vm, 'pci', '0/0000:00:01.0');
      await as('va').call('VM.add_to_other_config', vm, 'owner', 'me');
      // set_other_config (helpers.ml set_map_with_rbac): keeping a guarded entry needs nothing, changing it does
      await as('va').call('VM.set_other_config', vm, { pci: '0/0000:00:01.0', owner: 'you' });
      expect(await as('va').fails('VM.set_other_config', vm, { pci: '0/0000:00:02.0' })).to.deep.equal(deny('vm.add_to_other_config/key:pci', 'pool-admin'));
      expect(await as('va').fails('VM.set_other_config', vm, {})).to.deep.equal(deny('vm.remove_from_other_config/key:pci', 'pool-admin'));
      expect(await h.call('VM.get_other_config', vm)).to.deep.equal({ pci: '0/0000:00:01.0', owner: 'you' });
      expect(await as('va').fails('VM.add_to_platform', vm, 'hvm_serial', 'pty')).to.deep.equal(deny('vm.add_to_platform/key:hvm_serial', 'pool-admin'));
    });

    it('tasks: read-only creates and annotates its own, but not the keys XenCenter guards', async () => {
      const t = await as('ro').call<string>('task.create', 'mine', '');
      await as('ro').call('task.add_to_other_config', t, 'note', 'x');
      expect(await as('ro').fails('task.add_to_other_config', t, 'applies_to', 'y')).to.deep.equal(
        deny('task.add_to_other_config/key:applies_to', 'pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator'),
      );
      expect(await as('ro').fails('task.set_other_config', t, { applies_to: 'y' })).to.deep.equal(
        deny('task.add_to_other_config/key:applies_to', 'pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator'),
      );
      await as('vo').call('task.add_to_other_config', t, 'applies_to', 'y');
      await as('ro').call('task.destroy', t);
      // someone else's task needs task.destroy/any (taskHelper.ml assert_op_valid)
      const mine = await as('ro').call<string>('task.create', 'mine', '');
      expect(await as('vo').fails('task.destroy', mine)).to.deep.equal(deny('task.destroy/any', POOL_OP));
      expect(await as('vo').fails('task.cancel', mine)).to.deep.equal(deny('task.destroy/any', POOL_OP));
      await as('po').call('task.destroy', mine);
      expect(await h.call('task.get_all')).to.deep.equal([]);
    });

    it('pool-admin only: user and session setters', async () => {
      expect(await as('po').fails('session.add_to_other_config', login.po, 'k', 'v')).to.deep.equal(deny('session.add_to_other_config', 'pool-admin'));
      await as('pa').call('session.add_to_other_config', login.pa, 'k', 'v');
      await as('norole').call('session.add_to_other_config', login.norole, 'k', 'v');
      expect(await as('po').fails('user.set_fullname', 'OpaqueRef:NULL', 'x')).to.deep.equal(deny('user.set_fullname', 'pool-admin'));
    });

    it('read-only may log out; the denial happens before the session is touched', async () => {
      const s = await h.raw<string>('session.login_with_password', 'ro', 'pw', '1.0', 'rbac-test');
      expect(await h.rawFails('Bond.destroy', s, 'OpaqueRef:NULL')).to.deep.equal(deny('bond.destroy', POOL_OP));
      await h.raw('session.logout', s);
      expect(await h.rawFails('Bond.destroy', s, 'OpaqueRef:NULL')).to.deep.equal(['SESSION_INVALID', s]);
    });
  });

  describe('sessions and subjects', () => {
    it('root (pool-admin) is the local superuser: no subject, empty rbac_permissions, every right', async () => {
      const s = await h.call('session.get_record', h.session);
      expect([s.is_local_superuser, s.subject, s.auth_user_sid, s.auth_user_name, s.rbac_permissions]).to.deep.equal([true, 'OpaqueRef:NULL', '', 'root', []]);
    });

    it('a user is its subject: subject record, auth_user_sid, rbac_permissions = role + its permissions', async () => {
      const s = await as('ro').call('session.get_record', login.ro);
      expect(s.is_local_superuser).to.equal(false);
      expect(s.auth_user_name).to.equal('ro');
      const subj = await as('ro').call('subject.get_record', s.subject);
      expect(subj.subject_identifier).to.equal(s.auth_user_sid);
      expect(subj.other_config['subject-name']).to.equal('ro');
      const roRole = (await h.call<string[]>('role.get_by_name_label', 'read-only'))[0];
      expect(subj.roles).to.deep.equal([roRole]);
      const perms = await as('ro').call<string[]>('session.get_rbac_permissions', login.ro);
      const roPerms = await h.call<string[]>('role.get_permissions_name_label', roRole);
      expect([...perms].sort()).to.deep.equal(['read-only', ...roPerms].sort());
      expect([...(await h.call<string[]>('subject.get_permissions_name_label', s.subject))].sort()).to.deep.equal([...roPerms].sort());
    });

    it('subjects exist for the configured users but root; a user without a role is pool-admin', async () => {
      const recs = Object.values(await h.call<Record<string, any>>('subject.get_all_records'));
      expect(recs.map((r) => r.other_config['subject-name']).sort()).to.deep.equal(Object.keys(users).sort());
      const pa = (await h.call<string[]>('role.get_by_name_label', 'pool-admin'))[0];
      expect(recs.find((r) => r.other_config['subject-name'] === 'norole').roles).to.deep.equal([pa]);
      expect(() => checkUsers([{ name: 'x', hash: 'h', role: 'admin' }])).to.throw(/role "admin"/);
    });

    it("session.get_all_subject_identifiers (everyone): each live session's subject identifier once, the local superuser's sessions left out (xapi)", async () => {
      const second = await h.raw<string>('session.login_with_password', 'vo', 'pw', '1.0', 'rbac-test');
      const sids = await as('ro').call<string[]>('session.get_all_subject_identifiers');
      expect([...sids].sort()).to.deep.equal(
        Object.keys(users)
          .map((u) => `local:${u}`)
          .sort(),
      );
      await h.raw('session.logout', second);
    });

    it('pool-internal sessions (slave_login) keep full rights', async () => {
      const pool = h.r.d.services.pool!;
      const secret = pool.role.secret;
      expect(secret).to.be.a('string');
      const s = await h.raw<string>('session.slave_login', h.r.d.hostRef, secret);
      expect(await h.raw('host.get_management_interface', s, h.r.d.hostRef)).to.equal(h.pif('eth0'));
      const n = await h.raw<string>('network.create', s, { name_label: 'x', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
      await h.raw('network.destroy', s, n);
    });
  });

  describe('JSON-RPC, Async. and DryRun.', () => {
    it('JSON-RPC gets the same denial, and read-only can read', async () => {
      const r = await post(h.r.port, '/jsonrpc', jsonCall('Bond.create', [login.ro, 'OpaqueRef:NULL', [], '', 'active-backup', {}], 7), {
        'Content-Type': 'application/json',
      });
      expect(JSON.parse(r.body)).to.deep.equal({
        jsonrpc: '2.0',
        error: { code: 1, message: 'RBAC_PERMISSION_DENIED', data: deny('bond.create', POOL_OP).slice(1) },
        id: 7,
      });
      const g = await post(h.r.port, '/jsonrpc', jsonCall('PIF.get_device', [login.ro, h.pif('eth0')], 8), { 'Content-Type': 'application/json' });
      expect(JSON.parse(g.body).result).to.equal('eth0');
    });

    it('pool-operator: DryRun.Bond.create gives a plan, Async.Bond.create a task that succeeds', async () => {
      const n = await as('po').call<string>('network.create', { name_label: 'b', name_description: '', MTU: 1500, other_config: {}, bridge: '' });
      const plan = await as('po').call('DryRun.Bond.create', n, [h.pif('eth4'), h.pif('eth5')], '', 'active-backup', {});
      expect(plan.method).to.equal('Bond.create');
      expect(await h.call('Bond.get_all')).to.deep.equal([]);
      const task = await as('po').call<string>('Async.Bond.create', n, [h.pif('eth4'), h.pif('eth5')], '', 'active-backup', {});
      for (let i = 0; i < 100 && (await h.call('task.get_status', task)) === 'pending'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await h.call('task.get_status', task)).to.equal('success');
      const bond = (await h.call<string[]>('Bond.get_all'))[0];
      expect(await as('vpa').fails('Async.Bond.destroy', bond)).to.deep.equal(deny('bond.destroy', POOL_OP));
      await as('po').call('Bond.destroy', bond);
    });
  });

  describe('seed 004: bonding the management interface as pool-operator', () => {
    it('creates the MGT network and the bond over the PMI and eth3; VLAN and tunnel move; destroy moves them back', async () => {
      const po = as('po');
      const sv = await h.call<Record<string, string>>('host.get_software_version', h.r.d.hostRef);
      await h.r.store.write((tx) => tx.set('host', h.r.d.hostRef, { software_version: { ...sv, network_backend: 'openvswitch' } }));
      const host = h.r.d.hostRef;
      const pmi = await po.call<string>('host.get_management_interface', host);
      const rec = (label: string) => ({ name_label: label, name_description: '', MTU: 1500, other_config: {}, bridge: '' });
      const vlanNet = await po.call<string>('network.create', rec('VLAN30'));
      await po.call<string>('VLAN.create', pmi, 30, vlanNet);
      const tunNet = await po.call<string>('network.create', rec('TUN'));
      await po.call<string>('tunnel.create', pmi, tunNet, 'gre');
      const mgt = await po.call<string>('network.create', rec('MGT'));
      const bond = await po.call<string>('Bond.create', mgt, [pmi, h.pif('eth3')], '', 'active-backup', {});
      const master = await po.call<string>('Bond.get_master', bond);
      expect(await po.call('host.get_management_interface', host)).to.equal(master);
      expect(await po.call('PIF.get_IP', master)).to.equal('192.0.2.10');
      expect(await po.call('VLAN.get_tagged_PIF', (await po.call<string[]>('PIF.get_VLAN_slave_of', master))[0])).to.equal(master);
      expect(await po.call('PIF.get_tunnel_transport_PIF_of', master)).to.have.length(1);
      await po.call('Bond.destroy', bond);
      expect(await po.call('host.get_management_interface', host)).to.equal(pmi);
      expect(await po.call('PIF.get_VLAN_slave_of', pmi)).to.have.length(1);
      expect(await po.call('PIF.get_tunnel_transport_PIF_of', pmi)).to.have.length(1);
      // the same flow's first step is refused to the roles below
      expect(await as('vpa').fails('VLAN.create', pmi, 31, vlanNet)).to.deep.equal(deny('vlan.create', POOL_OP));
    });
  });
});
