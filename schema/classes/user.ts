import { T, f, type ClassDef } from '../types.js';

export const user: ClassDef = {
  name: 'user',
  doc: 'A local user record (deprecated; kept for session.this_user).',
  roles: { messages: 'pool-admin' },
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('short_name', T.string, 'StaticRO', '', 'Short name (for example, userid)'),
    f('fullname', T.string, 'RW', '', 'Full name'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
  ],
  messages: [
  ],
};
