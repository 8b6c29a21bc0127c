// event.from / event.inject / event.register / event.next / event.unregister, on top of the
// store's generations: an object changed after generation g is an add (created after g),
// a mod, or a del (tombstone), coalesced so each object appears once per reply.
import { T, Typed, classes, classByLower, type ClassDef } from '../../schema/index.js';
import { ApiError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { CallCtx, Impls } from './context.js';
import { recordOf } from './records.js';

/** A parsed subscription: whole classes, or single objects. */
interface Sub {
  all: boolean;
  classes: Set<string>;
  objects: Set<string>;
}

const evented = (c: ClassDef) => c.stored !== false && !!c.exposeGetAll && c.events !== false;

function parseSub(entries: readonly string[]): Sub {
  const sub: Sub = { all: false, classes: new Set(), objects: new Set() };
  for (const e of entries) {
    if (e === '*') {
      sub.all = true;
      continue;
    }
    const slash = e.indexOf('/');
    const name = slash < 0 ? e : e.slice(0, slash);
    if (name === '' || (slash >= 0 && slash === e.length - 1)) throw new ApiError('EVENT_SUBSCRIPTION_PARSE_FAILURE', [e]);
    const c = classByLower(name);
    if (!c || c.events === false) continue; // unknown classes are ignored, as xapi does; so are classes without events (session)
    if (slash < 0) sub.classes.add(c.name);
    else sub.objects.add(`${c.name}/${e.slice(slash + 1)}`);
  }
  return sub;
}

function matches(sub: Sub, cls: string, ref: string): boolean {
  if (sub.all) return evented(classByLower(cls)!);
  return sub.classes.has(cls) || sub.objects.has(`${cls}/${ref}`);
}

/** Formats a generation as an event.from token. */
export function token(gen: number): string {
  return `${String(gen).padStart(20, '0')},${'0'.padStart(20, '0')}`;
}

function parseToken(t: string): number {
  if (t === '') return -1;
  const m = /^(\d+)(,\d+)?$/.exec(t);
  if (!m) throw new ApiError('EVENT_FROM_TOKEN_PARSE_FAILURE', [t]);
  return Number(m[1]);
}

interface EventRec {
  gen: number;
  cls: string;
  ref: string;
  op: 'add' | 'mod' | 'del';
}

/** Events after generation `since` (-1: every object as add) matching `sub`. */
function collect(store: Store, sub: Sub, since: number): EventRec[] {
  const out: EventRec[] = [];
  if (since < 0) {
    for (const c of classes) {
      if (c.stored === false) continue;
      for (const ref of store.refs(c.name)) {
        if (matches(sub, c.name, ref)) out.push({ gen: store.gens(c.name, ref)![1], cls: c.name, ref, op: 'add' });
      }
    }
    return out.sort((a, b) => a.gen - b.gen);
  }
  const seen = new Set<string>();
  const log = store.log;
  for (let i = log.length - 1; i >= 0 && log[i].gen > since; i--) {
    const { cls, ref } = log[i];
    const key = `${cls}/${ref}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!matches(sub, cls, ref)) continue;
    const g = store.gens(cls, ref);
    if (g) out.push({ gen: g[1], cls, ref, op: g[0] > since ? 'add' : 'mod' });
    else {
      const t = store.tombstones.get(key);
      if (t && t.created <= since) out.push({ gen: t.gen, cls, ref, op: 'del' });
    }
  }
  return out.reverse();
}

function eventValue(store: Store, e: EventRec, legacy: boolean): Record<string, unknown> {
  const ev: Record<string, unknown> = {
    id: legacy ? new Typed(T.int, e.gen) : String(e.gen),
    timestamp: legacy ? String(Date.now() / 1000) : '0.0',
    class: e.cls.toLowerCase(),
    operation: e.op,
    ref: e.ref,
  };
  if (legacy) ev.obj_uuid = e.op === 'del' ? (store.tombstones.get(`${e.cls}/${e.ref}`)?.uuid ?? '') : String(store.find(e.cls, e.ref)?.uuid ?? '');
  if (e.op !== 'del') ev.snapshot = new Typed(T.record(e.cls), recordOf(store, e.cls, e.ref));
  return ev;
}

/** Waits for the next commit touching `sub`, or the timeout; resolves false on timeout. */
class Waiters {
  private list = new Set<{ sub: Sub; wake: () => void }>();
  constructor(store: Store) {
    store.onCommit((_gen, changes) => {
      for (const w of [...this.list]) {
        if (changes.some((c) => matches(w.sub, c.cls, c.ref))) {
          this.list.delete(w);
          w.wake();
        }
      }
    });
  }
  wait(sub: Sub, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const w = {
        sub,
        wake: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(
        () => {
          this.list.delete(w);
          resolve(false);
        },
        Math.min(Math.max(0, ms), 2 ** 31 - 1),
      ); // node fires longer timers after 1 ms
      this.list.add(w);
    });
  }
}

/** The legacy API's per-session registrations. */
interface Registration {
  sub: Sub;
  entries: Set<string>;
  last: number;
}

/** Builds the event class's implementations over a store. */
export function eventImpls(store: Store): Impls {
  const waiters = new Waiters(store);
  const regs = new Map<string, Registration>();
  const refCounts = () => {
    const m: Record<string, unknown> = Object.create(null);
    for (const c of classes) if (evented(c)) m[c.name.toLowerCase()] = new Typed(T.int32, store.count(c.name));
    return m;
  };
  const checkLost = (since: number) => {
    if (since >= 0 && (since < store.minValidGen || since > store.generation)) throw new ApiError('EVENTS_LOST', []);
  };
  return {
    'event.from': async (_ctx, { classes: entries, token: tok, timeout }) => {
      const sub = parseSub(entries);
      const since = parseToken(tok);
      checkLost(since);
      // NaN waits not at all; huge or infinite timeouts wait in timer-sized steps (see Waiters.wait).
      const deadline = Date.now() + (Number.isNaN(timeout) ? 0 : Math.max(0, timeout)) * 1000;
      for (;;) {
        const gen = store.generation;
        const evs = collect(store, sub, since);
        if (evs.length || Date.now() >= deadline) {
          return { events: evs.map((e) => eventValue(store, e, false)), valid_ref_counts: refCounts(), token: token(gen) };
        }
        await waiters.wait(sub, deadline - Date.now());
      }
    },
    'event.inject': (ctx, { class: cls, ref }) => {
      const c = classByLower(cls);
      if (!c || c.stored === false || !ctx.tx.exists(c.name, ref)) throw new ApiError('HANDLE_INVALID', [cls, ref]);
      ctx.tx.touch(c.name, ref);
      return token(store.generation);
    },
    'event.get_current_id': () => store.generation,
    'event.register': (ctx, { classes: entries }) => {
      const sub = parseSub(entries);
      const r = regs.get(ctx.session) ?? {
        sub: { all: false, classes: new Set<string>(), objects: new Set<string>() },
        entries: new Set<string>(),
        last: store.generation,
      };
      for (const e of entries) r.entries.add(e);
      if (sub.all) r.sub.all = true;
      for (const c of sub.classes) r.sub.classes.add(c);
      for (const o of sub.objects) r.sub.objects.add(o);
      regs.set(ctx.session, r);
    },
    'event.unregister': (ctx, { classes: entries }) => {
      const r = regs.get(ctx.session);
      if (!r) return;
      for (const e of entries) r.entries.delete(e);
      const sub = parseSub([...r.entries]);
      r.sub = sub;
    },
    'event.next': async (ctx: CallCtx) => {
      for (;;) {
        const r = regs.get(ctx.session);
        if (!r) throw new ApiError('SESSION_NOT_REGISTERED', [ctx.session]);
        if (r.last < store.minValidGen) throw new ApiError('EVENTS_LOST', []);
        const gen = store.generation;
        const evs = collect(store, r.sub, r.last);
        if (evs.length) {
          r.last = gen;
          return evs.map((e) => eventValue(store, e, true));
        }
        // event.next blocks until something happens; wake up now and then to notice logout.
        await waiters.wait(r.sub, 30_000);
        if (!store.find('session', ctx.session)) throw new ApiError('SESSION_INVALID', [ctx.session]);
      }
    },
  };
}
