// A throwaway npm registry on 127.0.0.1 serving exactly the production dependency tree this
// checkout has installed (`npm ls --parseable --all --omit=dev`), each package re-tarred from its
// node_modules directory. It lets a test run a real `npm install -g <tarball>` without reaching
// registry.npmjs.org (tests only talk to loopback). Packuments carry no integrity (npm computes
// and records it on first fetch), nor install scripts: the package under test runs its own, its
// dependencies none (their native builds come as this checkout made them). close() stops the
// server; the tarballs live under `dir`.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** A running local registry. */
export interface LocalRegistry {
  url: string;
  close(): Promise<void>;
}

/** Starts the registry for the production tree of `repo`; tarballs are written under `dir`. */
export async function startLocalRegistry(repo: string, dir: string): Promise<LocalRegistry> {
  const ls = await execa('npm', ['ls', '--parseable', '--all', '--omit=dev'], { cwd: repo, reject: false });
  const dirs = ls.stdout.split('\n').filter((l) => l.includes('/node_modules/'));
  await mkdir(dir, { recursive: true });
  const pkgs = new Map<string, Map<string, { manifest: Record<string, unknown>; tgz: string }>>();
  let i = 0;
  for (const d of [...new Set(dirs)]) {
    const manifest = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as Record<string, unknown>;
    const name = String(manifest.name);
    const version = String(manifest.version);
    if (pkgs.get(name)?.has(version)) continue;
    const tgz = join(dir, `${i++}.tgz`);
    // npm tarballs hold the package under package/; nested node_modules are other packages.
    await execa('tar', ['-czf', tgz, '--exclude=./node_modules', '--transform', 's,^\\.,package,', '-C', d, '.']);
    if (!pkgs.has(name)) pkgs.set(name, new Map());
    pkgs.get(name)!.set(version, { manifest, tgz });
  }
  const tarballs: string[] = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\//, '');
    const t = /^-\/tar\/(\d+)\.tgz$/.exec(path);
    if (t && tarballs[Number(t[1])]) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(readFileSync(tarballs[Number(t[1])]));
      return;
    }
    const versions = pkgs.get(path);
    if (!versions) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const out: Record<string, unknown> = {};
    let latest = '';
    for (const [v, p] of versions) {
      let k = tarballs.indexOf(p.tgz);
      if (k < 0) k = tarballs.push(p.tgz) - 1;
      // No install step for a dependency: neither its scripts nor npm's implicit `node-gyp rebuild`
      // for a binding.gyp (gypfile: false); its native build from this checkout is in its tarball.
      const { scripts: _s, ...m } = p.manifest;
      out[v] = { ...m, gypfile: false, dist: { tarball: `${base}/-/tar/${k}.tgz` } };
      latest = v;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name: path, versions: out, 'dist-tags': { latest } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
