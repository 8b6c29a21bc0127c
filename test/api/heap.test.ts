// src/heap.ts and native/heap.cc: the addon builds and loads; its collection gives V8's grown
// young generation back; with it loaded, logins' scrypt blocks (16 MiB each, hashed on the
// thread pool) are returned to the system instead of staying in each thread's malloc arena.
import { expect } from 'chai';
import { scrypt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { idleReleaser, loadHeapAddon, releaseMemory, releaseWhenIdle } from '../../src/heap.js';

const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!;
const rssAnonMiB = () => Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const hash = () =>
  new Promise<void>((resolve, reject) => scrypt('secret', 'salt', 64, { N: 16384, r: 8, p: 1, maxmem: 64 << 20 }, (e) => (e ? reject(e) : resolve())));

describe('heap addon (src/heap.ts)', function () {
  this.timeout(60_000);

  it('is built and loads', () => {
    expect(loadHeapAddon()).to.equal(undefined);
  });

  it('gives the grown young generation back', () => {
    // Objects that survive scavenges make V8 grow the young generation.
    let keep: unknown[] = [];
    for (let round = 0; round < 20; round++) for (let i = 0; i < 50_000; i++) keep.push({ i, a: [i] });
    keep = [];
    const before = newSpace().physical_space_size;
    const ms = releaseMemory();
    expect(ms).to.be.a('number');
    const after = newSpace().physical_space_size;
    expect(keep).to.have.length(0);
    expect(before, 'the young generation did not grow: the test proves nothing').to.be.greaterThan(4 << 20);
    expect(after).to.be.lessThan(before / 2);
  });

  it('keeps scrypt blocks hashed on the thread pool from staying resident', async () => {
    expect(loadHeapAddon()).to.equal(undefined);
    // Four at once: one per thread-pool thread. Twice: glibc's raised threshold bites from the second.
    await Promise.all([hash(), hash(), hash(), hash()]);
    const before = rssAnonMiB();
    await Promise.all([hash(), hash(), hash(), hash()]);
    await Promise.all([hash(), hash(), hash(), hash()]);
    expect(rssAnonMiB() - before).to.be.lessThan(24);
  });

  it('idleReleaser: one release after traffic stops, none while it goes on or without new traffic, at most one per minGap', () => {
    let requests = 0;
    const releases: number[] = [];
    const r = idleReleaser(
      () => requests,
      () => releases.push(requests),
      30_000,
    );
    let t = 0;
    const tick = () => r.check((t += 2000));
    tick();
    expect(releases, 'no traffic yet').to.deep.equal([]);
    for (let i = 0; i < 5; i++) {
      requests += 3;
      tick();
    }
    expect(releases, 'while traffic goes on').to.deep.equal([]);
    tick();
    expect(releases, 'the first check after traffic stopped').to.deep.equal([15]);
    tick();
    tick();
    expect(releases, 'idle without new traffic').to.deep.equal([15]);
    requests++;
    tick();
    tick();
    expect(releases, 'new traffic within minGap of the last release').to.deep.equal([15]);
    t += 30_000;
    tick();
    expect(releases, 'after minGap').to.deep.equal([15, 16]);
  });

  it('releaseWhenIdle runs the checks on a timer and stops', async () => {
    let requests = 0;
    let releases = 0;
    const stop = releaseWhenIdle(() => requests, { periodMs: 10, minGapMs: 0, release: () => releases++ });
    requests++;
    await new Promise((r) => setTimeout(r, 500));
    stop();
    const after = releases;
    await new Promise((r) => setTimeout(r, 50));
    expect([after, releases]).to.deep.equal([1, 1]);
  });
});
