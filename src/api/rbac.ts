// Role-based access control as xapi has it (rbac.ml, xapi_role.ml, gen_rbac.ml): one permission
// per message of the datamodel (its lower-cased wire name, plus `/key:<k>` for guarded map keys),
// the static roles and the permissions each holds derived from the messages' allowed roles in
// schema/, and one check in the dispatcher for every call made with a session.
import { createHash } from 'node:crypto';
import { ROLES, classDef, type Allowed, type KeyRoles, type MessageDef, type RoleName } from '../../schema/index.js';
import { ApiError } from '../errors.js';
import type { Row, View } from '../store/store.js';
import type { Impls } from './context.js';
import { declaredMessages, type Method } from './methods.js';
import { registerDerived } from './records.js';

/** xapi's fixed uuid of pool-admin (Constants.rbac_pool_admin_uuid); other roles' uuids are a hash of their name. */
const POOL_ADMIN_UUID = '0165f154-ba3e-034e-6b27-5d271af109ba';

/** What each role is for (datamodel_roles.ml). */
const ROLE_DESCRIPTIONS: Record<RoleName, string> = {
  'pool-admin':
    'The Pool Administrator role has full access to all features and settings, including accessing Dom0 and managing subjects, roles and external authentication',
  'pool-operator':
    'The Pool Operator role manages host- and pool-wide resources, including setting up storage, creating resource pools and managing patches, high availability (HA) and workload balancing (WLB)',
  'vm-power-admin':
    'The VM Power Administrator role has full access to VM and template management and can choose where to start VMs and use the dynamic memory control and VM snapshot features',
  'vm-admin': 'The VM Administrator role can manage VMs and templates',
  'vm-operator': 'The VM Operator role can use VMs and interact with VM consoles',
  'read-only': 'The Read-Only role can log in with basic read-only access',
};

/** Permissions that guard no message but a case inside one (datamodel.ml extra_permissions). */
const EXTRA_PERMISSIONS: [string, Allowed][] = [['task.destroy/any', 'pool-operator']];
/** Destroying or cancelling a task of another user (taskHelper.ml assert_op_valid). */
export const TASK_OP_ANY = 'task.destroy/any';

/** A role record (role class). */
interface RoleRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  subroles: string[];
  is_internal: boolean;
}

/** gen_rbac.ml hash2uuid: the MD5 of the name, its 16 bytes laid out as a uuid. */
function hashUuid(name: string): string {
  const h = createHash('md5').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The ref xapi gives a static role or permission ("OpaqueRef:" ^ uuid). */
function refOf(uuid: string): string {
  return `OpaqueRef:${uuid}`;
}

/** Whether `role` is among those `allowed` names (xapi's roles_gte): that role or a more privileged one. */
export function roleAllows(role: RoleName, allowed: Allowed): boolean {
  return allowed !== 'local-root' && ROLES.indexOf(role) <= ROLES.indexOf(allowed);
}

/** The roles that may do what `allowed` allows, most privileged first. */
export function rolesAllowed(allowed: Allowed): RoleName[] {
  return ROLES.filter((r) => roleAllows(r, allowed));
}

/** The permission name_label of a key of a guarded map (rbac.ml get_key_permission_name). */
function keyPermission(wire: string, key: string): string {
  return `${wire}/key:${key}`.toLowerCase();
}

/** The static table: permissions (one per message and guarded key) and the six roles. */
class Table {
  /** Permission name_label → who holds it. */
  readonly allowedOf = new Map<string, Allowed>();
  readonly records = new Map<string, RoleRecord>();
  readonly byUuid = new Map<string, string>();
  readonly byLabel = new Map<string, string>();
  /** Role → its permission name_labels. */
  readonly labelsOf = new Map<RoleName, string[]>();
  readonly roleRefs = new Map<RoleName, string>();

  constructor(messages: { wire: string; msg: MessageDef }[]) {
    const perms: [wire: string, allowed: Allowed][] = [];
    for (const { wire, msg } of messages) {
      perms.push([wire, msg.roles!]);
      for (const [key, allowed] of msg.keyRoles ?? []) perms.push([`${wire}/key:${key}`, allowed]);
    }
    perms.push(...EXTRA_PERMISSIONS);
    const permRefs = new Map<string, string>();
    for (const [wire, allowed] of perms) {
      const label = wire.toLowerCase();
      if (this.allowedOf.has(label)) continue;
      this.allowedOf.set(label, allowed);
      const uuid = hashUuid(wire);
      this.add({ uuid, name_label: label, name_description: 'A basic permission', subroles: [], is_internal: true });
      permRefs.set(label, refOf(uuid));
    }
    for (const role of ROLES) {
      const labels = [...this.allowedOf].filter(([, a]) => roleAllows(role, a)).map(([l]) => l);
      this.labelsOf.set(role, labels);
      const uuid = role === 'pool-admin' ? POOL_ADMIN_UUID : hashUuid(role);
      this.roleRefs.set(role, refOf(uuid));
      this.add({ uuid, name_label: role, name_description: ROLE_DESCRIPTIONS[role], subroles: labels.map((l) => permRefs.get(l)!), is_internal: false });
    }
  }

  private add(r: RoleRecord): void {
    const ref = refOf(r.uuid);
    this.records.set(ref, r);
    this.byUuid.set(r.uuid, ref);
    this.byLabel.set(r.name_label, ref);
  }

  /** The record of a role or permission, or HANDLE_INVALID. */
  get(ref: string): RoleRecord {
    const r = this.records.get(ref);
    if (!r) throw new ApiError('HANDLE_INVALID', ['role', ref]);
    return r;
  }

  /** A role's permissions expanded to the leaves; a permission is its own. */
  permissions(ref: string): string[] {
    const r = this.get(ref);
    return r.subroles.length ? r.subroles : [ref];
  }

  /** The roles (not permissions) holding the permission with this name_label, most privileged first. */
  rolesWith(label: string): RoleName[] {
    const a = this.allowedOf.get(label);
    return a === undefined ? [] : rolesAllowed(a);
  }
}

let table: Table | undefined;
/** The static roles and permissions, derived from the datamodel once. */
export function rbacTable(): Table {
  return (table ??= new Table(declaredMessages()));
}

/** The ref of a static role. */
export function roleRef(role: RoleName): string {
  return rbacTable().roleRefs.get(role)!;
}

/** The role whose ref is `ref`, if it is one of the six. */
function roleOfRef(ref: string): RoleName | undefined {
  const label = rbacTable().records.get(ref)?.name_label;
  return (ROLES as readonly string[]).includes(label ?? '') ? (label as RoleName) : undefined;
}

// Permission sets per subject row (rows are immutable, so a changed subject is a new key).
const subjectPerms = new WeakMap<Row, Set<string>>();

/** xapi's session rbac_permissions of a subject: its roles' names and every permission of them. */
function subjectPermissions(subject: Row | undefined): Set<string> {
  if (!subject) return new Set();
  let s = subjectPerms.get(subject);
  if (!s) {
    s = new Set();
    const t = rbacTable();
    for (const ref of subject.roles as string[]) {
      const role = roleOfRef(ref);
      if (!role) continue;
      s.add(role);
      for (const l of t.labelsOf.get(role)!) s.add(l);
    }
    subjectPerms.set(subject, s);
  }
  return s;
}

/** The subject of a session row, if it still exists. */
function subjectOf(db: View, session: Row): Row | undefined {
  return session.subject && session.subject !== 'OpaqueRef:NULL' ? db.find('subject', String(session.subject)) : undefined;
}

/** session.rbac_permissions: empty for the local superuser and pool sessions (as in xapi), else the subject's. */
registerDerived('session', 'rbac_permissions', (db, _ref, row) => (row.is_local_superuser ? [] : [...subjectPermissions(subjectOf(db, row))]));

/** The permission a call needs (rbac.ml permission_of_action): a guarded key's own, else the message's. */
export function permissionOf(m: Method, values: unknown[]): string {
  const action = m.wire.toLowerCase();
  const keys = m.msg.keyRoles;
  if (!keys?.length) return action;
  const i = m.msg.params.findIndex((p) => p.name === 'key');
  if (i < 0) return `${action}/keyERR:DENY_NOKEY`;
  const key = matchKey(keys, String(values[i]));
  return key === undefined ? action : keyPermission(m.wire, key);
}

/** The guarded key a map key falls under (a trailing `*` matches any suffix), if any. */
function matchKey(keys: KeyRoles, k: string): string | undefined {
  return keys.find(([g]) => (g.endsWith('*') ? k.startsWith(g.slice(0, -1)) : g === k))?.[0];
}

/** RBAC_PERMISSION_DENIED [permission, message] as rbac.ml disallowed_permission_exn words it. */
function denied(permission: string): ApiError {
  const roles = rbacTable().rolesWith(permission).join(', ');
  return new ApiError('RBAC_PERMISSION_DENIED', [permission, `No permission in user session. (Roles with this permission: ${roles})`]);
}

/**
 * Refuses a call the session may not make, before any work (xapi's Rbac.check around every
 * handler). The local superuser and pool-internal sessions may do anything.
 */
export function assertPermitted(db: View, session: string, m: Method, values: unknown[], row: Row | undefined = db.find('session', session)): void {
  if (!row || row.is_local_superuser) return;
  const perms = subjectPermissions(subjectOf(db, row));
  const permission = permissionOf(m, values);
  if (!perms.has(permission)) throw denied(permission);
  assertMapSet(db, perms, m, values);
}

/**
 * Refuses `permission` to a caller that is not a session call (an HTTP handler): `who` is a
 * session row, or a user's login identity (loginIdentity). The local superuser holds everything.
 */
export function assertHolds(db: View, who: Pick<Row, 'is_local_superuser' | 'subject'>, permission: string): void {
  if (who.is_local_superuser) return;
  if (!subjectPermissions(subjectOf(db, who as Row)).has(permission)) throw denied(permission);
}

/**
 * task.destroy / task.cancel of a task (taskHelper.ml assert_op_valid): a user's own tasks (made
 * by a session of the same user) are its to end; anyone else's need task.destroy/any.
 */
export function assertTaskOp(db: View, session: string, task: string): void {
  const row = db.find('session', session);
  if (!row || row.is_local_superuser) return;
  const owner = db.find('session', String(db.find('task', task)?.session));
  if (owner && !owner.is_local_superuser && owner.auth_user_sid === row.auth_user_sid) return;
  if (!subjectPermissions(subjectOf(db, row)).has(TASK_OP_ANY)) throw denied(TASK_OP_ANY);
}

/**
 * set_<map> of a field with guarded keys (helpers.ml set_map_with_rbac, xapi's task and VM
 * set_other_config / set_platform): the caller needs the add_to permission of every guarded key
 * it adds or changes and the remove_from permission of every one it removes; entries kept as
 * they were need nothing.
 */
function assertMapSet(db: View, perms: Set<string>, m: Method, values: unknown[]): void {
  const f = /^set_(.+)$/.exec(m.msg.name)?.[1];
  if (!f) return;
  const fd = classDef(m.cls)?.fields.find((x) => x.name === f);
  if (!fd?.keyRoles?.length || fd.ty.k !== 'map') return;
  const old = (db.find(m.cls, String(values[0]))?.[f] ?? {}) as Record<string, unknown>;
  const value = (values[1] ?? {}) as Record<string, unknown>;
  const has = (o: Record<string, unknown>, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  const cls = m.cls.toLowerCase();
  const needed: string[] = [];
  for (const k of Object.keys(value)) {
    const g = has(old, k) && old[k] === value[k] ? undefined : matchKey(fd.keyRoles, k);
    if (g !== undefined) needed.push(`${cls}.add_to_${f}/key:${g.toLowerCase()}`);
  }
  for (const k of Object.keys(old)) {
    const g = has(value, k) ? undefined : matchKey(fd.keyRoles, k);
    if (g !== undefined) needed.push(`${cls}.remove_from_${f}/key:${g.toLowerCase()}`);
  }
  const missing = needed.find((p) => !perms.has(p));
  if (missing) throw denied(missing);
}

/** xenapi-netd's subject identifier of a configured user (there is no directory service). */
export function subjectIdentifier(user: string): string {
  return `local:${user}`;
}

/** Who a login is, as the session records it (xapi_session.ml: local root vs. a subject). */
export interface LoginIdentity {
  is_local_superuser: boolean;
  subject: string;
  auth_user_sid: string;
}

/** The local superuser's identity (xapi_session.ml: local root, and a root peer on the local socket). */
export const LOCAL_SUPERUSER: Readonly<LoginIdentity> = Object.freeze({ is_local_superuser: true, subject: 'OpaqueRef:NULL', auth_user_sid: '' });

/**
 * The identity a user logs in with: `root` with the pool-admin role is xapi's local superuser
 * (every right, no subject); every other user is its subject (SESSION_AUTHENTICATION_FAILED
 * stays the caller's business: a user without a subject gets no permission at all).
 */
export function loginIdentity(db: View, user: string, role: RoleName | undefined): LoginIdentity {
  if (isLocalSuperuser(user, role)) return LOCAL_SUPERUSER;
  const sid = subjectIdentifier(user);
  let subject = 'OpaqueRef:NULL';
  for (const [ref, r] of db.rows('subject')) if (r.subject_identifier === sid) subject = ref;
  return { is_local_superuser: false, subject, auth_user_sid: sid };
}

/** xapi's local superuser: the user `root`, when it has the pool-admin role. */
export function isLocalSuperuser(user: string, role: RoleName | undefined): boolean {
  return user === 'root' && (role ?? 'pool-admin') === 'pool-admin';
}

/** What a subject record holds for a configured user. */
function subjectFields(user: string, role: RoleName): Record<string, unknown> {
  return {
    subject_identifier: subjectIdentifier(user),
    other_config: {
      'subject-name': user,
      'subject-displayname': user,
      'subject-is-group': 'false',
      'subject-account-disabled': 'false',
      'subject-account-locked': 'false',
      'subject-account-expired': 'false',
      'subject-password-expired': 'false',
    },
    roles: [roleRef(role)],
  };
}

/** A write transaction's view of the store, as much as syncSubjects needs. */
interface SubjectTx extends View {
  create(cls: string, rec: Record<string, unknown>): string;
  set(cls: string, ref: string, fields: Record<string, unknown>): void;
  destroy(cls: string, ref: string): void;
}

/** Makes the subject records match the configured users (at start-up): one per user but the local superuser. */
export function syncSubjects(tx: SubjectTx, users: { name: string; role?: RoleName }[]): void {
  const want = new Map(
    users.filter((u) => !isLocalSuperuser(u.name, u.role)).map((u) => [subjectIdentifier(u.name), subjectFields(u.name, u.role ?? 'pool-admin')]),
  );
  for (const [ref, row] of [...tx.rows('subject')]) {
    const w = want.get(String(row.subject_identifier));
    if (!w) tx.destroy('subject', ref);
    else {
      if (JSON.stringify([row.other_config, row.roles]) !== JSON.stringify([w.other_config, w.roles]))
        tx.set('subject', ref, { other_config: w.other_config, roles: w.roles });
      want.delete(String(row.subject_identifier));
    }
  }
  for (const w of want.values()) tx.create('subject', w);
}

/** A role's record as the role class marshals it. */
function record(ref: string) {
  return rbacTable().get(ref);
}

/** xapi_role.ml get_common_where: only two expressions mean something. */
function where(expr: string): string[] {
  const t = rbacTable();
  const all = [...t.records.keys()];
  if (expr === 'subroles<>[]') return all.filter((r) => t.records.get(r)!.subroles.length > 0);
  if (expr === 'subroles=[]') return all.filter((r) => t.records.get(r)!.subroles.length === 0);
  return all;
}

const recordsOf = (refs: string[]) => Object.fromEntries(refs.map((r) => [r, record(r)]));

/** Implementations of the role class and subject.get_permissions_name_label. */
export const rbacImpls: Impls = {
  'role.get_record': (_ctx, { self: ref }) => record(ref),
  'role.get_by_uuid': (_ctx, { uuid }) => {
    const ref = rbacTable().byUuid.get(uuid);
    if (!ref) throw new ApiError('UUID_INVALID', ['role', uuid]);
    return ref;
  },
  'role.get_by_name_label': (_ctx, { label }) => {
    const ref = rbacTable().byLabel.get(label);
    return ref ? [ref] : [];
  },
  'role.get_all': () => [...rbacTable().records.keys()],
  'role.get_all_records': () => recordsOf([...rbacTable().records.keys()]),
  'role.get_all_where': (_ctx, { expr }) => where(expr),
  'role.get_all_records_where': (_ctx, { expr }) => recordsOf(where(expr)),
  'role.get_uuid': (_ctx, { self: ref }) => record(ref).uuid,
  'role.get_name_label': (_ctx, { self: ref }) => record(ref).name_label,
  'role.get_name_description': (_ctx, { self: ref }) => record(ref).name_description,
  'role.get_subroles': (_ctx, { self: ref }) => record(ref).subroles,
  'role.get_is_internal': (_ctx, { self: ref }) => record(ref).is_internal,
  'role.get_permissions': (_ctx, { self: ref }) => rbacTable().permissions(ref),
  'role.get_permissions_name_label': (_ctx, { self: ref }) =>
    rbacTable()
      .permissions(ref)
      .map((p) => record(p).name_label),
  'role.get_by_permission': (_ctx, { permission: perm }) => {
    const label = rbacTable().records.get(perm)?.name_label;
    return label === undefined || !rbacTable().allowedOf.has(label) ? [] : rbacTable().rolesWith(label).map(roleRef);
  },
  'role.get_by_permission_name_label': (_ctx, { label }) => rbacTable().rolesWith(label).map(roleRef),
  'subject.get_permissions_name_label': (ctx, { self: ref }) => {
    const roles = (ctx.db.get('subject', ref).roles as string[]).map(roleOfRef).filter((r): r is RoleName => r !== undefined);
    return [...new Set(roles.flatMap((r) => rbacTable().labelsOf.get(r)!))];
  },
};
