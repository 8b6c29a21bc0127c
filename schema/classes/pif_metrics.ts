import { T, defineClass, field, otherConfigField, uuidField } from '../types.js';

export const PIF_metrics = defineClass({
  name: 'PIF_metrics',
  doc: 'Link-level metrics of a PIF (carrier, speed, device identification).',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    uuidField,
    field('io_read_kbs', T.float, 'Read bandwidth (KiB/s)', { qual: 'DynamicRO', default: 0 }),
    field('io_write_kbs', T.float, 'Write bandwidth (KiB/s)', { qual: 'DynamicRO', default: 0 }),
    field('carrier', T.bool, 'Report if the PIF got a carrier or not', { qual: 'DynamicRO' }),
    field('vendor_id', T.string, 'Report vendor ID', { qual: 'DynamicRO' }),
    field('vendor_name', T.string, 'Report vendor name', { qual: 'DynamicRO' }),
    field('device_id', T.string, 'Report device ID', { qual: 'DynamicRO' }),
    field('device_name', T.string, 'Report device name', { qual: 'DynamicRO' }),
    field('speed', T.int, 'Speed of the link in Mbit/s (if available)', { qual: 'DynamicRO' }),
    field('duplex', T.bool, 'Full duplex capability of the link (if available)', { qual: 'DynamicRO' }),
    field('pci_bus_path', T.string, 'PCI bus path of the pif (if available)', { qual: 'DynamicRO' }),
    field('last_updated', T.datetime, 'Time at which this information was last updated', { qual: 'DynamicRO' }),
    otherConfigField(),
  ],
  messages: [],
});
