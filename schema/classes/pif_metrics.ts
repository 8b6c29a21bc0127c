import { T, f, type ClassDef } from '../types.js';

export const PIF_metrics: ClassDef = {
  name: 'PIF_metrics',
  doc: 'Link-level metrics of a PIF (carrier, speed, device identification).',
  roles: { messages: 'pool-operator' },
  exposeGetAll: true,
  stored: true,
  fields: [
    f('uuid', T.string, 'DynamicRO', undefined, 'Unique identifier/object reference'),
    f('io_read_kbs', T.float, 'DynamicRO', 0, 'Read bandwidth (KiB/s)'),
    f('io_write_kbs', T.float, 'DynamicRO', 0, 'Write bandwidth (KiB/s)'),
    f('carrier', T.bool, 'DynamicRO', undefined, 'Report if the PIF got a carrier or not'),
    f('vendor_id', T.string, 'DynamicRO', undefined, 'Report vendor ID'),
    f('vendor_name', T.string, 'DynamicRO', undefined, 'Report vendor name'),
    f('device_id', T.string, 'DynamicRO', undefined, 'Report device ID'),
    f('device_name', T.string, 'DynamicRO', undefined, 'Report device name'),
    f('speed', T.int, 'DynamicRO', undefined, 'Speed of the link in Mbit/s (if available)'),
    f('duplex', T.bool, 'DynamicRO', undefined, 'Full duplex capability of the link (if available)'),
    f('pci_bus_path', T.string, 'DynamicRO', undefined, 'PCI bus path of the pif (if available)'),
    f('last_updated', T.datetime, 'DynamicRO', undefined, 'Time at which this information was last updated'),
    f('other_config', T.smap, 'RW', {}, 'Additional configuration'),
  ],
  messages: [
  ],
};
