// A daemon in the test process: in-memory SQLite, the simulated backend, a free loopback
// port, and an XML-RPC client (the `xmlrpc` package, a client no one here wrote) that
// unwraps {Status, Value} and turns Failures into thrown XenAPIFailure with the exact
// ErrorDescription.
import xmlrpc from 'xmlrpc';
import { SimulatedBackend } from '../../src/backends/simulated.js';
import { DEFAULTS, DEMO_INVENTORY, type Config } from '../../src/config.js';
import { makeLogger, startDaemon, type Running } from '../../src/daemon.js';
import type { InventoryNic } from '../../src/xapi/startup.js';
import { NULL_REF } from '../../src/store/store.js';

/** A XenAPI Failure as a test sees it. */
export class XenAPIFailure extends Error {
  constructor(readonly details: string[]) {
    super(details.join(' '));
  }
}

export interface Harness {
  r: Running;
  backend: SimulatedBackend;
  url: string;
  /** The logged-in session. */
  session: string;
  /** Calls a session method: call('PIF.get_record', ref) sends (session, ref). */
  call<T = any>(method: string, ...params: unknown[]): Promise<T>;
  /** Calls without prepending the session. */
  raw<T = any>(method: string, ...params: unknown[]): Promise<T>;
  /** Expects a Failure; resolves to its ErrorDescription. */
  fails(method: string, ...params: unknown[]): Promise<string[]>;
  /** fails() without prepending the session. */
  rawFails(method: string, ...params: unknown[]): Promise<string[]>;
  /** Every stored object of every class, for before/after comparisons. */
  dump(): Record<string, Record<string, unknown>>;
  /** Refs by class and a field match, from the committed store. */
  find(cls: string, pred: (row: Record<string, unknown>) => boolean): string[];
  /** A PIF of this host by device name (physical, not VLAN). */
  pif(device: string): string;
  close(): Promise<void>;
}

/** Starts a daemon for one test file. */
export async function startHarness(opts: { inventory?: InventoryNic[]; config?: Partial<Config> } = {}): Promise<Harness> {
  const inventory = opts.inventory ?? DEMO_INVENTORY;
  const backend = new SimulatedBackend({ nics: inventory.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: n.carrier ?? true })) });
  const cfg: Config = { ...DEFAULTS, db: ':memory:', port: 0, authFailDelayMs: 10, inventory, hostname: 'testhost', logLevel: 'error', ...opts.config };
  const r = await startDaemon(cfg, { backend, log: makeLogger({ logLevel: 'error', logFile: '' }) });
  const client = xmlrpc.createClient({ host: '127.0.0.1', port: r.port, path: '/' });
  const raw = <T>(method: string, ...params: unknown[]): Promise<T> =>
    new Promise((resolve, reject) => {
      client.methodCall(method, params, (err: unknown, v: any) => {
        if (err) return reject(err);
        if (method === 'system.listMethods') return resolve(v);
        if (v?.Status === 'Success') return resolve(v.Value);
        if (v?.Status === 'Failure') return reject(new XenAPIFailure(v.ErrorDescription));
        reject(new Error(`reply without Status: ${JSON.stringify(v)}`));
      });
    });
  const session = await raw<string>('session.login_with_password', 'root', 'secret', '1.0', 'test');
  const h: Harness = {
    r,
    backend,
    url: r.url,
    session,
    call: (m, ...p) => raw(m, session, ...p),
    raw,
    fails: (m, ...p) => h.rawFails(m, session, ...p),
    async rawFails(m, ...p) {
      try {
        await raw(m, ...p);
      } catch (e) {
        if (e instanceof XenAPIFailure) return e.details;
        throw e;
      }
      throw new Error(`${m} succeeded but a Failure was expected`);
    },
    dump() {
      const out: Record<string, Record<string, unknown>> = {};
      for (const cls of [
        'pool',
        'host',
        'network',
        'PIF',
        'PIF_metrics',
        'Bond',
        'VLAN',
        'tunnel',
        'VIF',
        'VIF_metrics',
        'VM',
        'VM_metrics',
        'VM_guest_metrics',
        'host_metrics',
      ]) {
        out[cls] = {};
        for (const [ref, row] of r.store.rows(cls)) out[cls][ref] = JSON.parse(JSON.stringify(row));
      }
      return out;
    },
    find(cls, pred) {
      return [...r.store.rows(cls)].filter(([, row]) => pred(row as Record<string, unknown>)).map(([ref]) => ref);
    },
    pif(device) {
      const refs = h.find('PIF', (p) => p.device === device && p.VLAN === -1 && p.physical === true && p.host === r.d.hostRef);
      if (refs.length !== 1) throw new Error(`no single physical PIF ${device}`);
      return refs[0];
    },
    close: () => r.close(),
  };
  return h;
}

/** PIF.db_introduce's parameters, in xapi's order, for a managed physical PIF with no IP configuration and `properties`. */
export function dbIntroduceParams(device: string, network: string, host: string, MAC: string, properties: Record<string, string> = {}): unknown[] {
  return [device, network, host, MAC, 1500, -1, true, 'None', '', '', '', '', NULL_REF, NULL_REF, false, {}, false, 'None', [], '', 'IPv4', false, properties];
}

/** Polls task.get_record until the task leaves pending/cancelling; returns its record. */
export async function settleTask(h: Harness, task: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const r = await h.call('task.get_record', task);
    if (r.status !== 'pending' && r.status !== 'cancelling') return r;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`task ${task} never finished`);
}
