// The protocol over real HTTP: every standard error in xapi's dispatch order with its exact
// ErrorDescription, the HTTP surface (paths, content types, CORS, 403/413/500), hostile
// input that must never stop the daemon, and system.listMethods.
import net from 'node:net';
import { expect } from 'chai';
import { T } from '../../schema/index.js';
import { XenAPIFailure, startHarness, type Harness } from '../helpers/harness.js';
import { jsonCall, post, request, xmlCall, xmlFailure, xmlSuccess } from './rawhttp.js';

describe('api/protocol: errors in xapi dispatch order', () => {
  let h: Harness;
  let net0: string;
  before(async () => {
    h = await startHarness();
    net0 = h.find('network', (r) => r.bridge === 'xenbr0')[0];
  });
  after(async () => {
    await h.close();
  });

  it('MESSAGE_METHOD_UNKNOWN [name] for an unknown method without params', async () => {
    expect(await h.rawFails('no.such_method')).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'no.such_method']);
  });
  it('MESSAGE_METHOD_UNKNOWN [name] for an unknown method with a valid session', async () => {
    expect(await h.fails('PIF.no_such_message', 'x')).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'PIF.no_such_message']);
  });
  it('SESSION_INVALID [ref] first when an unknown method has a bad session as first param', async () => {
    expect(await h.rawFails('no.such_method', 'OpaqueRef:bogus')).to.deep.equal(['SESSION_INVALID', 'OpaqueRef:bogus']);
  });
  it('MESSAGE_METHOD_UNKNOWN keeps the Async. prefix as sent', async () => {
    expect(await h.fails('Async.no.such')).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'Async.no.such']);
  });
  it('system.methodSignature and system.multicall are unknown methods', async () => {
    expect(await h.rawFails('system.methodSignature')).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'system.methodSignature']);
    expect(await h.rawFails('system.multicall')).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'system.multicall']);
  });

  it('MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received] counting params after the session', async () => {
    const pif = h.pif('eth0');
    expect(await h.fails('PIF.get_record')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'PIF.get_record', '1', '0']);
    expect(await h.fails('PIF.get_record', pif, pif)).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'PIF.get_record', '1', '2']);
    expect(await h.fails('pool.get_all', 'x')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'pool.get_all', '0', '1']);
  });
  it('MESSAGE_PARAMETER_COUNT_MISMATCH reports -1 received for a session method called with no params at all', async () => {
    expect(await h.rawFails('PIF.get_record')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'PIF.get_record', '1', '-1']);
    expect(await h.rawFails('pool.get_all')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'pool.get_all', '0', '-1']);
  });
  it('MESSAGE_PARAMETER_COUNT_MISMATCH for login_with_password with 1 arg (2 required)', async () => {
    expect(await h.rawFails('session.login_with_password', 'root')).to.deep.equal([
      'MESSAGE_PARAMETER_COUNT_MISMATCH',
      'session.login_with_password',
      '2',
      '1',
    ]);
    expect(await h.rawFails('session.login_with_password')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'session.login_with_password', '2', '0']);
  });
  it('arity is checked before the session', async () => {
    expect(await h.rawFails('PIF.get_record', 'OpaqueRef:bogus', 'a', 'b')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'PIF.get_record', '1', '2']);
  });
  it('the Async. form has the same arity check, named without the prefix', async () => {
    expect(await h.fails('Async.network.create')).to.deep.equal(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'network.create', '1', '0']);
  });

  it('FIELD_TYPE_ERROR [param] for a value of the wrong type', async () => {
    expect(await h.fails('network.set_MTU', net0, 'abc')).to.deep.equal(['FIELD_TYPE_ERROR', 'value']);
    expect(await h.fails('network.set_MTU', net0, 1.5)).to.deep.equal(['FIELD_TYPE_ERROR', 'value']);
    expect(await h.fails('network.set_name_label', net0, 5)).to.deep.equal(['FIELD_TYPE_ERROR', 'value']);
    expect(await h.fails('network.set_tags', net0, 'x')).to.deep.equal(['FIELD_TYPE_ERROR', 'value']);
    expect(await h.fails('network.set_other_config', net0, ['x'])).to.deep.equal(['FIELD_TYPE_ERROR', 'value']);
    expect(await h.fails('PIF.get_record', 42)).to.deep.equal(['FIELD_TYPE_ERROR', 'self']);
  });
  it('type errors come before the session check', async () => {
    expect(await h.rawFails('network.set_MTU', 'OpaqueRef:bogus', net0, 'abc')).to.deep.equal(['FIELD_TYPE_ERROR', 'value']);
  });
  it('accepts an int sent as a numeric string (Python and XO send int64 that way)', async () => {
    const n = await h.call('network.create', { name_label: 'mtu-str', other_config: {} });
    await h.call('network.set_MTU', n, '9000');
    expect(await h.call('network.get_MTU', n)).to.equal('9000');
    await h.call('network.destroy', n);
  });

  it('SESSION_INVALID [ref] for a bogus, a non-string and a logged-out session', async () => {
    expect(await h.rawFails('pool.get_all', 'OpaqueRef:bogus')).to.deep.equal(['SESSION_INVALID', 'OpaqueRef:bogus']);
    expect(await h.rawFails('pool.get_all', 7)).to.deep.equal(['SESSION_INVALID', '7']);
    const s = await h.raw<string>('session.login_with_password', 'root', 'secret');
    await h.raw('session.logout', s);
    expect(await h.rawFails('pool.get_all', s)).to.deep.equal(['SESSION_INVALID', s]);
  });

  it('HANDLE_INVALID [class, ref] for OpaqueRef:NULL, garbage and a ref of another class', async () => {
    expect(await h.fails('PIF.get_record', 'OpaqueRef:NULL')).to.deep.equal(['HANDLE_INVALID', 'PIF', 'OpaqueRef:NULL']);
    expect(await h.fails('Bond.get_record', 'garbage')).to.deep.equal(['HANDLE_INVALID', 'Bond', 'garbage']);
    expect(await h.fails('PIF.get_MTU', net0)).to.deep.equal(['HANDLE_INVALID', 'PIF', net0]);
    expect(await h.fails('network.set_name_label', 'OpaqueRef:NULL', 'x')).to.deep.equal(['HANDLE_INVALID', 'network', 'OpaqueRef:NULL']);
  });

  it('UUID_INVALID [class, uuid] for get_by_uuid of an unknown uuid or a uuid of another class', async () => {
    expect(await h.fails('network.get_by_uuid', 'f00')).to.deep.equal(['UUID_INVALID', 'network', 'f00']);
    const pifUuid = await h.call<string>('PIF.get_uuid', h.pif('eth1'));
    expect(await h.fails('network.get_by_uuid', pifUuid)).to.deep.equal(['UUID_INVALID', 'network', pifUuid]);
  });

  it('MAP_DUPLICATE_KEY [class, field, ref, key] for add_to_ of an existing key', async () => {
    await h.call('network.add_to_other_config', net0, 'dup', 'a');
    expect(await h.fails('network.add_to_other_config', net0, 'dup', 'b')).to.deep.equal(['MAP_DUPLICATE_KEY', 'network', 'other_config', net0, 'dup']);
    expect((await h.call('network.get_other_config', net0)).dup).to.equal('a');
    await h.call('network.remove_from_other_config', net0, 'dup');
  });

  it('INVALID_VALUE [expr, reason] for a get_all_records_where expression that does not parse', async () => {
    for (const expr of ['field "x" =', 'field "management" = "true" and', '(field "a" = "b"', '"unterminated', 'a ! b']) {
      const d = await h.fails('PIF.get_all_records_where', expr);
      expect(d[0], expr).to.equal('INVALID_VALUE');
      expect(d[1], expr).to.equal(expr);
      expect(d).to.have.length(3);
    }
  });

  it('SESSION_AUTHENTICATION_FAILED [user, msg] for a wrong password and an unknown user', async () => {
    expect(await h.rawFails('session.login_with_password', 'root', 'wrong', '1.0', 't')).to.deep.equal([
      'SESSION_AUTHENTICATION_FAILED',
      'root',
      'Authentication failure',
    ]);
    expect(await h.rawFails('session.login_with_password', 'nobody', 'secret')).to.deep.equal([
      'SESSION_AUTHENTICATION_FAILED',
      'nobody',
      'Authentication failure',
    ]);
  });

  it('["Fault", "No async mode for this operation (rpc: X)"] for Async of a getter, after the session check', async () => {
    expect(await h.fails('Async.PIF.get_record', h.pif('eth0'))).to.deep.equal(['Fault', 'No async mode for this operation (rpc: PIF.get_record)']);
    expect(await h.fails('Async.pool.get_all_records')).to.deep.equal(['Fault', 'No async mode for this operation (rpc: pool.get_all_records)']);
    expect(await h.rawFails('Async.PIF.get_record', 'OpaqueRef:bogus', h.pif('eth0'))).to.deep.equal(['SESSION_INVALID', 'OpaqueRef:bogus']);
  });

  it('INTERNAL_ERROR [message] carries no stack trace', async () => {
    h.r.dispatcher.methods.set('pool.test_boom', {
      wire: 'pool.test_boom',
      cls: 'pool',
      generated: false,
      write: false,
      msg: { name: 'test_boom', params: [], result: T.void, doc: '' },
      impl: () => (undefined as unknown as { x: { y: number } }).x.y,
    });
    h.r.dispatcher.methods.set('pool.test_boom_write', {
      wire: 'pool.test_boom_write',
      cls: 'pool',
      generated: false,
      write: true,
      msg: { name: 'test_boom_write', params: [], result: T.void, doc: '' },
      impl: (ctx) => {
        ctx.tx.set('pool', h.r.d.poolRef, { name_label: 'never' });
        throw new Error('disk on fire');
      },
    });
    try {
      const d = await h.fails('pool.test_boom');
      expect(d).to.deep.equal(['INTERNAL_ERROR', "Cannot read properties of undefined (reading 'x')"]);
      expect(await h.fails('pool.test_boom_write')).to.deep.equal(['INTERNAL_ERROR', 'disk on fire']);
      expect(h.r.store.get('pool', h.r.d.poolRef).name_label).not.to.equal('never');
    } finally {
      h.r.dispatcher.methods.delete('pool.test_boom');
      h.r.dispatcher.methods.delete('pool.test_boom_write');
    }
  });

  it('accepts the legacy Class_message spelling', async () => {
    expect((await h.call<string[]>('PIF_get_all')).length).to.equal(6);
  });
});

describe('api/protocol: HTTP', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { maxBody: 64 * 1024 } });
  });
  after(async () => {
    await h.close();
  });

  for (const path of ['/', '/RPC2', '/xmlrpc', '/json', '/anything/deeper?x=1']) {
    it(`answers XML-RPC on POST ${path} with Content-Type exactly text/xml and a Content-Length`, async () => {
      const r = await post(h.r.port, path, xmlCall('pool.get_all', h.session));
      expect(r.status).to.equal(200);
      expect(r.headers['content-type']).to.equal('text/xml');
      expect(Number(r.headers['content-length'])).to.equal(Buffer.byteLength(r.body));
      // xapi sends Access-Control-Allow-Origin: * everywhere; here only allowed origins get CORS headers (docs/security.md, compat.md).
      expect(r.headers).to.not.have.property('access-control-allow-origin');
      expect(r.body).to.equal(xmlSuccess(`<value><array><data><value>${h.r.d.poolRef}</value></data></array></value>`));
    });
  }

  it('answers an XML-RPC Failure with HTTP 200 and text/xml', async () => {
    const r = await post(h.r.port, '/', xmlCall('PIF.get_record', h.session, 'OpaqueRef:NULL'));
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('text/xml');
    expect(r.body).to.equal(xmlFailure(['HANDLE_INVALID', 'PIF', 'OpaqueRef:NULL']));
  });

  it('answers JSON-RPC v2 and v1 on /jsonrpc with Content-Type exactly application/json', async () => {
    const r = await post(h.r.port, '/jsonrpc', jsonCall('pool.get_all', [h.session], 5), { 'Content-Type': 'application/json' });
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('application/json');
    expect(r.body).to.equal(`{"jsonrpc":"2.0","result":["${h.r.d.poolRef}"],"id":5}`);
    const f = await post(h.r.port, '/jsonrpc', JSON.stringify({ method: 'PIF.get_record', params: [h.session, 'OpaqueRef:NULL'], id: 'x' }));
    expect(f.headers['content-type']).to.equal('application/json');
    expect(f.body).to.equal('{"result":null,"error":["HANDLE_INVALID","PIF","OpaqueRef:NULL"],"id":"x"}');
    const g = await post(h.r.port, '/jsonrpc', jsonCall('PIF.get_record', [h.session, 'OpaqueRef:NULL']));
    expect(g.body).to.equal('{"jsonrpc":"2.0","error":{"code":1,"message":"HANDLE_INVALID","data":["PIF","OpaqueRef:NULL"]},"id":0}');
  });

  it('JSON-RPC sends ints as numbers and bools as booleans', async () => {
    const r = await post(h.r.port, '/jsonrpc', jsonCall('PIF.get_record', [h.session, h.pif('eth0')]));
    const rec = JSON.parse(r.body).result;
    expect(rec.MTU).to.equal(1500);
    expect(rec.VLAN).to.equal(-1);
    expect(rec.management).to.equal(true);
    expect(rec.bond_master_of).to.deep.equal([]);
  });

  it('answers OPTIONS (no Origin) with 200, Allow-Methods and no body; CORS headers only for allowed origins', async () => {
    for (const path of ['/', '/jsonrpc']) {
      const r = await request(h.r.port, 'OPTIONS', path);
      expect(r.status).to.equal(200);
      expect(r.headers).to.not.have.property('access-control-allow-origin'); // no Origin: not a browser, no CORS (test/security/http.test.ts)
      expect(r.headers['access-control-allow-methods']).to.equal('PUT');
      expect(r.body).to.equal('');
    }
  });

  it('answers GET (and PUT, DELETE) with 403', async () => {
    for (const m of ['GET', 'PUT', 'DELETE']) expect((await request(h.r.port, m, '/')).status, m).to.equal(403);
  });

  it('answers malformed XML with HTTP 500 (as xapi) carrying the Failure XMLRPC_UNMARSHAL_FAILURE [expected, received]', async () => {
    for (const b of ['<methodCall><methodName>pool.get_all</methodName></methodCall>', 'garbage', '<methodCall>', '']) {
      const r = await post(h.r.port, '/', b);
      expect(r.status, b).to.equal(500);
      expect(r.headers['content-type']).to.equal('text/xml');
      const m =
        /^<\?xml version="1.0"\?><methodResponse><params><param><value><struct><member><name>Status<\/name><value>Failure<\/value><\/member><member><name>ErrorDescription<\/name><value><array><data><value>XMLRPC_UNMARSHAL_FAILURE<\/value><value>a methodCall with a methodName and params<\/value><value>([^<]+)<\/value><\/data><\/array><\/value><\/member><\/struct><\/value><\/param><\/params><\/methodResponse>$/.exec(
          r.body,
        );
      expect(m, r.body).to.not.equal(null);
    }
  });

  it('answers malformed JSON-RPC with HTTP 500 carrying XMLRPC_UNMARSHAL_FAILURE as a JSON-RPC error with id null', async () => {
    for (const b of [
      '{',
      '[]',
      '{"jsonrpc":"2.0","method":"pool.get_all","params":[]}',
      '{"jsonrpc":"3.0","method":"a","params":[],"id":1}',
      '{"method":"a","params":{},"id":1}',
    ]) {
      const r = await post(h.r.port, '/jsonrpc', b);
      expect(r.status, b).to.equal(500);
      expect(r.headers['content-type']).to.equal('application/json');
      const j = JSON.parse(r.body);
      expect([j.jsonrpc, j.id, j.error.code, j.error.message, j.error.data.length]).to.deep.equal(['2.0', null, 1, 'XMLRPC_UNMARSHAL_FAILURE', 2]);
    }
  });

  /** Writes raw bytes on one socket; resolves with what came back once the server closes or answers. */
  function rawExchange(head: string, feed: (sock: net.Socket) => void): Promise<{ reply: string; elapsed: number }> {
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      const sock = net.connect(h.r.port, '127.0.0.1', () => {
        sock.write(head);
        feed(sock);
      });
      let reply = '';
      const done = () => resolve({ reply, elapsed: Date.now() - t0 });
      sock.on('data', (d) => {
        reply += d.toString();
      });
      sock.on('close', done);
      sock.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? done() : reject(e)));
      setTimeout(() => {
        sock.destroy();
      }, 5000);
    });
  }

  it('refuses a declared Content-Length over the limit with 413 before the body is sent', async () => {
    const { reply, elapsed } = await rawExchange(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`, (s) =>
      s.write('<methodCall>'),
    );
    expect(reply.startsWith('HTTP/1.1 413 ')).to.equal(true);
    expect(elapsed).to.be.lessThan(2000);
    expect(await h.call<string[]>('pool.get_all')).to.deep.equal([h.r.d.poolRef]);
  });

  it('refuses a chunked body that grows past the limit with 413 and drops the connection', async () => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const { reply } = await rawExchange('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n', (s) => {
      const chunk = 'x'.repeat(16 * 1024);
      timer = setInterval(() => {
        if (s.destroyed || sent > 2 * 1024 * 1024) return clearInterval(timer);
        s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`, () => {});
        sent += chunk.length;
      }, 2);
    });
    clearInterval(timer);
    expect(reply.startsWith('HTTP/1.1 413 ')).to.equal(true);
    expect(sent).to.be.lessThan(2 * 1024 * 1024);
    expect(await h.call<string[]>('pool.get_all')).to.deep.equal([h.r.d.poolRef]);
  });

  it('accepts a body just under the limit', async () => {
    const pad = 'a'.repeat(60 * 1024);
    const r = await post(h.r.port, '/', xmlCall('network.get_by_name_label', h.session, pad));
    expect(r.body).to.equal(xmlSuccess('<value><array><data></data></array></value>'));
  });

  it('reads a body that arrives in pieces (one split inside a multi-byte character) as the same call (XML-RPC and JSON-RPC)', async () => {
    /** Sends `body` in three writes 20 ms apart on a keep-alive connection; resolves with the reply's body. */
    const inPieces = (path: string, body: Buffer, cuts: number[]) =>
      new Promise<string>((resolve, reject) => {
        const sock = net.connect(h.r.port, '127.0.0.1');
        let reply = '';
        sock.on('data', (d) => {
          reply += d.toString();
          const at = reply.indexOf('\r\n\r\n');
          const len = Number(/content-length: (\d+)/i.exec(reply)?.[1] ?? NaN);
          if (at >= 0 && Buffer.byteLength(reply.slice(at + 4)) >= len) {
            sock.destroy();
            resolve(reply.slice(at + 4));
          }
        });
        sock.on('error', reject);
        sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: ${body.length}\r\n\r\n`);
        const parts = [body.subarray(0, cuts[0]), body.subarray(cuts[0], cuts[1]), body.subarray(cuts[1])];
        parts.forEach((p, i) => setTimeout(() => sock.write(p), 20 * (i + 1)));
      });
    const x = Buffer.from(xmlCall('network.get_by_name_label', h.session, 'réseau'));
    const jx = Buffer.from(jsonCall('network.get_by_name_label', [h.session, 'réseau'], 3));
    for (const [path, body] of [
      ['/', x],
      ['/jsonrpc', jx],
    ] as const) {
      const e = body.indexOf(Buffer.from('é')) + 1; // between the two bytes of 'é'
      const whole = await post(h.r.port, path, body);
      expect(whole.status).to.equal(200);
      expect(await inPieces(path, body, [10, e])).to.equal(whole.body);
    }
  });

  it('answers INVALID_VALUE for a body that is not valid UTF-8 (XML-RPC and JSON-RPC)', async () => {
    const x = Buffer.concat([
      Buffer.from(`<methodCall><methodName>network.get_by_name_label</methodName><params><param><value>${h.session}</value></param><param><value>`),
      Buffer.from([0xff, 0xfe, 0x41]),
      Buffer.from('</value></param></params></methodCall>'),
    ]);
    const r = await post(h.r.port, '/', x);
    expect(r.status).to.equal(200);
    expect(r.body).to.equal(xmlFailure(['INVALID_VALUE', 'Invalid UTF-8 string in parameter', '']));
    const j = Buffer.concat([
      Buffer.from(`{"jsonrpc":"2.0","method":"network.get_by_name_label","params":["${h.session}","`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"],"id":1}'),
    ]);
    const rj = await post(h.r.port, '/jsonrpc', j);
    expect(JSON.parse(rj.body)).to.deep.equal({
      jsonrpc: '2.0',
      error: { code: 1, message: 'INVALID_VALUE', data: ['Invalid UTF-8 string in parameter', ''] },
      id: 1,
    });
  });

  it('rejects a U+0001 sent over JSON-RPC in a string, a constructor field and a map key, storing nothing', async () => {
    const before = h.r.store.count('network');
    const send = async (method: string, params: unknown[]) => JSON.parse((await post(h.r.port, '/jsonrpc', jsonCall(method, [h.session, ...params]))).body);
    const net0 = h.find('network', (r) => r.bridge === 'xenbr0')[0];
    const label = await h.call('network.get_name_label', net0);
    expect((await send('network.set_name_label', [net0, 'a\u0001b'])).error.message).to.equal('INVALID_VALUE');
    expect((await send('network.create', [{ name_label: 'x\u0001', other_config: {} }])).error.message).to.equal('INVALID_VALUE');
    expect((await send('network.add_to_other_config', [net0, 'k\u0001', 'v'])).error.message).to.equal('INVALID_VALUE');
    expect((await send('network.set_other_config', [net0, { k: 'v\u0002' }])).error.message).to.equal('INVALID_VALUE');
    expect(h.r.store.count('network')).to.equal(before);
    expect(await h.call('network.get_name_label', net0)).to.equal(label);
    expect(Object.keys(await h.call('network.get_other_config', net0)).some((k) => k.includes('\u0001'))).to.equal(false);
  });

  it('survives 20,000-deep nested arrays in JSON and 1,400-deep in XML (the body limit here is 64 KiB) (500 or a Failure, never a crash)', async () => {
    const d = 20000;
    const j = await post(
      h.r.port,
      '/jsonrpc',
      `{"jsonrpc":"2.0","method":"network.set_tags","params":["${h.session}","x",${'['.repeat(d)}${']'.repeat(d)}],"id":1}`,
    );
    expect(j.status).to.equal(500);
    const x = await post(
      h.r.port,
      '/',
      xmlCall('network.set_tags', h.session, 'x', `<value>${'<array><data><value>'.repeat(1400)}${'</value></data></array>'.repeat(1400)}</value>`),
    );
    expect(x.body).to.equal(xmlFailure(['FIELD_TYPE_ERROR', 'value']));
    expect(await h.call<string[]>('pool.get_all')).to.deep.equal([h.r.d.poolRef]);
  });

  it('survives 200 random and mutated bodies on both endpoints, answering each one', async () => {
    let seed = 4242;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const valid = xmlCall('PIF.get_record', h.session, h.pif('eth0'));
    const validJ = jsonCall('network.create', [h.session, { name_label: 'fz', other_config: { a: 'b' } }]);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      let body: Buffer;
      const kind = i % 4;
      if (kind === 0) body = Buffer.from(Array.from({ length: rnd(300) }, () => rnd(256)));
      else {
        const base = kind === 3 ? validJ : valid;
        const chars = [...base];
        for (let k = 0, n = 1 + rnd(6); k < n; k++) {
          const at = rnd(chars.length);
          const op = rnd(3);
          if (op === 0) chars.splice(at, 1 + rnd(10));
          else if (op === 1) chars.splice(at, 0, String.fromCharCode(rnd(128)));
          else
            chars.splice(
              at,
              0,
              ['<value>', '</value>', '<struct>', '<array><data>', '"', '{', '[', ']', '}', '<nil/>', '<i4>9999999999999999999999</i4>', '&amp;', '\u0000'][
                rnd(13)
              ],
            );
        }
        body = Buffer.from(chars.join(''));
      }
      const path = kind === 3 || rnd(2) ? '/jsonrpc' : '/';
      const r = await post(h.r.port, path, body);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([200, 500], `${path} ${JSON.stringify(body.toString('latin1'))}: ${r.status}`).to.include(r.status);
      expect(r.body).not.to.match(/\n\s+at /);
    }
    expect(statuses.get(500)).to.be.greaterThan(0);
    expect(await h.call<string[]>('pool.get_all')).to.deep.equal([h.r.d.poolRef]);
  });
});

describe('api/protocol: system.listMethods', () => {
  let h: Harness;
  let methods: string[];
  before(async () => {
    h = await startHarness();
    methods = await h.raw<string[]>('system.listMethods');
  });
  after(async () => {
    await h.close();
  });

  it('works without a session and replies with a bare array', async () => {
    const r = await post(h.r.port, '/', '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>');
    expect(r.body.startsWith('<?xml version="1.0"?><methodResponse><params><param><value><array><data><value>')).to.equal(true);
    const j = await post(h.r.port, '/jsonrpc', jsonCall('system.listMethods', []));
    expect(JSON.parse(j.body).result).to.deep.equal(methods);
  });
  it('has no Async. names and no duplicates', () => {
    expect(methods.filter((m) => m.startsWith('Async.'))).to.deep.equal([]);
    expect(new Set(methods).size).to.equal(methods.length);
  });
  it('lists get_all_records of every exposed class and not of session or event', () => {
    for (const c of ['pool', 'host', 'network', 'PIF', 'PIF_metrics', 'Bond', 'VLAN', 'tunnel', 'VIF', 'task'])
      expect(methods, c).to.include(`${c}.get_all_records`);
    expect(methods).not.to.include('session.get_all_records');
    expect(methods).not.to.include('event.get_all_records');
  });
  it('lists the login, event and generated messages clients use', () => {
    for (const m of [
      'session.login_with_password',
      'session.logout',
      'session.get_this_host',
      'event.from',
      'event.inject',
      'event.register',
      'event.next',
      'task.cancel',
      'network.create',
      'network.add_tags',
      'network.add_to_other_config',
      'PIF.get_all_records_where',
      'host.get_API_version_major',
    ]) {
      expect(methods, m).to.include(m);
    }
  });
  it('every listed name is callable (none answers MESSAGE_METHOD_UNKNOWN)', async () => {
    const unknown: string[] = [];
    for (const m of methods) {
      try {
        await h.raw(m);
      } catch (e) {
        if (e instanceof XenAPIFailure && e.details[0] === 'MESSAGE_METHOD_UNKNOWN') unknown.push(m);
      }
    }
    expect(unknown).to.deep.equal([]);
  });
});
