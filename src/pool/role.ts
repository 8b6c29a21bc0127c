// The pool role of this daemon, persisted in its own SQLite file next to the object tables
// (table _pool, key → JSON value), so a restart keeps it: master (the default) or slave of a
// master URL. A slave also keeps what it needs to run its host while the master is away: its
// host uuid, the master's refs, its token (what the master presents on calls to it), the pool
// secret (what it presents to the master) and the last NetState it applied. A master keeps the
// pool secret and, per slave host uuid, the daemon URL and token it registered. The last NetState
// is a row of its own (key `lastState`), written only when it is a new state: a slave saves its
// role after each start-up sync, and the state (~55 KB of JSON for 650 bridges) had been
// serialised and written again each time with it.
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { NetState } from '../backends/backend.js';

/** Everything a daemon remembers about its pool role. */
export interface RoleRecord {
  role: 'master' | 'slave';
  /** Slave: the master's address as configured (HOST_IS_SLAVE returns it) and its URL. */
  masterAddress?: string;
  masterUrl?: string;
  /** Slave: credentials for the first registration when started with --pool-user/--pool-password. */
  /** Slave: this host's ref in the master's database, and the master's host ref. */
  hostRef?: string;
  masterHost?: string;
  /** Both: the pool secret (master: generated; slave: received at registration). */
  secret?: string;
  /** Slave: what the master must present on pool-internal calls to this daemon. */
  token?: string;
  /** Slave: the last NetState applied on the master's behalf. */
  lastState?: NetState;
  /** Slave: the ticket seq the master sent lastState with (the base its deltas name); absent when not known. */
  stateSeq?: number;
}

/** A slave daemon as the master knows it. */
export interface Member {
  hostUuid: string;
  url: string;
  token: string;
}

/** A random secret (hex). */
export function newSecret(): string {
  return randomBytes(24).toString('hex');
}

/** The persisted role and member table of one daemon. */
export class RoleStore {
  private get: Database.Statement;
  private put: Database.Statement;
  private del: Database.Statement;
  private saveTx: (r: RoleRecord) => void;
  /** The state object the `lastState` row holds (states are never changed in place: a new state is a new object). */
  private savedState?: NetState;
  private memberGet: Database.Statement;
  private memberPut: Database.Statement;
  private memberDel: Database.Statement;
  private memberTokens: Database.Statement;

  constructor(db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS _pool (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    db.exec('CREATE TABLE IF NOT EXISTS _pool_members (host_uuid TEXT PRIMARY KEY, url TEXT NOT NULL, token TEXT NOT NULL)');
    this.get = db.prepare('SELECT value FROM _pool WHERE key = ?');
    this.put = db.prepare('INSERT OR REPLACE INTO _pool (key, value) VALUES (?, ?)');
    this.del = db.prepare('DELETE FROM _pool WHERE key = ?');
    // One SQLite transaction (a savepoint inside the caller's, as when a slave's apply closes its journal entry).
    this.saveTx = db.transaction((r: RoleRecord) => {
      const { lastState, ...rest } = r;
      this.put.run('role', JSON.stringify(rest));
      if (lastState === this.savedState) return;
      if (lastState === undefined) this.del.run('lastState');
      else this.put.run('lastState', JSON.stringify(lastState));
      this.savedState = lastState;
    });
    this.memberGet = db.prepare('SELECT host_uuid AS hostUuid, url, token FROM _pool_members WHERE host_uuid = ?');
    this.memberPut = db.prepare('INSERT OR REPLACE INTO _pool_members (host_uuid, url, token) VALUES (?, ?, ?)');
    this.memberTokens = db.prepare('SELECT token FROM _pool_members').pluck();
    this.memberDel = db.prepare('DELETE FROM _pool_members WHERE host_uuid = ?');
  }

  /** The stored role (master with no secret yet when nothing is stored). */
  load(): RoleRecord {
    const row = this.get.get('role') as { value: string } | undefined;
    const r = row ? (JSON.parse(row.value) as RoleRecord) : { role: 'master' as const };
    // A role saved before the state had a row of its own carries it inline: the next save writes the row.
    this.savedState = undefined;
    if (r.lastState === undefined) {
      const st = this.get.get('lastState') as { value: string } | undefined;
      if (st) r.lastState = this.savedState = JSON.parse(st.value) as NetState;
    }
    return r;
  }
  /** Stores the role, and its lastState if it is not the one stored (one SQLite transaction, durable before the call returns). */
  save(r: RoleRecord): void {
    this.saveTx(r);
  }
  /** The next save writes the state whatever it is (a transaction that saved it may have been rolled back since). */
  stateUnsure(): void {
    this.savedState = undefined;
  }
  /** The registered slave daemon of a host uuid. */
  member(hostUuid: string): Member | undefined {
    return this.memberGet.get(hostUuid) as Member | undefined;
  }
  /** Records (or updates) where a slave host's daemon listens and its token. */
  setMember(m: Member): void {
    this.memberPut.run(m.hostUuid, m.url, m.token);
  }
  /** Every registered slave's token (what --record redacts). */
  tokens(): string[] {
    return this.memberTokens.all() as string[];
  }
  /** Forgets a slave host (pool.eject). */
  dropMember(hostUuid: string): void {
    this.memberDel.run(hostUuid);
  }
}

/** What a forwarded state carries besides the state: the slave applies it only if `seq` is newer than the last it applied and its clock has not passed `deadline`. */
export interface Ticket {
  /** Increases with every state the master sends (microseconds of the master's clock, kept strictly increasing). */
  seq: number;
  /** The last moment (the slave's clock, as estimated by the master) the master still waits for the answer. */
  deadline: number;
  /** A start-up sync: the slave takes it whatever it applied before (the master may have restarted). */
  sync?: boolean;
}
