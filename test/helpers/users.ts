// The test users: root / secret (the embedded default's hash) given explicitly, as a real
// backend requires (a daemon with a real backend and no --users refuses to start).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_USERS } from '../../src/config.js';

/** root / secret, as an explicit users list (not the embedded default). */
export const TEST_USERS = DEFAULT_USERS.map((u) => ({ ...u }));

/** Writes TEST_USERS to DIR/users.json (mode 0600) and returns its path, for --users. */
export function writeUsersFile(dir: string): string {
  const file = join(dir, 'users.json');
  writeFileSync(file, JSON.stringify(TEST_USERS), { mode: 0o600 });
  return file;
}
