import { T, defineClass, field, otherConfigField, p, uuidField } from '../types.js';

export const subject = defineClass({
  name: 'subject',
  doc: 'A user who may log in, with the roles that give it its permissions (xenapi-netd: one per user of --users other than the local superuser).',
  roles: { messages: 'pool-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('subject_identifier', T.string, 'The subject identifier, unique in the external directory service', { qual: 'StaticRO', default: '' }),
    otherConfigField({ qual: 'StaticRO' }),
    field('roles', T.set(T.ref('role')), 'The roles associated with this subject', { qual: 'DynamicRO', default: [] }),
  ],
  messages: [
    {
      name: 'get_permissions_name_label',
      roles: 'read-only',
      params: [p('self', T.ref('subject'))],
      result: T.set(T.string),
      doc: "The name_labels of every permission of the subject's roles.",
      async: false,
      readonly: true,
    },
  ],
});
