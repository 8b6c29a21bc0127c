// Loopback ports for tests that run two "hosts" on 127.0.0.1 and 127.0.0.2 with one port number.
import net from 'node:net';

/** A port free on both 127.0.0.1 and 127.0.0.2 (the master's and the other host's address). */
export async function portFreeOnBoth(): Promise<number> {
  for (;;) {
    const p = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.2', () => s.close(() => resolve(true)));
    });
    if (ok) return p;
  }
}
