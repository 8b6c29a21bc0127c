import type { ErrorCode } from '../errors.js';
import { T, defineClass, field, nameFields, p, uuidField, type MessageDef } from '../types.js';

const self = p('self', T.ref('role'));
/** A read-only message every role may call (xapi implements role's messages by hand over its static table). */
const ro = <const N extends string, const P extends MessageDef['params'], const R extends MessageDef['result']>(
  name: N,
  params: P,
  result: R,
  doc: string,
  errors?: readonly ErrorCode[],
) => ({ name, roles: 'read-only', params, result, doc, async: false, readonly: true, ...(errors ? { errors } : {}) }) as const;

export const role = defineClass({
  name: 'role',
  doc: "A set of permissions associated with a subject: xapi's static roles, and one role per permission (a leaf with no subroles).",
  roles: { messages: 'pool-admin' },
  // Static, as in xapi (Rbac_static): derived from the datamodel's allowed roles, never stored.
  stored: false,
  fields: [
    uuidField,
    ...nameFields({ qual: 'StaticRO' }, { label: 'A short user-friendly name for the role', description: 'What this role is for' }),
    field('subroles', T.set(T.ref('role')), 'A list of pointers to other roles or permissions', { qual: 'StaticRO', default: [] }),
    field('is_internal', T.bool, 'Indicates whether the role is only to be assigned internally by xapi, or can be used by clients', {
      qual: 'DynamicRO',
      default: false,
    }),
  ],
  messages: [
    ro('get_record', [self], T.record('role'), 'All fields of the given role.', ['HANDLE_INVALID']),
    ro('get_by_uuid', [p('uuid', T.string)], T.ref('role'), 'The role with the given uuid.', ['UUID_INVALID']),
    ro('get_by_name_label', [p('label', T.string)], T.set(T.ref('role')), 'Every role with the given name_label.'),
    ro('get_all', [], T.set(T.ref('role')), 'Every role and permission.'),
    ro('get_all_records', [], T.map(T.ref('role'), T.record('role')), 'Every role and permission with its record.'),
    ro(
      'get_all_where',
      [p('expr', T.string)],
      T.set(T.ref('role')),
      'Roles matching the expression (xapi understands only subroles<>[] for roles and subroles=[] for permissions; anything else is every role).',
    ),
    ro('get_all_records_where', [p('expr', T.string)], T.map(T.ref('role'), T.record('role')), 'As get_all_where, with records.'),
    ro('get_uuid', [self], T.string, 'The uuid field of the given role.', ['HANDLE_INVALID']),
    ro('get_name_label', [self], T.string, 'The name_label field of the given role.', ['HANDLE_INVALID']),
    ro('get_name_description', [self], T.string, 'The name_description field of the given role.', ['HANDLE_INVALID']),
    ro('get_subroles', [self], T.set(T.ref('role')), 'The subroles field of the given role.', ['HANDLE_INVALID']),
    ro('get_is_internal', [self], T.bool, 'The is_internal field of the given role.', ['HANDLE_INVALID']),
    ro('get_permissions', [self], T.set(T.ref('role')), 'The permissions of the role, expanded to the leaves.', ['HANDLE_INVALID']),
    ro('get_permissions_name_label', [self], T.set(T.string), 'The name_labels of the permissions of the role.', ['HANDLE_INVALID']),
    ro('get_by_permission', [p('permission', T.ref('role'))], T.set(T.ref('role')), 'The roles that include the permission.'),
    ro('get_by_permission_name_label', [p('label', T.string)], T.set(T.ref('role')), 'The roles that include the permission with this name_label.'),
  ],
});
