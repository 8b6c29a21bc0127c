import { T, defineClass, p } from '../types.js';

export const event = defineClass({
  name: 'event',
  doc: 'The event subscription interface (no stored objects).',
  roles: { messages: 'read-only' },
  stored: false,
  fields: [
  ],
  messages: [
    { name: 'register', roles: 'read-only', params: [p('classes', T.set(T.string))], result: T.void, doc: 'Subscribe the session to events of the given classes (legacy API, use event.from).', async: true, readonly: true },
    { name: 'unregister', roles: 'read-only', params: [p('classes', T.set(T.string))], result: T.void, doc: 'Remove the given classes from the session\'s legacy subscription.', async: true, readonly: true },
    { name: 'next', roles: 'read-only', params: [], result: T.set(T.any), doc: 'Block until events for the registered classes are available and return them (legacy API).', async: false, errors: ['SESSION_NOT_REGISTERED', 'EVENTS_LOST', 'EVENT_SUBSCRIPTION_PARSE_FAILURE'], readonly: true },
    { name: 'from', roles: 'read-only', params: [p('classes', T.set(T.string)), p('token', T.string), p('timeout', T.float)], result: T.any, doc: 'Return the events on the given classes that happened after token, waiting up to timeout seconds.', async: false, errors: ['EVENT_FROM_TOKEN_PARSE_FAILURE', 'EVENT_SUBSCRIPTION_PARSE_FAILURE'], readonly: true },
    { name: 'get_current_id', roles: 'read-only', params: [], result: T.int, doc: 'Return the current legacy event id.', async: false, readonly: true },
    { name: 'inject', roles: 'read-only', params: [p('class', T.string), p('ref', T.string)], result: T.string, doc: 'Record a modification event on one object and return a token from just before it.', async: false, errors: ['HANDLE_INVALID'] },
  ],
});
