// The persisted pool role (src/pool/role.ts): the slave's last applied state is a row of its own,
// written when it is a new state, not each time the role is saved; a role saved with the state
// inline (before it had its own row) still loads.
import { expect } from 'chai';
import Database from 'better-sqlite3';
import type { NetState } from '../../src/backends/backend.js';
import { RoleStore, type RoleRecord } from '../../src/pool/role.js';

const state = (bridge: string): NetState => ({ bridges: { [bridge]: { MTU: 1500 } } }) as unknown as NetState;
const row = (db: Database.Database, key: string) => (db.prepare('SELECT value FROM _pool WHERE key = ?').get(key) as { value: string } | undefined)?.value;

describe('pool: the role store', () => {
  let db: Database.Database;
  beforeEach(() => {
    db = new Database(':memory:');
  });
  afterEach(() => db.close());

  it('POOL-ROLE-01 the state is written with the role once; saving the role again leaves its row alone', () => {
    const roles = new RoleStore(db);
    const r: RoleRecord = { role: 'slave', masterUrl: 'http://192.0.2.1', lastState: state('xenbr0'), stateSeq: 7 };
    roles.save(r);
    expect(JSON.parse(row(db, 'role')!)).to.deep.equal({ role: 'slave', masterUrl: 'http://192.0.2.1', stateSeq: 7 });
    expect(JSON.parse(row(db, 'lastState')!)).to.deep.equal(state('xenbr0'));
    // A marker in the state row shows whether the next save writes it.
    db.prepare("UPDATE _pool SET value = '\"marker\"' WHERE key = 'lastState'").run();
    r.secret = 's3cret';
    roles.save(r);
    expect(JSON.parse(row(db, 'role')!).secret).to.equal('s3cret');
    expect(row(db, 'lastState')).to.equal('"marker"');
    // A new state is written; no state removes the row.
    r.lastState = state('xenbr1');
    roles.save(r);
    expect(JSON.parse(row(db, 'lastState')!)).to.deep.equal(state('xenbr1'));
    r.lastState = undefined;
    roles.save(r);
    expect(row(db, 'lastState')).to.equal(undefined);
    expect(new RoleStore(db).load()).to.deep.equal({ role: 'slave', masterUrl: 'http://192.0.2.1', stateSeq: 7, secret: 's3cret' });
  });

  it('POOL-ROLE-02 a load gives the role with its state; a role saved with the state inline loads, and the next save gives the state its row', () => {
    const roles = new RoleStore(db);
    roles.save({ role: 'slave', lastState: state('xenbr0') });
    expect(new RoleStore(db).load()).to.deep.equal({ role: 'slave', lastState: state('xenbr0') });
    // The old form: one row with the state in it.
    db.prepare("DELETE FROM _pool WHERE key = 'lastState'").run();
    db.prepare("UPDATE _pool SET value = ? WHERE key = 'role'").run(JSON.stringify({ role: 'slave', lastState: state('xenbr2') }));
    const old = new RoleStore(db);
    const r = old.load();
    expect(r).to.deep.equal({ role: 'slave', lastState: state('xenbr2') });
    old.save(r);
    expect(JSON.parse(row(db, 'role')!)).to.deep.equal({ role: 'slave' });
    expect(JSON.parse(row(db, 'lastState')!)).to.deep.equal(state('xenbr2'));
  });

  it('POOL-ROLE-03 a save in a transaction that rolls back: after stateUnsure the next save writes the state again', () => {
    const roles = new RoleStore(db);
    const r: RoleRecord = { role: 'slave', lastState: state('xenbr0') };
    roles.save(r);
    r.lastState = state('xenbr1');
    expect(() =>
      db.transaction(() => {
        roles.save(r);
        throw new Error('the journal close failed');
      })(),
    ).to.throw('the journal close failed');
    expect(JSON.parse(row(db, 'lastState')!)).to.deep.equal(state('xenbr0'));
    roles.stateUnsure();
    roles.save(r);
    expect(JSON.parse(row(db, 'lastState')!)).to.deep.equal(state('xenbr1'));
  });
});
