import { T, f, p, type ClassDef } from '../types.js';

export const subject: ClassDef = {
  name: 'subject',
  doc: 'A user who may log in, with the roles that give it its permissions (xenapi-netd: one per user of --users other than the local superuser).',
  roles: { messages: 'pool-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('subject_identifier', T.string, 'StaticRO', '', 'The subject identifier, unique in the external directory service'),
    f('other_config', T.smap, 'StaticRO', {}, 'Additional configuration'),
    f('roles', T.set(T.ref('role')), 'DynamicRO', [], 'The roles associated with this subject'),
  ],
  messages: [
    { name: 'get_permissions_name_label', roles: 'read-only', params: [p('self', T.ref('subject'))], result: T.set(T.string), doc: 'The name_labels of every permission of the subject\'s roles.', async: false, readonly: true },
  ],
};
