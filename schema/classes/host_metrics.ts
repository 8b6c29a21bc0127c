import { T, f, type ClassDef } from '../types.js';

export const host_metrics: ClassDef = {
  name: 'host_metrics',
  doc: 'Metrics of a host (memory, liveness).',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('memory_total', T.int, 'DynamicRO', 0, 'Total host memory (bytes)'),
    f('memory_free', T.int, 'DynamicRO', 0, 'Free host memory (bytes)'),
    f('live', T.bool, 'DynamicRO', false, 'Pool master thinks this host is live'),
    f('last_updated', T.datetime, 'DynamicRO', '19700101T00:00:00Z', 'Time at which this information was last updated'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
  ],
  messages: [
  ],
};
