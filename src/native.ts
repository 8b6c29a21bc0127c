// The daemon's addons (native/*.c, *.cc; scripts/build-addons.sh compiles them into dist/native/
// with the C/C++ compiler against the running node's headers, run by `make build` and by the npm
// package's `install` script). Each is optional where the daemon has
// a way without it (heap: memory is not given back; assemble: bulk replies are assembled in
// JavaScript); peercred is needed only for --unix-socket. XND_NO_ADDONS=assemble,heap (or `all`)
// makes the named addons count as missing, as on an install without a compiler: for tests, and to
// rule an addon out when looking into a problem.
import { createRequire } from 'node:module';

/** The addons in dist/native/. */
export type AddonName = 'assemble' | 'heap' | 'peercred';

/** What loadAddon gives: the addon's exports, or why it is not there (one line). */
export type Loaded<T> = { addon: T } | { missing: string };

/** Loads dist/native/NAME.node, unless XND_NO_ADDONS names it; never throws. */
export function loadAddon<T>(name: AddonName, env: string | undefined = process.env.XND_NO_ADDONS): Loaded<T> {
  const off = (env ?? '').split(',').map((s) => s.trim());
  if (off.includes(name) || off.includes('all')) return { missing: `the ${name} addon is turned off (XND_NO_ADDONS=${env})` };
  try {
    // dist/src/native.js → dist/native/NAME.node
    return { addon: createRequire(import.meta.url)(`../native/${name}.node`) as T };
  } catch (e) {
    return {
      missing: `the ${name} addon is not built (compiled from native/ at install or by make build, with a C/C++ compiler: docs/install.md, Addons): ${(e as Error).message.split('\n')[0]}`,
    };
  }
}
