// Backend selection by name (--backend).
import type { Backend } from './backend.js';
import { SimulatedBackend } from './simulated.js';

/** Options every backend may use. */
export interface BackendOptions {
  /** NICs of the simulated host (the inventory). */
  inventory: { device: string; MAC: string; MTU: number; carrier?: boolean }[];
  log?: { info(m: string): void; warn(m: string): void };
}

/** Creates the backend called `name`. */
export async function createBackend(name: string, o: BackendOptions): Promise<Backend> {
  switch (name) {
    case 'simulated':
      return new SimulatedBackend({ nics: o.inventory.map((n) => ({ device: n.device, MAC: n.MAC, MTU: n.MTU, carrier: n.carrier ?? true })) });
    default:
      throw new Error(`unknown backend ${name} (known: simulated)`);
  }
}
