// --unix-socket: the same XML-RPC and JSON-RPC as on TCP, over a local socket where the kernel
// tells the daemon who the peer is (SO_PEERCRED). A root peer logs in as the local superuser
// with any password (xapi_session.ml, `Some `root`); anyone else needs the password, as on TCP.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startWire } from '../../src/wire/http.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const run = promisify(execFile);
const PY = '/usr/bin/python3';

/** One POST over the Unix socket with a plain HTTP client. */
function post(socketPath: string, path: string, contentType: string, body: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path, method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(parts).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const jsonCall = (method: string, params: unknown[]) => JSON.stringify({ jsonrpc: '2.0', method, params, id: 7 });
const xmlCall = (method: string, params: string[]) =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value><string>${p}</string></value></param>`).join('')}</params></methodCall>`;

// The socket transport of Debian's XenAPI.py (what xapi_local() uses, with our path): the
// host part of the URL is the socket path with '/' written as '_'. Debian's os-xenapi 0.3.4
// kept Python 2's send_request(connection, handler, body), which Python 3's xmlrpc.client
// calls with (host, handler, body, debug): the one-method fix xapi's own XenAPI.py has.
const PY_LOGIN = (user: string, pw: string) =>
  [
    'import sys, xmlrpc.client',
    'from os_xenapi.client import XenAPI',
    'class UDSTransport(XenAPI.UDSTransport):',
    '    def send_request(self, host, handler, request_body, debug):',
    '        return xmlrpc.client.Transport.send_request(self, host, handler, request_body, debug)',
    's = XenAPI.Session("http://" + sys.argv[1].replace("/", "_") + "/", transport=UDSTransport())',
    'try:',
    `    s.xenapi.login_with_password(${JSON.stringify(user)}, ${JSON.stringify(pw)}, "1.0", "unixsocket-test")`,
    'except XenAPI.Failure as f:',
    '    print("Failure", f.details)',
    '    sys.exit(0)',
    'me = s.xenapi.session.get_record(s._session)',
    'print(me["is_local_superuser"], repr(me["auth_user_name"]), me["originator"], me["this_host"] == s.xenapi.session.get_this_host(s._session))',
    'print(len(s.xenapi.PIF.get_all()), s.xenapi.host.get_software_version(s.xenapi.session.get_this_host(s._session))["platform_name"])',
    's.xenapi.session.logout()',
  ].join('\n');

describe('api/--unix-socket (local superuser login, SO_PEERCRED)', () => {
  let h: Harness;
  let dir: string;
  let sock: string;
  before(async function () {
    if (!existsSync('/usr/lib/python3/dist-packages/os_xenapi/client/XenAPI.py')) {
      throw new Error('python3-os-xenapi is not installed (make test-deps installs it)');
    }
    if (process.getuid?.() !== 0) throw new Error('these tests run as root (they compare root and nobody peers)');
    // No '_' in the path: XenAPI.py's socket transport spells '/' as '_'.
    dir = mkdtempSync(join(tmpdir(), 'xnd'));
    if (dir.includes('_')) throw new Error(`temporary directory ${dir} has a '_'`);
    sock = join(dir, 'xapi');
    h = await startHarness({ config: { unixSocket: sock } });
    // Let an unprivileged peer reach the socket: it must then log in with a password.
    chmodSync(dir, 0o755);
    chmodSync(sock, 0o666);
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('XenAPI.py over the socket as root: any password, a local-superuser session on this host', async () => {
    const { stdout, stderr } = await run(PY, ['-c', PY_LOGIN('root', ''), sock], { timeout: 30_000 });
    expect(stderr).to.equal('');
    expect(stdout).to.equal("True 'root' unixsocket-test True\n6 XCP\n");
    // Any user name and any password: the session carries the name given (xapi: auth_user_name = uname).
    const other = await run(PY, ['-c', PY_LOGIN('anyone', 'wrong'), sock], { timeout: 30_000 });
    expect(other.stdout).to.equal("True 'anyone' unixsocket-test True\n6 XCP\n");
  });

  it('a non-root peer (nobody) gets no passwordless login, and logs in with the password', async () => {
    const asNobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', PY, '-c'];
    const refused = await run('setpriv', [...asNobody, PY_LOGIN('root', ''), sock], { timeout: 30_000 });
    expect(refused.stdout).to.equal("Failure ['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']\n");
    const wrong = await run('setpriv', [...asNobody, PY_LOGIN('root', 'nope'), sock], { timeout: 30_000 });
    expect(wrong.stdout).to.equal("Failure ['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']\n");
    const ok = await run('setpriv', [...asNobody, PY_LOGIN('root', 'secret'), sock], { timeout: 30_000 });
    expect(ok.stdout).to.equal("True 'root' unixsocket-test True\n6 XCP\n");
  });

  it('a plain HTTP client on the socket: JSON-RPC on /jsonrpc and XML-RPC on /, as on TCP', async () => {
    const j = await post(sock, '/jsonrpc', 'application/json', jsonCall('session.login_with_password', ['root', '', '1.0', 'curl']));
    expect(j.status).to.equal(200);
    expect(j.type).to.equal('application/json');
    const session = JSON.parse(j.body).result as string;
    expect(session).to.match(/^OpaqueRef:[0-9a-f-]{36}$/);
    expect(await h.call('session.get_is_local_superuser', session)).to.equal(true);
    expect(await h.call('session.get_auth_user_name', session)).to.equal('root');

    const x = await post(sock, '/', 'text/xml', xmlCall('session.login_with_password', ['root', '']));
    expect(x.status).to.equal(200);
    expect(x.type).to.equal('text/xml');
    expect(x.body).to.match(/<name>Status<\/name><value>Success<\/value>.*OpaqueRef:[0-9a-f-]{36}/s);
    // The session works on TCP too: it is an ordinary session.
    const xs = /OpaqueRef:[0-9a-f-]{36}/.exec(x.body)![0];
    expect(await h.raw('PIF.get_all', xs)).to.have.length(6);

    // Calls other than login are the same as on TCP.
    const listed = await post(sock, '/jsonrpc', 'application/json', jsonCall('network.get_all', [session]));
    expect(JSON.parse(listed.body).result).to.have.members(await h.call('network.get_all'));
    const bad = await post(sock, '/jsonrpc', 'application/json', jsonCall('network.get_all', ['OpaqueRef:nope']));
    expect(JSON.parse(bad.body).error).to.deep.include({ message: 'SESSION_INVALID', data: ['OpaqueRef:nope'] });
  });

  it('over TCP, an empty password is refused even from root on this host', async () => {
    expect(await h.rawFails('session.login_with_password', 'root', '', '1.0', 'tcp')).to.deep.equal([
      'SESSION_AUTHENTICATION_FAILED',
      'root',
      'Authentication failure',
    ]);
  });

  it('the socket file is replaced if stale, refused if it is not a socket, and removed at close', async () => {
    const path = join(dir, 'second');
    const handler = { call: async () => ({ ok: false as const, error: ['X'] }) };
    const start = () => startWire({ host: '127.0.0.1', port: 0, maxBody: 1024, handler, unixSocket: path });
    const a = await start();
    expect(statSync(path).isSocket()).to.equal(true);
    await a.close();
    expect(existsSync(path)).to.equal(false);
    // A socket file left by a killed process (bound, never unlinked) is replaced.
    await run(PY, ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
    expect(statSync(path).isSocket()).to.equal(true);
    const b = await start();
    const r = await post(path, '/', 'text/xml', xmlCall('x', []));
    expect(r.body).to.include('<value>X</value>');
    await b.close();
    // Anything else at that path is not ours to delete.
    writeFileSync(path, 'not a socket');
    let err: Error | undefined;
    try {
      await start();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/exists and is not a socket/);
    expect(statSync(path).isFile()).to.equal(true);
  });
});
