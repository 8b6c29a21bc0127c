import { T, defineClass, field, nameFields, operationsFields, otherConfigField, p, uuidField, type KeyRoles } from '../types.js';

/** task.other_config keys that need vm-operator to add or remove (datamodel.ml protected_keys). */
const TASK_PROTECTED_KEYS: KeyRoles = [['applies_to', 'vm-operator'], ['XenCenterUUID', 'vm-operator'], ['XenCenterMeddlingActionTitle', 'vm-operator']];

export const task = defineClass({
  name: 'task',
  doc: 'A long-running operation; the result of every Async call.',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    ...nameFields({ qual: 'DynamicRO' }),
    ...operationsFields('task_allowed_operations'),
    field('created', T.datetime, 'Time task was created', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    field('finished', T.datetime, 'Time task finished (i.e', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    field('status', T.enum('task_status_type'), 'Current status of the task', { qual: 'DynamicRO', default: 'pending' }),
    field('session', T.ref('session'), 'The session that created the task', { qual: 'DynamicRO', default: 'OpaqueRef:NULL', internal: true }),
    field('resident_on', T.ref('host'), 'The host on which the task is running', { qual: 'DynamicRO', default: 'OpaqueRef:NULL' }),
    field('progress', T.float, 'This field contains the estimated fraction of the task which is complete', { qual: 'DynamicRO', default: 0 }),
    field('externalpid', T.int, 'If the task has spawned a program, the field record the PID of the process that the task is waiting on', { qual: 'DynamicRO', default: 0, internal: true }),
    field('stunnelpid', T.int, 'If the task has been forwarded, this field records the pid of the stunnel process spawned to manage the forwarding connection', { qual: 'DynamicRO', default: 0, internal: true }),
    field('forwarded', T.bool, 'True if this task has been forwarded to a slave', { qual: 'DynamicRO', default: false, internal: true }),
    field('forwarded_to', T.ref('host'), 'The host to which the task has been forwarded', { qual: 'DynamicRO', default: 'OpaqueRef:NULL', internal: true }),
    field('type', T.string, 'If the task has completed successfully, this field contains the type of the encoded result (i.e', { qual: 'DynamicRO', default: '' }),
    field('result', T.string, 'If the task has completed successfully, this field contains the result value (either Void or an object reference)', { qual: 'DynamicRO', default: '' }),
    field('error_info', T.set(T.string), 'If the task has failed, this field contains the set of associated error strings', { qual: 'DynamicRO', default: [] }),
    otherConfigField({ qual: 'DynamicRO', keyRoles: TASK_PROTECTED_KEYS }),
    field('subtask_of', T.ref('task'), 'Ref pointing to the task this is a substask of', { qual: 'DynamicRO', default: 'OpaqueRef:NULL' }),
    field('subtasks', T.set(T.ref('task')), 'List pointing to all the substasks', { qual: 'DynamicRO', default: [] }),
    field('backtrace', T.string, 'Function call trace for debugging', { qual: 'DynamicRO', default: '()' }),
  ],
  messages: [
    { name: 'create', roles: 'read-only', params: [p('label', T.string), p('description', T.string)], result: T.ref('task'), doc: 'Create a task object that a client can use to report progress of its own work.', async: false },
    { name: 'destroy', roles: 'read-only', params: [p('self', T.ref('task'))], result: T.void, doc: 'Delete a task object.', async: false },
    { name: 'cancel', roles: 'read-only', params: [p('task', T.ref('task'))], result: T.void, readonly: true, doc: 'Ask the server to cancel a pending task; it ends as cancelled if it can be stopped.', async: true, errors: ['OPERATION_NOT_ALLOWED', 'TASK_CANCELLED'] },
    { name: 'add_to_other_config', roles: 'read-only', keyRoles: TASK_PROTECTED_KEYS, params: [p('self', T.ref('task')), p('key', T.string), p('value', T.string)], result: T.void, doc: 'Add a key/value pair to the task\'s other_config.', async: true, errors: ['MAP_DUPLICATE_KEY'] },
    { name: 'remove_from_other_config', roles: 'read-only', keyRoles: TASK_PROTECTED_KEYS, params: [p('self', T.ref('task')), p('key', T.string)], result: T.void, doc: 'Remove a key from the task\'s other_config, if present.', async: true },
    { name: 'set_other_config', roles: 'read-only', params: [p('self', T.ref('task')), p('value', T.smap)], result: T.void, doc: 'Replace the task\'s other_config.', async: true },
  ],
});
