// The memory the daemon gives back (native/heap.cc, built by `make build`). Start-up grows V8's
// young generation to its cap and fills old-space pages with garbage (the first start with many
// NICs most of all); V8 returns them by itself only after ~8 s without allocation, and a daemon
// under traffic at once never. Loading the addon also stops glibc from keeping each login's
// 16 MiB scrypt block per thread-pool thread.
import { loadAddon } from './native.js';

type Addon = { lowMemory(): void };
let addon: Addon | string | undefined;

/** Loads the addon (fixing glibc's mmap threshold); returns why it could not, or undefined. */
export function loadHeapAddon(): string | undefined {
  if (addon === undefined) {
    const l = loadAddon<Addon>('heap');
    addon = 'addon' in l ? l.addon : l.missing;
  }
  return typeof addon === 'string' ? addon : undefined;
}

/** Runs V8's memory-reducing full collection; returns the milliseconds it took, or why it could not. */
export function releaseMemory(): number | string {
  const missing = loadHeapAddon();
  if (missing !== undefined) return missing;
  const t0 = process.hrtime.bigint();
  (addon as Addon).lowMemory();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * The decision of releaseWhenIdle, one check at a time: `check(now)` reads `count()` (requests
 * served so far) and calls `release` on the first check without new requests after some, at most
 * once per `minGapMs`.
 */
export function idleReleaser(count: () => number, release: () => unknown, minGapMs: number): { check(now: number): void } {
  let last = count();
  let busy = false;
  let lastRelease = -Infinity;
  return {
    check(now: number) {
      const n = count();
      if (n !== last) {
        last = n;
        busy = true;
      } else if (busy && now - lastRelease >= minGapMs) {
        busy = false;
        lastRelease = now;
        release();
      }
    },
  };
}

/**
 * Gives memory back once the daemon goes idle: every `periodMs` (2 s) an idleReleaser check, at
 * most one release per `minGapMs` (30 s), so a client polling every few seconds does not get a
 * full collection each time. The timer does not keep the process alive. Returns a stop function.
 */
export function releaseWhenIdle(count: () => number, opts: { periodMs?: number; minGapMs?: number; release?: () => unknown } = {}): () => void {
  const r = idleReleaser(count, opts.release ?? releaseMemory, opts.minGapMs ?? 30_000);
  const timer = setInterval(() => r.check(Date.now()), opts.periodMs ?? 2000);
  timer.unref();
  return () => clearInterval(timer);
}
