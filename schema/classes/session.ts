import { T, defineClass, field, otherConfigField, p, uuidField } from '../types.js';

export const session = defineClass({
  name: 'session',
  doc: 'A session: the authenticated context every API call (except login) runs in.',
  roles: { messages: 'pool-admin' },
  stored: true,
  // xapi: gen_events:false. Sessions never appear in event.from / event.next, whatever the subscription.
  events: false,
  fields: [
    uuidField,
    field('this_host', T.ref('host'), 'Currently connected host', { qual: 'DynamicRO', default: 'OpaqueRef:NULL' }),
    field('this_user', T.ref('user'), 'Currently connected user', { qual: 'DynamicRO', default: 'OpaqueRef:NULL' }),
    field('last_active', T.datetime, 'Timestamp for last time session was active', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    field('pool', T.bool, 'True if this session relates to a intra-pool login, false otherwise', { qual: 'DynamicRO', default: false }),
    otherConfigField(),
    field('is_local_superuser', T.bool, 'True iff this session was created using local superuser credentials', { qual: 'DynamicRO', default: false }),
    field('subject', T.ref('subject'), 'References the subject instance that created the session', { qual: 'DynamicRO', default: 'OpaqueRef:NULL' }),
    field('validation_time', T.datetime, 'Time when session was last validated', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    field('auth_user_sid', T.string, 'The subject identifier of the user that was externally authenticated', { qual: 'DynamicRO', default: '' }),
    field('auth_user_name', T.string, 'The subject name of the user that was externally authenticated', { qual: 'DynamicRO', default: '' }),
    field('rbac_permissions', T.set(T.string), 'List with all RBAC permissions for this session', { qual: 'StaticRO', default: [], derived: true }),
    field('tasks', T.set(T.ref('task')), 'List of tasks created using the current session', { qual: 'DynamicRO', default: [] }),
    field('parent', T.ref('session'), 'References the parent session that created this session', { qual: 'StaticRO', default: 'OpaqueRef:NULL' }),
    field('originator', T.string, 'A key string provided by a API user to distinguish itself from other users sharing the same login name', { qual: 'DynamicRO', default: '' }),
    field('client_certificate', T.bool, 'Indicates whether this session was authenticated using a client certificate', { qual: 'DynamicRO', default: false }),
    // xenapi-netd: a fingerprint of the user's password hash at login; a session outlives neither its user nor a password change.
    field('auth_fingerprint', T.string, 'Fingerprint of the password hash the session was opened with', { qual: 'DynamicRO', default: '', internal: true }),
  ],
  messages: [
    { name: 'login_with_password', roles: 'read-only', params: [p('uname', T.string), p('pwd', T.string), p('version', T.string, '1.1'), p('originator', T.string, '')], result: T.ref('session'), doc: 'Log in with a user name and password; returns a new session (no session argument).', session: false, async: false, errors: ['SESSION_AUTHENTICATION_FAILED', 'HOST_IS_SLAVE'] },
    { name: 'logout', roles: 'read-only', params: [], result: T.void, doc: 'End the calling session.', async: false, errors: ['SESSION_INVALID'] },
    { name: 'local_logout', roles: 'pool-admin', params: [], result: T.void, doc: 'End a session created by slave_local_login_with_password (emergency mode).', async: false },
    { name: 'slave_login', roles: 'pool-admin', params: [p('host', T.ref('host')), p('psecret', T.string)], result: T.ref('session'), doc: 'Pool-internal: a pool slave logs in to the master with the pool secret.', session: false, async: false, hidden: true, errors: ['SESSION_AUTHENTICATION_FAILED'] },
    { name: 'slave_local_login_with_password', roles: 'pool-admin', params: [p('uname', T.string), p('pwd', T.string)], result: T.ref('session'), doc: 'Log in to this host directly, without contacting the pool master (emergency mode only).', session: false, async: false },
  ],
});
