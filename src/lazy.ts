// Node modules loaded on their first use, not at start: node:https and node:tls (TLS with them)
// keep ~1 MB resident that an http-only, standalone daemon never needs (make bench, area memory).
import { createRequire } from 'node:module';
import type https from 'node:https';
import type tls from 'node:tls';

const requireCjs = createRequire(import.meta.url);

/** node:https, loaded by the first call (require caches it). */
export function lazyHttps(): typeof https {
  return requireCjs('node:https') as typeof https;
}

/** node:tls, loaded by the first call. */
export function lazyTls(): typeof tls {
  return requireCjs('node:tls') as typeof tls;
}
