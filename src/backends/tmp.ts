// Scratch files of backends: the openvswitch backend writes each `ip -batch` file into a fresh
// $TMPDIR/xnd-ip-XXXXXX directory and removes it when the batch ends; a daemon killed mid-plan
// leaves it behind. Start-up removes such leftovers.
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The prefix of the openvswitch backend's `ip -batch` scratch directories under $TMPDIR. */
export const IP_BATCH_PREFIX = 'xnd-ip-';

/**
 * Removes $TMPDIR/xnd-ip-* directories last modified more than `olderThanMs` ago (a batch lives
 * for milliseconds; the age keeps the directory of another daemon's batch in progress safe).
 * Resolves to the paths removed.
 */
export async function removeStaleIpBatchDirs(dir = tmpdir(), olderThanMs = 60_000): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  const limit = Date.now() - olderThanMs;
  for (const name of names) {
    if (!name.startsWith(IP_BATCH_PREFIX)) continue;
    const path = join(dir, name);
    try {
      const st = await stat(path);
      if (!st.isDirectory() || st.mtimeMs > limit) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      /* gone meanwhile, or not ours to remove */
    }
  }
  return removed;
}
