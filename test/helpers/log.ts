// A logger for tests that keeps the lines an operator would read in the journal.
import type { Log } from '../../src/log.js';

/** A Log that keeps `<level> <message>` lines at info and above (debug is dropped, as the daemon's default level does). */
export function memLog(): { log: Log; lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { log: { error: keep('error'), warn: keep('warn'), info: keep('info'), debug: () => {} }, lines };
}
