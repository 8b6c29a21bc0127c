import { T, defineClass, field, otherConfigField, uuidField } from '../types.js';

export const VIF_metrics = defineClass({
  name: 'VIF_metrics',
  doc: 'Metrics of a VIF (retained for compatibility; values are not maintained).',
  roles: { messages: 'vm-admin' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('io_read_kbs', T.float, 'Read bandwidth (KiB/s)', { qual: 'DynamicRO', default: 0 }),
    field('io_write_kbs', T.float, 'Write bandwidth (KiB/s)', { qual: 'DynamicRO', default: 0 }),
    field('last_updated', T.datetime, 'Time at which this information was last updated', { qual: 'DynamicRO' }),
    otherConfigField(),
  ],
  messages: [],
});
