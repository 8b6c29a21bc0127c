// The credentials of the process at the other end of a Unix socket (SO_PEERCRED), through the
// small N-API addon in native/peercred.c (built into dist/native/ at install or by `make build`: scripts/build-addons.sh).
import { loadAddon } from '../native.js';
import type { Socket } from 'node:net';

/** What the kernel recorded for the peer when it connected. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

type Addon = { peerCred(fd: number): PeerCred };
let addon: Addon | Error | undefined;

function load(): Addon {
  if (addon === undefined) {
    const l = loadAddon<Addon>('peercred');
    addon = 'addon' in l ? l.addon : new Error(`--unix-socket needs the peercred addon: ${l.missing}`);
  }
  if (addon instanceof Error) throw addon;
  return addon;
}

/** Throws (with how to fix it) unless the addon can be loaded. */
export function assertPeerCredAvailable(): void {
  load();
}

/** The peer's credentials of a connected Unix stream socket; throws if they cannot be read. */
export function peerCred(socket: Socket): PeerCred {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return load().peerCred(fd);
}
