import { T, defineClass, field, otherConfigField, uuidField } from '../types.js';

export const user = defineClass({
  name: 'user',
  doc: 'A local user record (deprecated; kept for session.this_user).',
  roles: { messages: 'pool-admin' },
  stored: true,
  fields: [
    uuidField,
    field('short_name', T.string, 'Short name (for example, userid)', { qual: 'StaticRO', default: '' }),
    field('fullname', T.string, 'Full name', { default: '' }),
    otherConfigField(),
  ],
  messages: [],
});
