// The in-process pool fixture shared by the pool tests: nodes started in a test are stopped after it.
import { cleanupDirs, startNode, tempDir, type Node } from './nodes.js';
import { until } from './wait.js';

/** Mocha hooks giving each test a fresh directory and stopping every node it started, in reverse order. */
export function poolFixture() {
  const running: Node[] = [];
  const fx = {
    dir: '',
    /** Starts a node that the fixture stops after the test. */
    async start(o: Parameters<typeof startNode>[0]): Promise<Node> {
      const n = await startNode(o);
      running.push(n);
      return n;
    },
    /** Stops a node now (no longer stopped after the test). */
    async stop(n: Node): Promise<void> {
      running.splice(running.indexOf(n), 1);
      await n.stop();
    },
  };
  beforeEach(() => {
    fx.dir = tempDir();
  });
  afterEach(async () => {
    for (const n of running.splice(0)) await n.stop();
    cleanupDirs();
  });
  return fx;
}

/** Waits until slave `s` has finished `n` start-up syncs with its master. */
export const synced = (s: Node, n = 1) => until('slave start-up sync', () => (s.pool.agent?.syncs ?? 0) >= n, 10_000);
