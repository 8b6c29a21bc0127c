import { T, f, type ClassDef } from '../types.js';

export const VIF_metrics: ClassDef = {
  name: 'VIF_metrics',
  doc: 'Metrics of a VIF (retained for compatibility; values are not maintained).',
  roles: { messages: 'vm-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('io_read_kbs', T.float, 'DynamicRO', 0, 'Read bandwidth (KiB/s)'),
    f('io_write_kbs', T.float, 'DynamicRO', 0, 'Write bandwidth (KiB/s)'),
    f('last_updated', T.datetime, 'DynamicRO', undefined, 'Time at which this information was last updated'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
  ],
  messages: [
  ],
};
