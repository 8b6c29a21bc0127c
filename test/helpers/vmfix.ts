// Fixtures for VLAN/tunnel/network/VIF/VM tests: networks, VMs and VIFs made over the wire,
// plus the few records no XenAPI call makes (guest metrics, a raw bond as xapi's
// test_common.create_bond_pif makes it, a PIF's IP configuration) written straight
// into the store, as xapi's unit tests write their database.
import { expect } from 'chai';
import { NULL_REF, type Patch } from '../../src/store/store.js';
import { startHarness, type Harness } from './harness.js';

let macN = 0;

/** network.create with bridge "" (a fresh xapiN) unless given. */
export function makeNetwork(h: Harness, extra: Record<string, unknown> = {}): Promise<string> {
  return h.call('network.create', { name_label: 'net', name_description: '', MTU: 1500, other_config: {}, bridge: '', ...extra });
}

/** VM.create with defaults; `extra` overrides record fields. */
export function makeVM(h: Harness, extra: Record<string, unknown> = {}): Promise<string> {
  return h.call('VM.create', { name_label: 'vm', ...extra });
}

/** VIF.create with a fresh valid MAC unless given. */
export function makeVIF(h: Harness, vm: string, network: string, device = '0', extra: Record<string, unknown> = {}): Promise<string> {
  macN++;
  return h.call('VIF.create', {
    device,
    network,
    VM: vm,
    MAC: `02:00:00:00:${(macN >> 8).toString(16).padStart(2, '0')}:${(macN & 255).toString(16).padStart(2, '0')}`,
    MTU: 1500,
    other_config: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    ...extra,
  });
}

/** Gives the VM a VM_guest_metrics with the given capability fields (no XenAPI call makes one). */
export async function setGuestMetrics(h: Harness, vm: string, fields: Patch<'VM_guest_metrics'>): Promise<string> {
  return h.r.store.write((tx) => {
    const gm = tx.create('VM_guest_metrics', fields);
    tx.set('VM', vm, { guest_metrics: gm });
    return gm;
  });
}

/** Writes fields of any stored object directly (test hook, like xapi's Db.* in unit tests). */
export function setFields(h: Harness, cls: string, ref: string, patch: Record<string, unknown>): Promise<void> {
  return h.r.store.write((tx) => {
    tx.set(cls, ref, patch);
  });
}

/** A static IPv4 configuration on a PIF (what PIF.reconfigure_ip would store). */
export function giveIp(h: Harness, pif: string, ip = '198.51.100.10'): Promise<void> {
  return setFields(h, 'PIF', pif, { ip_configuration_mode: 'Static', IP: ip, netmask: '255.255.255.0', gateway: '', DNS: '' });
}

/** xapi's create_bond_pif fixture: a master PIF on a new network and a Bond over `members`, nothing plugged. */
export async function rawBond(h: Harness, members: string[]): Promise<{ bond: string; master: string; network: string }> {
  const network = await makeNetwork(h, { name_label: 'bond net' });
  return h.r.store.write((tx) => {
    const m0 = tx.get('PIF', members[0]);
    const master = tx.create('PIF', {
      device: 'bond0',
      device_name: 'bond0',
      network,
      host: m0.host,
      MAC: m0.MAC,
      MTU: 1500,
      VLAN: -1,
      metrics: NULL_REF,
      physical: false,
      currently_attached: false,
    });
    const bond = tx.create('Bond', { master, mode: 'active-backup', primary_slave: members[0], auto_update_mac: false });
    for (const m of members) tx.set('PIF', m, { bond_slave_of: bond, currently_attached: false });
    return { bond, master, network };
  });
}

/** Runs `fn`, expects it to fail with `expected`, and checks the database did not change. */
export async function failsAtomically(h: Harness, expected: string[], fn: () => Promise<string[]>): Promise<void> {
  const before = h.dump();
  const host = h.backend.host();
  expect(await fn()).to.deep.equal(expected);
  expect(h.dump()).to.deep.equal(before);
  expect(h.backend.host()).to.deep.equal(host);
}

/** A fresh VM with one VIF per network (devices 0, 1, ...), started unless `start` is false. */
export async function vmWithVifs(
  h: Harness,
  networks: string[],
  opts: { start?: boolean; vm?: Record<string, unknown> } = {},
): Promise<{ vm: string; vifs: string[] }> {
  const vm = await makeVM(h, opts.vm);
  const vifs: string[] = [];
  for (let i = 0; i < networks.length; i++) vifs.push(await makeVIF(h, vm, networks[i], String(i)));
  if (opts.start !== false) await h.call('VM.start', vm, false, false);
  return { vm, vifs };
}

/** The host matches the committed database: the reconciler would change nothing. */
export async function assertHostMatchesDb(h: Harness): Promise<void> {
  const r = await h.r.reconciler.plan(h.r.store);
  expect(r.lines).to.deep.equal([]);
}

/**
 * Registers a fresh harness per test, handed to `set`; after each test the reconciler must find
 * nothing left to change between the database and the simulated host, then the harness closes.
 */
export function freshHarnessEachTest(opts: Parameters<typeof startHarness>[0], set: (h: Harness) => void): void {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(opts);
    set(h);
  });
  afterEach(async () => {
    try {
      await assertHostMatchesDb(h);
    } finally {
      await h.close();
    }
  });
}
