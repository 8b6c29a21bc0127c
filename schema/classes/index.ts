// The classes of the datamodel, in the order they are listed and created.
import type { ClassDef } from '../types.js';
import { session } from './session.js';
import { pool } from './pool.js';
import { host } from './host.js';
import { network } from './network.js';
import { PIF } from './pif.js';
import { PIF_metrics } from './pif_metrics.js';
import { Bond } from './bond.js';
import { VLAN } from './vlan.js';
import { tunnel } from './tunnel.js';
import { VIF } from './vif.js';
import { VIF_metrics } from './vif_metrics.js';
import { VM } from './vm.js';
import { VM_metrics } from './vm_metrics.js';
import { VM_guest_metrics } from './vm_guest_metrics.js';
import { host_metrics } from './host_metrics.js';
import { task } from './task.js';
import { event } from './event.js';
import { user } from './user.js';
import { role } from './role.js';
import { subject } from './subject.js';

const all = [
  session,
  pool,
  host,
  network,
  PIF,
  PIF_metrics,
  Bond,
  VLAN,
  tunnel,
  VIF,
  VIF_metrics,
  VM,
  VM_metrics,
  VM_guest_metrics,
  host_metrics,
  task,
  event,
  user,
  subject,
  role,
] as const;

/** The classes as declared, with their literal types (schema/model.ts derives rows and messages from it). */
export type ClassSpecs = typeof all;
/** Every class, in creation order. */
export const classes: readonly ClassDef[] = all;

export {
  session,
  pool,
  host,
  network,
  PIF,
  PIF_metrics,
  Bond,
  VLAN,
  tunnel,
  VIF,
  VIF_metrics,
  VM,
  VM_metrics,
  VM_guest_metrics,
  host_metrics,
  task,
  event,
  user,
  subject,
  role,
};
