import { T, defineClass, field, otherConfigField, uuidField } from '../types.js';

export const host_metrics = defineClass({
  name: 'host_metrics',
  doc: 'Metrics of a host (memory, liveness).',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('memory_total', T.int, 'Total host memory (bytes)', { qual: 'DynamicRO', default: 0 }),
    field('memory_free', T.int, 'Free host memory (bytes)', { qual: 'DynamicRO', default: 0 }),
    field('live', T.bool, 'Pool master thinks this host is live', { qual: 'DynamicRO', default: false }),
    field('last_updated', T.datetime, 'Time at which this information was last updated', { qual: 'DynamicRO', default: '19700101T00:00:00Z' }),
    otherConfigField(),
  ],
  messages: [],
});
