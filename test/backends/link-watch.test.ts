// tools/ip.ts's LinkWatch without root: `ip -o monitor link` lines as the kernel prints them, and
// when a watch says the devices it waits for are there (present, with the MAC they are to end with).
import { expect } from 'chai';
import { LinkWatch, parseLinkEvent } from '../../src/backends/tools/ip.js';
import type { Streaming } from '../../src/backends/tools/exec.js';

const NEW = '10: xapi0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default qlen 1000\\    link/ether a2:0f:55:c4:2b:e5 brd ff:ff:ff:ff:ff:ff';
const MAC_SET =
  '10: xapi0: <BROADCAST,MULTICAST,PROMISC> mtu 1500 qdisc noop state DOWN group default qlen 1000\\    link/ether 02:00:5E:00:53:10 brd ff:ff:ff:ff:ff:ff';
const GONE = 'Deleted 10: xapi0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 02:00:5e:00:53:10 brd ff:ff:ff:ff:ff:ff';
const VETH = '3: v0@v1: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN group default \\    link/ether 1e:02:d3:42:81:c0 brd ff:ff:ff:ff:ff:ff';

/** A monitor process stand-in: ends when stopped or when the test says so. */
function fakeProc(): Streaming & { end(): void; stopped: boolean } {
  let end!: () => void;
  const done = new Promise<void>((r) => (end = r));
  const p = {
    stopped: false,
    done,
    end: () => end(),
    stop: async () => {
      p.stopped = true;
      end();
      await done;
    },
  };
  return p;
}
const settled = async <T>(p: Promise<T>): Promise<T | 'pending'> => Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);

describe('backends/tools/ip LinkWatch (pure)', () => {
  it('LINKWATCH-01 parses new, changed and deleted links: name without @peer, MAC in lower case; other lines are ignored', () => {
    expect(parseLinkEvent(NEW)).to.deep.equal({ name: 'xapi0', deleted: false, mac: 'a2:0f:55:c4:2b:e5' });
    expect(parseLinkEvent(MAC_SET)).to.deep.equal({ name: 'xapi0', deleted: false, mac: '02:00:5e:00:53:10' });
    expect(parseLinkEvent(GONE)).to.deep.equal({ name: 'xapi0', deleted: true, mac: '02:00:5e:00:53:10' });
    expect(parseLinkEvent(VETH)).to.deep.equal({ name: 'v0', deleted: false, mac: '1e:02:d3:42:81:c0' });
    expect(parseLinkEvent('')).to.equal(undefined);
    expect(parseLinkEvent('    link/ether 02:00:5e:00:53:10 brd ff:ff:ff:ff:ff:ff')).to.equal(undefined);
  });

  it('LINKWATCH-02 present() waits for every device and for the MAC it is to end with, not the interim one', async () => {
    const w = new LinkWatch(fakeProc());
    const ready = w.present(['xapi0'], new Map([['xapi0', '02:00:5e:00:53:10']]));
    const any = w.present(['xapi0']);
    expect(await settled(ready)).to.equal('pending');
    w.line(NEW);
    expect(await settled(any)).to.equal(true);
    expect(await settled(ready)).to.equal('pending'); // the device's random MAC first
    w.line(MAC_SET);
    expect(await settled(ready)).to.equal(true);
    expect(w.deletions('xapi0')).to.equal(0);
  });

  it('LINKWATCH-03 a device deleted after it appeared is counted and no longer present until it comes back', async () => {
    const w = new LinkWatch(fakeProc());
    w.line(MAC_SET);
    w.line(GONE);
    expect(w.deletions('xapi0')).to.equal(1);
    const back = w.present(['xapi0']);
    expect(await settled(back)).to.equal('pending');
    w.line(NEW);
    expect(await settled(back)).to.equal(true);
  });

  it('LINKWATCH-04 a waiter gets false when the monitor ends or is stopped first, and stop() ends that one process', async () => {
    const p = fakeProc();
    const w = new LinkWatch(p);
    const waiting = w.present(['xapi0', 'xapi1']);
    w.line(MAC_SET);
    p.end(); // the monitor exited by itself
    expect(await waiting).to.equal(false);
    const q = fakeProc();
    const w2 = new LinkWatch(q);
    const waiting2 = w2.present(['xapi0']);
    await w2.stop();
    expect(q.stopped).to.equal(true);
    expect(await waiting2).to.equal(false);
    expect(await new LinkWatch(undefined).present(['xapi0'])).to.equal(false);
  });
});
