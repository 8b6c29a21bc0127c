// A daemon without its optional addons (XND_NO_ADDONS, as an install without a C compiler has no
// dist/native/*.node): it says so once at start and still answers every call the same; bulk
// get_all_records replies (assembled in JavaScript instead of by native/assemble.c) are byte for
// byte what the general codec writes for the same records, read one by one with get_record.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SUCCESS_PREFIX_BYTES, SUCCESS_SUFFIX_BYTES, memberHead } from '../../src/wire/xmlrpc.js';
import { MAIN } from '../helpers/child.js';
import { until } from '../helpers/wait.js';
import { post, xmlCall, xmlSuccess } from './rawhttp.js';

describe('api/no-addons: a daemon without its addons', function () {
  this.timeout(60_000);

  it('XND_NO_ADDONS=assemble,heap: logs once that each is missing; get_all_records equals the general codec (get_record of each object)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xnd-noaddons-'));
    // 300 NICs: a PIF reply of more than one 256-record slice.
    const nics = Array.from({ length: 300 }, (_, i) => ({
      device: `eth${i}`,
      MAC: `02:00:5e:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      MTU: 1500,
      ...(i === 0 ? { management: true, ip: { mode: 'DHCP' } } : {}),
    }));
    writeFileSync(join(dir, 'inv.json'), JSON.stringify(nics));
    const proc = spawn(process.execPath, [MAIN, '--db', ':memory:', '--inventory', join(dir, 'inv.json'), '--listen', '127.0.0.1:0', '--log-level', 'info'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XND_NO_ADDONS: 'assemble,heap' },
    });
    let log = '';
    proc.stdout.on('data', (b: Buffer) => (log += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<void>((r) => proc.on('exit', () => r()));
    try {
      const port = Number(await until('the daemon to serve', () => /xenapi-netd http:\/\/127\.0\.0\.1:(\d+):/.exec(log)?.[1], 30_000));
      const value = (body: string) => body.slice(SUCCESS_PREFIX_BYTES, body.length - SUCCESS_SUFFIX_BYTES);
      const call = async (method: string, ...params: string[]) => {
        const r = await post(port, '/', xmlCall(method, ...params));
        expect(r.status, r.body).to.equal(200);
        return r.body;
      };
      const session = /<value>(OpaqueRef:[^<]+)<\/value>/.exec(await call('session.login_with_password', 'root', 'secret'))![1];
      for (const cls of ['PIF', 'network', 'host']) {
        // Twice: records assembled as they enter the cache, then from it.
        for (let round = 0; round < 2; round++) {
          const all = await call(`${cls}.get_all_records`, session);
          const refs = [...value(all).matchAll(/<member><name>(OpaqueRef:[^<]+)<\/name><value><struct>/g)].map((m) => m[1]);
          expect(refs.length, cls).to.be.at.least(cls === 'PIF' ? 300 : 1);
          let want = '<value><struct>';
          for (const ref of refs) want += `${memberHead(ref)}${value(await call(`${cls}.get_record`, session, ref))}</member>`;
          expect(all, `${cls} round ${round}`).to.equal(xmlSuccess(`${want}</struct></value>`));
        }
      }
      const lines = log.split('\n');
      expect(
        lines.filter((l) => /bulk XML-RPC replies are assembled in JavaScript.*the assemble addon is turned off \(XND_NO_ADDONS=assemble,heap\)/.test(l)),
        log,
      ).to.have.length(1);
      expect(
        lines.filter((l) => /memory is not given back.*the heap addon is turned off/.test(l)),
        log,
      ).to.have.length(1);
    } finally {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
