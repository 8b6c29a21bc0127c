// keepTickShape (src/wire/http.ts): after a memory-reducing full collection, V8's cache for the
// computed keys of process.nextTick's queue entries turns generic for good (every entry, four
// per HTTP request, then made in V8's runtime) unless an entry is kept alive. Both sides are
// checked in a child Node with V8's own view of nextTick's feedback (%DebugPrint): the cache
// does turn generic without the fix (else this test would prove nothing), and stays with it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const dist = fileURLToPath(new URL('../../src/', import.meta.url));

/** The states of nextTick's computed-key caches after entries, a memory-reducing collection, more entries. */
function cacheStates(keep: boolean): string[] {
  const script = `
    import { releaseMemory } from ${JSON.stringify(`${dist}heap.js`)};
    import { keepTickShape } from ${JSON.stringify(`${dist}wire/http.js`)};
    if (${keep}) keepTickShape();
    const ticks = () => { for (let i = 0; i < 200; i++) process.nextTick(() => undefined); };
    ticks();
    // From timers, so no entry is still referenced by the tick loop's frame during the collection.
    setTimeout(() => {
      const freed = releaseMemory();
      if (typeof freed !== 'number') throw new Error(String(freed));
      setTimeout(() => { ticks(); setTimeout(() => %DebugPrint(process.nextTick), 1); }, 1);
    }, 1);`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return [...out.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1]);
}

describe('wire: nextTick entries keep their shape (keepTickShape)', () => {
  it('without it a memory-reducing collection makes the cache generic; with it the cache stays monomorphic', () => {
    const without = cacheStates(false);
    expect(without, 'the collection no longer poisons the cache: keepTickShape may be obsolete').to.include('MEGAMORPHIC');
    const kept = cacheStates(true);
    expect(kept.length).to.be.greaterThan(0);
    expect(
      kept.every((s) => s === 'MONOMORPHIC'),
      kept.join(' '),
    ).to.equal(true);
  });
});
