import { T, f, p, type ClassDef } from '../types.js';

export const session: ClassDef = {
  name: 'session',
  doc: 'A session: the authenticated context every API call (except login) runs in.',
  roles: { messages: 'pool-admin' },
  stored: true,
  // xapi: gen_events:false. Sessions never appear in event.from / event.next, whatever the subscription.
  events: false,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('this_host', T.ref('host'), 'DynamicRO', 'OpaqueRef:NULL', 'Currently connected host'),
    f('this_user', T.ref('user'), 'DynamicRO', 'OpaqueRef:NULL', 'Currently connected user'),
    f('last_active', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Timestamp for last time session was active'),
    f('pool', T.bool, 'DynamicRO', false, 'True if this session relates to a intra-pool login, false otherwise'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
    f('is_local_superuser', T.bool, 'DynamicRO', false, 'True iff this session was created using local superuser credentials'),
    f('subject', T.ref('subject'), 'DynamicRO', 'OpaqueRef:NULL', 'References the subject instance that created the session'),
    f('validation_time', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time when session was last validated'),
    f('auth_user_sid', T.string, 'DynamicRO', '', 'The subject identifier of the user that was externally authenticated'),
    f('auth_user_name', T.string, 'DynamicRO', '', 'The subject name of the user that was externally authenticated'),
    f('rbac_permissions', T.set(T.string), 'StaticRO', [], 'List with all RBAC permissions for this session', { derived: true }),
    f('tasks', T.set(T.ref('task')), 'DynamicRO', [], 'List of tasks created using the current session'),
    f('parent', T.ref('session'), 'StaticRO', 'OpaqueRef:NULL', 'References the parent session that created this session'),
    f('originator', T.string, 'DynamicRO', '', 'A key string provided by a API user to distinguish itself from other users sharing the same login name'),
    f('client_certificate', T.bool, 'DynamicRO', false, 'Indicates whether this session was authenticated using a client certificate'),
    // xenapi-netd: a fingerprint of the user's password hash at login; a session outlives neither its user nor a password change.
    f('auth_fingerprint', T.string, 'DynamicRO', '', 'Fingerprint of the password hash the session was opened with', { internal: true }),
  ],
  messages: [
    { name: 'login_with_password', roles: 'read-only', params: [p('uname', T.string), p('pwd', T.string), p('version', T.string, '1.1'), p('originator', T.string, '')], result: T.ref('session'), doc: 'Log in with a user name and password; returns a new session (no session argument).', session: false, async: false, errors: ['SESSION_AUTHENTICATION_FAILED', 'HOST_IS_SLAVE'] },
    { name: 'logout', roles: 'read-only', params: [], result: T.void, doc: 'End the calling session.', async: false, errors: ['SESSION_INVALID'] },
    { name: 'local_logout', roles: 'pool-admin', params: [], result: T.void, doc: 'End a session created by slave_local_login_with_password (emergency mode).', async: false },
    { name: 'slave_login', roles: 'pool-admin', params: [p('host', T.ref('host')), p('psecret', T.string)], result: T.ref('session'), doc: 'Pool-internal: a pool slave logs in to the master with the pool secret.', session: false, async: false, hidden: true, errors: ['SESSION_AUTHENTICATION_FAILED'] },
    { name: 'slave_local_login_with_password', roles: 'pool-admin', params: [p('uname', T.string), p('pwd', T.string)], result: T.ref('session'), doc: 'Log in to this host directly, without contacting the pool master (emergency mode only).', session: false, async: false },
  ],
};
