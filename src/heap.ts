// Giving back the memory start-up leaves behind. Start-up grows V8's young generation to its cap
// and fills old-space pages with garbage (the first start with many NICs most of all); V8 returns
// them by itself only after ~8 s without allocation, and a daemon under traffic at once never.
// One memory-reducing collection when start-up is done (native/heap.cc, built by `make build`).
import { createRequire } from 'node:module';

type Addon = { lowMemory(): void };
let addon: Addon | string | undefined;

/**
 * Runs V8's memory-reducing full collection; returns the milliseconds it took, or why it could
 * not (the addon is not built).
 */
export function releaseMemory(): number | string {
  if (addon === undefined) {
    try {
      // dist/src/heap.js → dist/native/heap.node
      addon = createRequire(import.meta.url)('../native/heap.node') as Addon;
    } catch (e) {
      addon = `the heap addon is not built (make build compiles native/heap.cc): ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (typeof addon === 'string') return addon;
  const t0 = process.hrtime.bigint();
  addon.lowMemory();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
