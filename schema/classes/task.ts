import { T, f, p, type ClassDef, type KeyRoles } from '../types.js';

/** task.other_config keys that need vm-operator to add or remove (datamodel.ml protected_keys). */
const TASK_PROTECTED_KEYS: KeyRoles = [['applies_to', 'vm-operator'], ['XenCenterUUID', 'vm-operator'], ['XenCenterMeddlingActionTitle', 'vm-operator']];

export const task: ClassDef = {
  name: 'task',
  doc: 'A long-running operation; the result of every Async call.',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('name_label', T.string, 'DynamicRO', '', 'A human-readable name'),
    f('name_description', T.string, 'DynamicRO', '', 'A notes field containing human-readable description'),
    f('allowed_operations', T.set(T.enum('task_allowed_operations')), 'DynamicRO', [], 'List of the operations allowed in this state'),
    f('current_operations', T.map(T.string, T.enum('task_allowed_operations')), 'DynamicRO', {}, 'Links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task'),
    f('created', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time task was created'),
    f('finished', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time task finished (i.e'),
    f('status', T.enum('task_status_type'), 'DynamicRO', 'pending', 'Current status of the task'),
    f('session', T.ref('session'), 'DynamicRO', 'OpaqueRef:NULL', 'The session that created the task', { internal: true }),
    f('resident_on', T.ref('host'), 'DynamicRO', 'OpaqueRef:NULL', 'The host on which the task is running'),
    f('progress', T.float, 'DynamicRO', 0, 'This field contains the estimated fraction of the task which is complete'),
    f('externalpid', T.int, 'DynamicRO', 0, 'If the task has spawned a program, the field record the PID of the process that the task is waiting on', { internal: true }),
    f('stunnelpid', T.int, 'DynamicRO', 0, 'If the task has been forwarded, this field records the pid of the stunnel process spawned to manage the forwarding connection', { internal: true }),
    f('forwarded', T.bool, 'DynamicRO', false, 'True if this task has been forwarded to a slave', { internal: true }),
    f('forwarded_to', T.ref('host'), 'DynamicRO', 'OpaqueRef:NULL', 'The host to which the task has been forwarded', { internal: true }),
    f('type', T.string, 'DynamicRO', '', 'If the task has completed successfully, this field contains the type of the encoded result (i.e'),
    f('result', T.string, 'DynamicRO', '', 'If the task has completed successfully, this field contains the result value (either Void or an object reference)'),
    f('error_info', T.set(T.string), 'DynamicRO', [], 'If the task has failed, this field contains the set of associated error strings'),
    f('other_config', T.smap, 'DynamicRO', {}, 'Additional configuration', { keyRoles: TASK_PROTECTED_KEYS }),
    f('subtask_of', T.ref('task'), 'DynamicRO', 'OpaqueRef:NULL', 'Ref pointing to the task this is a substask of'),
    f('subtasks', T.set(T.ref('task')), 'DynamicRO', [], 'List pointing to all the substasks'),
    f('backtrace', T.string, 'DynamicRO', '()', 'Function call trace for debugging'),
  ],
  messages: [
    { name: 'create', roles: 'read-only', params: [p('label', T.string), p('description', T.string)], result: T.ref('task'), doc: 'Create a task object that a client can use to report progress of its own work.', async: false },
    { name: 'destroy', roles: 'read-only', params: [p('self', T.ref('task'))], result: T.void, doc: 'Delete a task object.', async: false },
    { name: 'cancel', roles: 'read-only', params: [p('task', T.ref('task'))], result: T.void, readonly: true, doc: 'Ask the server to cancel a pending task; it ends as cancelled if it can be stopped.', async: true, errors: ['OPERATION_NOT_ALLOWED', 'TASK_CANCELLED'] },
    { name: 'add_to_other_config', roles: 'read-only', keyRoles: TASK_PROTECTED_KEYS, params: [p('self', T.ref('task')), p('key', T.string), p('value', T.string)], result: T.void, doc: 'Add a key/value pair to the task\'s other_config.', async: true, errors: ['MAP_DUPLICATE_KEY'] },
    { name: 'remove_from_other_config', roles: 'read-only', keyRoles: TASK_PROTECTED_KEYS, params: [p('self', T.ref('task')), p('key', T.string)], result: T.void, doc: 'Remove a key from the task\'s other_config, if present.', async: true },
    { name: 'set_other_config', roles: 'read-only', params: [p('self', T.ref('task')), p('value', T.smap)], result: T.void, doc: 'Replace the task\'s other_config.', async: true },
  ],
};
