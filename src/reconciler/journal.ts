// The reconciler's journal: a `_journal` table in the daemon's own SQLite database. Before a plan
// touches the host, the plan's steps and the host state before it are written in a small SQLite
// transaction of their own (status `open`). The entry becomes `committed` inside the SQLite
// transaction that commits the API call (Txn.inCommit), so the two cannot disagree; if the plan
// failed (the backend undid it) or the commit failed (the reconciler undid it) it becomes `undone`.
// An entry still `open` at start-up is therefore a plan whose transaction never committed, applied
// wholly or partly before the daemon died: the daemon reconciles the host to the committed
// database (the state before) and closes the entry as `recovered`. Plans without an API
// transaction are journaled the same way (Reconciler.reconcile is their one way to the host):
// start-up's own plan, closed `committed` once applied, and a pool slave's applies, closed
// `committed` in the SQLite transaction that saves its lastState (so at start-up an open one means
// lastState is still the state before it).
import type Database from 'better-sqlite3';
import type { NetState, Step } from '../backends/backend.js';

export type JournalStatus = 'open' | 'committed' | 'undone' | 'recovered';

/** One journaled plan. */
export interface JournalEntry {
  id: number;
  /** Store generation before the API transaction (for inspection). */
  gen: number;
  /** Who asked for the plan: an API call's wire name, `host.apply_network_state` / `host.pool_slave_startup` (a pool slave), `start-up`; '' if unknown. */
  method: string;
  steps: Step[];
  /** The host's state read just before the plan was applied. */
  before: NetState;
  status: JournalStatus;
  /** ISO timestamps. */
  created: string;
  closed: string;
  /** Why it was closed the way it was (recovery details, failure text). */
  note: string;
}

interface RawEntry {
  id: number;
  gen: number;
  method: string;
  steps: string;
  before: string;
  status: JournalStatus;
  created: string;
  closed: string | null;
  note: string | null;
}

/** Closed entries kept for inspection; older ones are pruned when new ones are closed. */
const KEEP = 200;

export class Journal {
  private ins: Database.Statement;
  private upd: Database.Statement;
  private sel: Database.Statement;
  private all: Database.Statement;
  private prune: Database.Statement;

  constructor(readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS _journal (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      gen INTEGER NOT NULL,
      method TEXT NOT NULL,
      steps TEXT NOT NULL,
      before TEXT NOT NULL,
      status TEXT NOT NULL,
      created TEXT NOT NULL,
      closed TEXT,
      note TEXT)`);
    this.ins = db.prepare("INSERT INTO _journal (gen, method, steps, before, status, created) VALUES (?, ?, ?, ?, 'open', ?)");
    this.upd = db.prepare('UPDATE _journal SET status = ?, closed = ?, note = ? WHERE id = ?');
    this.sel = db.prepare("SELECT * FROM _journal WHERE status = 'open' ORDER BY id");
    this.all = db.prepare('SELECT * FROM _journal ORDER BY id DESC LIMIT ?');
    this.prune = db.prepare("DELETE FROM _journal WHERE status <> 'open' AND id <= (SELECT MAX(id) FROM _journal) - ?");
  }

  /** Journals a plan about to be applied (its own SQLite transaction, durable before the host is touched); returns its id. */
  open(gen: number, method: string, steps: Step[], before: NetState): number {
    const r = this.ins.run(gen, method, JSON.stringify(steps), JSON.stringify(before), new Date().toISOString());
    return Number(r.lastInsertRowid);
  }

  /** Closes an entry with its outcome. */
  close(id: number, status: Exclude<JournalStatus, 'open'>, note = ''): void {
    this.upd.run(status, new Date().toISOString(), note, id);
    if (id % 50 === 0) this.prune.run(KEEP);
  }

  /** Entries still open (a plan whose outcome was never recorded), oldest first. */
  openEntries(): JournalEntry[] {
    return (this.sel.all() as RawEntry[]).map(parse);
  }

  /** The newest `n` entries, newest first. */
  recent(n = 20): JournalEntry[] {
    return (this.all.all(n) as RawEntry[]).map(parse);
  }
}

function parse(r: RawEntry): JournalEntry {
  return {
    id: Number(r.id),
    gen: Number(r.gen),
    method: r.method,
    steps: JSON.parse(r.steps) as Step[],
    before: JSON.parse(r.before) as NetState,
    status: r.status,
    created: r.created,
    closed: r.closed ?? '',
    note: r.note ?? '',
  };
}
