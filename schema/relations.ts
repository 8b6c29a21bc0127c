// One-to-many relations between modelled classes: `one` is the stored Ref field, `many` the
// Set(Ref) on the other class, computed from it and never stored. Taken from xapi's
// all_relations (ocaml/idl/datamodel.ml), restricted to pairs whose both classes we model.
// VLAN.untagged_PIF / PIF.VLAN_master_of is deliberately absent: both sides are stored.
import type { RelationDef } from './types.js';

const rel = <const OC extends string, const OF extends string, const MC extends string, const MF extends string>(
  oneCls: OC,
  oneField: OF,
  manyCls: MC,
  manyField: MF,
) =>
  ({
    one: { cls: oneCls, field: oneField },
    many: { cls: manyCls, field: manyField },
  }) as const;

const all = [
  rel('VM', 'snapshot_of', 'VM', 'snapshots'),
  rel('VM', 'parent', 'VM', 'children'),
  rel('task', 'subtask_of', 'task', 'subtasks'),
  rel('task', 'session', 'session', 'tasks'),
  rel('PIF', 'bond_slave_of', 'Bond', 'slaves'),
  rel('Bond', 'master', 'PIF', 'bond_master_of'),
  rel('VLAN', 'tagged_PIF', 'PIF', 'VLAN_slave_of'),
  rel('tunnel', 'access_PIF', 'PIF', 'tunnel_access_PIF_of'),
  rel('tunnel', 'transport_PIF', 'PIF', 'tunnel_transport_PIF_of'),
  rel('VIF', 'VM', 'VM', 'VIFs'),
  rel('VIF', 'network', 'network', 'VIFs'),
  rel('PIF', 'host', 'host', 'PIFs'),
  rel('PIF', 'network', 'network', 'PIFs'),
  rel('VM', 'resident_on', 'host', 'resident_VMs'),
] as const satisfies readonly RelationDef[];

/** The relations with their literal types (schema/model.ts leaves computed sides out of rows). */
export type RelationSpecs = typeof all;
/** Every relation. */
export const relations: readonly RelationDef[] = all;
