// The final dump of a recording (--record): every record of the networking classes as the
// session left them, in the form JSON-RPC <class>.get_all_records returns (scripts/replay.ts
// fetches the replay's side that way and compares the two).
import type { View } from '../store/store.js';
import { T } from '../../schema/index.js';
import { stringifyValue } from '../wire/jsonrpc.js';
import { recordOf } from './records.js';

/** The classes a dump holds: the networking state a session can change. */
export const DUMP_CLASSES = ['pool', 'host', 'network', 'PIF', 'PIF_metrics', 'Bond', 'VLAN', 'tunnel', 'VIF'] as const;

/** A dump: class → ref → record (JSON values). */
export type Dump = Record<string, Record<string, Record<string, unknown>>>;

/** The dump of `db` as JSON text, encoded as JSON-RPC encodes get_all_records results. */
export function dumpJson(db: View): string {
  const parts = DUMP_CLASSES.map((cls) => {
    const recs: Record<string, unknown> = {};
    for (const [ref, row] of db.rows(cls)) recs[ref] = recordOf(db, cls, ref, row);
    return `${JSON.stringify(cls)}:${stringifyValue(recs, T.any)}`;
  });
  return `{${parts.join(',')}}`;
}
