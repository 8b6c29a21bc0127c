// VM: just enough of xapi_vm.ml / xapi_vm_lifecycle.ml / xapi_vm_helpers.ml for networking —
// records with defaults, power-state changes on this host (start, shutdown, suspend,
// resume, pause), the networks a start attaches, and the hosts a VM could start on.
import { v4 as uuidv4 } from 'uuid';
import type { Impls } from '../api/context.js';
import { now } from '../api/context.js';
import { ApiError } from '../errors.js';
import { NULL_REF, type Patch, type Txn, type View } from '../store/store.js';
import type { CtorOf, Ref } from '../../schema/index.js';
import { assertCanSeeNetworks, networkVisibleOn, vmNetworks } from './network.js';
import { attachNetworksForVm, updateVmVifsAllowedOperations } from './vif.js';

type PowerState = 'Halted' | 'Paused' | 'Running' | 'Suspended';

/** The power states each lifecycle operation starts from (xapi_vm_lifecycle.allowed_power_states). */
const ALLOWED: Record<string, PowerState[]> = {
  start: ['Halted'],
  start_on: ['Halted'],
  unpause: ['Paused'],
  resume: ['Suspended'],
  clean_shutdown: ['Running'],
  pause: ['Running'],
  suspend: ['Running'],
  shutdown: ['Paused', 'Suspended', 'Running'],
  hard_shutdown: ['Paused', 'Suspended', 'Running'],
};
/** Operations a control domain allows (the rest: OPERATION_NOT_ALLOWED). */
const DOM0_OPS = new Set(['start', 'start_on']);

/** True if the host is live (host_metrics.live) and enabled. */
function hostUsable(db: View, host: Ref<'host'>): boolean {
  const h = db.get('host', host);
  const m = db.find('host_metrics', h.metrics);
  return !!h.enabled && !!m && m.live === true;
}

/**
 * The hosts the VM could start on (xapi_vm_helpers.get_possible_hosts_for_vm):
 * scheduled_to_be_resident_on if set, else every live enabled host that can see, and
 * attach without a bond slave, all the VM's networks.
 */
export function possibleHosts(tx: View, vm: Ref<'VM'>): string[] {
  const row = tx.get('VM', vm);
  const sched = row.scheduled_to_be_resident_on;
  if (sched !== NULL_REF && tx.find('host', sched)) return [sched];
  const nets = vmNetworks(tx, vm);
  return tx.refs('host').filter((h) => {
    if (!hostUsable(tx, h)) return false;
    try {
      assertCanSeeNetworks(tx, vm, h, nets);
      return true;
    } catch (e) {
      if (e instanceof ApiError) return false;
      throw e;
    }
  });
}

/** xapi_vm_lifecycle.check_operation_error for the power operations, in its order. */
export function assertOperationValid(db: View, vm: Ref<'VM'>, op: string): void {
  const row = db.get('VM', vm);
  const ps = row.power_state as PowerState;
  const allowed = ALLOWED[op];
  if (!allowed.includes(ps)) {
    throw new ApiError('VM_BAD_POWER_STATE', [vm, allowed.map((s) => s.toLowerCase()).join(', '), ps.toLowerCase()]);
  }
  const cur = Object.entries(row.current_operations as Record<string, string>);
  if (cur.length) {
    const [t, o] = cur.length === 1 ? cur[0] : [`{${cur.map(([k]) => k).join(',')}}`, `{${cur.map(([, v]) => v).join(',')}}`];
    throw new ApiError('OTHER_OPERATION_IN_PROGRESS', ['VM', vm, o, t]);
  }
  if (row.is_a_template && !row.is_a_snapshot) throw new ApiError('VM_IS_TEMPLATE', [vm, op]);
  if (row.is_control_domain && !DOM0_OPS.has(op)) throw new ApiError('OPERATION_NOT_ALLOWED', ['This operation is not allowed on a control domain']);
}

/** The smallest domain id > 0 not used by a VM resident on `host`. */
function nextDomid(tx: Txn, host: Ref<'host'>): number {
  const used = new Set(tx.children('host', host, 'resident_VMs').map((v) => Number(tx.get('VM', v).domid)));
  let d = 1;
  while (used.has(d)) d++;
  return d;
}

/**
 * Makes the VM's domain exist on `host`: attaches the networks of all its VIFs (a bond
 * slave needed → CANNOT_PLUG_BOND_SLAVE, per the seed), then power state, residence,
 * domid, current domain type; `plugVifs` marks every VIF attached (start), resume keeps them.
 */
function bootOn(tx: Txn, vm: Ref<'VM'>, host: Ref<'host'>, paused: boolean, plugVifs: boolean): void {
  attachNetworksForVm(tx, vm, host);
  const row = tx.get('VM', vm);
  tx.set('VM', vm, {
    power_state: paused ? 'Paused' : 'Running',
    resident_on: host,
    scheduled_to_be_resident_on: NULL_REF,
    domid: nextDomid(tx, host),
  });
  const m = row.metrics;
  if (tx.find('VM_metrics', m)) {
    const dt = row.domain_type === 'unspecified' ? (row.HVM_boot_policy === '' ? 'pv' : 'hvm') : row.domain_type;
    tx.set('VM_metrics', m, { current_domain_type: dt, start_time: now(), last_updated: now() });
  }
  if (plugVifs) for (const v of tx.children('VM', vm, 'VIFs')) tx.set('VIF', v, { currently_attached: true });
  updateVmVifsAllowedOperations(tx, vm);
}

/** xapi_vm_lifecycle.force_state_reset: Halted and Suspended VMs have no residence and domid -1; Halted ones no attached VIFs. */
export function forceStateReset(tx: Txn, vm: Ref<'VM'>, state: PowerState): void {
  tx.set('VM', vm, { power_state: state });
  if (state === 'Halted') {
    for (const v of tx.children('VM', vm, 'VIFs')) tx.set('VIF', v, { currently_attached: false, reserved: false, current_operations: Object.create(null) });
    tx.set('VM', vm, { requires_reboot: false });
  }
  if (state === 'Halted' || state === 'Suspended') {
    tx.set('VM', vm, { resident_on: NULL_REF, scheduled_to_be_resident_on: NULL_REF, domid: -1 });
    const m = tx.get('VM', vm).metrics;
    if (state === 'Halted' && tx.find('VM_metrics', m)) tx.set('VM_metrics', m, { current_domain_type: 'unspecified' });
  }
  updateVmVifsAllowedOperations(tx, vm);
}

/** VM.start_on's host checks: the host must be usable and see every network of the VM. */
function assertCanBootHere(tx: Txn, vm: Ref<'VM'>, host: Ref<'host'>): void {
  const nets = vmNetworks(tx, vm);
  const unseen = nets.find((n) => !networkVisibleOn(tx, n, host));
  if (unseen) throw new ApiError('VM_REQUIRES_NETWORK', [vm, unseen]);
  if (!hostUsable(tx, host)) throw new ApiError('HOST_OFFLINE', [host]);
}

/** VM.create: the record with server-side fields as xapi_vm.create sets them, plus its VM_metrics. */
function create(tx: Txn, rec: CtorOf<'VM'>): string {
  const suspended = rec.power_state === 'Suspended';
  const metrics = tx.create('VM_metrics', { current_domain_type: suspended ? rec.domain_type : 'unspecified' });
  const domainType = rec.domain_type === 'unspecified' ? (rec.HVM_boot_policy === '' ? 'pv' : 'hvm') : rec.domain_type;
  // xapi_vm.create: a random mac_seed unless the caller gave one (VIF.create with MAC "" derives the MAC from it).
  const otherConfig = rec.other_config;
  const withSeed = 'mac_seed' in otherConfig ? otherConfig : Object.assign(Object.create(null), otherConfig, { mac_seed: uuidv4() });
  const fields = {
    ...rec,
    other_config: withSeed,
    power_state: suspended ? 'Suspended' : 'Halted',
    last_booted_record: suspended ? rec.last_booted_record : '',
    last_boot_CPU_flags: suspended ? rec.last_boot_CPU_flags : Object.create(null),
    suspend_VDI: suspended ? rec.suspend_VDI : NULL_REF,
    domain_type: domainType,
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    domid: -1,
    domarch: '',
    is_control_domain: false,
    metrics,
    guest_metrics: NULL_REF,
    allowed_operations: [],
    current_operations: Object.create(null),
    is_default_template: false,
  } satisfies Patch<'VM'>;
  const ref = tx.create('VM', fields);
  if (suspended && (Object.keys(fields.last_boot_CPU_flags).length === 0 || fields.last_booted_record === '' || fields.suspend_VDI === NULL_REF)) {
    throw new ApiError('VM_BAD_POWER_STATE', [ref, 'halted', 'suspended']);
  }
  return ref;
}

/** VM.start: the pool picks a host — here the only candidate is this host (NO_HOSTS_AVAILABLE if it cannot see the networks). */
function start(tx: Txn, vm: Ref<'VM'>, paused: boolean, localHost: Ref<'host'>): void {
  assertOperationValid(tx, vm, 'start');
  try {
    assertCanBootHere(tx, vm, localHost);
  } catch (e) {
    if (e instanceof ApiError) throw new ApiError('NO_HOSTS_AVAILABLE', []);
    throw e;
  }
  bootOn(tx, vm, localHost, paused, true);
}

/** xapi_vm_helpers.allowed_VIF_devices: 0..15 (HVM and PV alike), less the devices the VM's VIFs use. */
export function allowedVifDevices(db: View, vm: Ref<'VM'>): string[] {
  db.get('VM', vm);
  const used = new Set(db.children('VM', vm, 'VIFs').map((v) => db.get('VIF', v).device));
  return Array.from({ length: 16 }, (_, i) => String(i)).filter((d) => !used.has(d));
}

/**
 * xapi_vm.get_allowed_VBD_devices: disk numbers 0..254 (0..255 for a control domain) less those
 * VBDs use. This daemon has no VBDs (VM.VBDs is always empty), so nothing is taken away.
 */
export function allowedVbdDevices(db: View, vm: Ref<'VM'>): string[] {
  const last = db.get('VM', vm).is_control_domain ? 255 : 254;
  return Array.from({ length: last + 1 }, (_, i) => String(i));
}

/** Implementations of VM.create and the power operations. */
export const vmImpls: Impls = {
  'VM.create': (ctx, { args: rec }) => create(ctx.tx, rec),
  'VM.get_allowed_VIF_devices': (ctx, { vm }) => allowedVifDevices(ctx.db, vm),
  'VM.get_allowed_VBD_devices': (ctx, { vm }) => allowedVbdDevices(ctx.db, vm),
  'VM.start': (ctx, { vm, start_paused: paused }) => {
    start(ctx.tx, vm, paused, ctx.d.hostRef);
  },
  'VM.start_on': (ctx, { vm, host, start_paused: paused }) => {
    assertOperationValid(ctx.tx, vm, 'start_on');
    ctx.tx.get('host', host);
    assertCanBootHere(ctx.tx, vm, host);
    bootOn(ctx.tx, vm, host, paused, true);
  },
  'VM.resume': (ctx, { vm, start_paused: paused }) => {
    assertOperationValid(ctx.tx, vm, 'resume');
    try {
      assertCanBootHere(ctx.tx, vm, ctx.d.hostRef);
    } catch (e) {
      if (e instanceof ApiError) throw new ApiError('NO_HOSTS_AVAILABLE', []);
      throw e;
    }
    bootOn(ctx.tx, vm, ctx.d.hostRef, paused, false);
  },
  'VM.pause': (ctx, { vm }) => {
    assertOperationValid(ctx.tx, vm, 'pause');
    ctx.tx.set('VM', vm, { power_state: 'Paused' });
    updateVmVifsAllowedOperations(ctx.tx, vm);
  },
  'VM.unpause': (ctx, { vm }) => {
    assertOperationValid(ctx.tx, vm, 'unpause');
    ctx.tx.set('VM', vm, { power_state: 'Running' });
    updateVmVifsAllowedOperations(ctx.tx, vm);
  },
  'VM.clean_shutdown': (ctx, { vm }) => {
    assertOperationValid(ctx.tx, vm, 'clean_shutdown');
    forceStateReset(ctx.tx, vm, 'Halted');
  },
  'VM.hard_shutdown': (ctx, { vm }) => {
    assertOperationValid(ctx.tx, vm, 'hard_shutdown');
    forceStateReset(ctx.tx, vm, 'Halted');
  },
  'VM.shutdown': (ctx, { vm }) => {
    assertOperationValid(ctx.tx, vm, 'shutdown');
    forceStateReset(ctx.tx, vm, 'Halted');
  },
  'VM.suspend': (ctx, { vm }) => {
    assertOperationValid(ctx.tx, vm, 'suspend');
    forceStateReset(ctx.tx, vm, 'Suspended');
  },
};
