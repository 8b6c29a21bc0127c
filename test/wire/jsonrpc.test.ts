// The JSON-RPC codec on its own: xapi's envelope rules (mirage/ocaml-rpc jsonrpc.ml) for
// requests, and the v1/v2 reply envelopes clients parse.
import { expect } from 'chai';
import { T, Typed, type Ty } from '../../schema/index.js';
import { failure, parseJsonCall, successParts } from '../../src/wire/jsonrpc.js';
import { ProtocolError } from '../../src/wire/values.js';

const ok = (call: { version: 1 | 2; id: number | string }, v: unknown, ty: Ty = T.any) => [...successParts(call, v, ty)].join('');

describe('wire/jsonrpc parse', () => {
  it('a request without "jsonrpc" is v1 and needs an array of params', () => {
    expect(parseJsonCall('{"method":"pool.get_all","params":["OpaqueRef:s"],"id":1}')).to.deep.equal({
      method: 'pool.get_all',
      params: ['OpaqueRef:s'],
      version: 1,
      id: 1,
    });
    expect(() => parseJsonCall('{"method":"a.b","id":1}')).to.throw(ProtocolError);
    expect(() => parseJsonCall('{"method":"a.b","params":{},"id":1}')).to.throw(ProtocolError);
  });

  it('"jsonrpc":"2.0" is v2; params may be missing, null, an array or an object (one struct param)', () => {
    expect(parseJsonCall('{"jsonrpc":"2.0","method":"a.b","id":0}')).to.deep.equal({ method: 'a.b', params: [], version: 2, id: 0 });
    expect(parseJsonCall('{"jsonrpc":"2.0","method":"a.b","params":null,"id":0}').params).to.deep.equal([]);
    expect(parseJsonCall('{"jsonrpc":"2.0","method":"a.b","params":[1,"x",true],"id":0}').params).to.deep.equal([1, 'x', true]);
    const c = parseJsonCall('{"jsonrpc":"2.0","method":"a.b","params":{"k":"v"},"id":"s"}');
    expect(c.params).to.have.length(1);
    expect({ ...(c.params[0] as object) }).to.deep.equal({ k: 'v' });
    expect(c.id).to.equal('s');
    expect(() => parseJsonCall('{"jsonrpc":"2.0","method":"a.b","params":3,"id":0}')).to.throw(ProtocolError);
  });

  it('refuses any other version', () => {
    for (const v of ['"1.0"', '"2"', '2', 'null']) expect(() => parseJsonCall(`{"jsonrpc":${v},"method":"a.b","params":[],"id":0}`), v).to.throw(ProtocolError);
  });

  it('requires an id that is an integer or a string (no notifications, no null, no float, no object)', () => {
    for (const id of ['', ',"id":null', ',"id":1.5', ',"id":{}', ',"id":[1]', ',"id":true']) {
      expect(() => parseJsonCall(`{"jsonrpc":"2.0","method":"a.b","params":[]${id}}`), id).to.throw(ProtocolError);
    }
    expect(parseJsonCall('{"method":"a.b","params":[],"id":-3}').id).to.equal(-3);
  });

  it('requires method to be a string and the body to be one object', () => {
    for (const b of [
      '{"params":[],"id":1}',
      '{"method":5,"params":[],"id":1}',
      '[{"method":"a.b","params":[],"id":1}]',
      'null',
      '"x"',
      '42',
      '{bad json',
      '',
    ]) {
      expect(() => parseJsonCall(b), b).to.throw(ProtocolError);
    }
  });

  it('keeps a __proto__ key of a struct param as an ordinary key', () => {
    const c = parseJsonCall('{"jsonrpc":"2.0","method":"a.b","params":["s",{"__proto__":"x","a":{"__proto__":"y"}}],"id":0}');
    const m = c.params[1] as Record<string, any>;
    expect(Object.keys(m)).to.deep.equal(['__proto__', 'a']);
    expect(m['__proto__']).to.equal('x');
    expect(Object.keys(m.a)).to.deep.equal(['__proto__']);
    expect(Object.getPrototypeOf(m)).to.equal(null);
  });
});

describe('wire/jsonrpc replies', () => {
  it('v1 success: {"result":V,"error":null,"id":ID}', () => {
    expect(ok({ version: 1, id: 7 }, 'OpaqueRef:x', T.ref('PIF'))).to.equal('{"result":"OpaqueRef:x","error":null,"id":7}');
  });
  it('v2 success: {"jsonrpc":"2.0","result":V,"id":ID} with a string id echoed as a string', () => {
    expect(ok({ version: 2, id: 'a"b' }, 1500, T.int)).to.equal('{"jsonrpc":"2.0","result":1500,"id":"a\\"b"}');
  });
  it('void is "" and ints, floats, bools stay JSON numbers and booleans', () => {
    expect(ok({ version: 2, id: 0 }, undefined, T.void)).to.equal('{"jsonrpc":"2.0","result":"","id":0}');
    expect(ok({ version: 2, id: 0 }, { MTU: 1500, progress: 0.5, physical: true, tags: [] }, T.any)).to.equal(
      '{"jsonrpc":"2.0","result":{"MTU":1500,"progress":0.5,"physical":true,"tags":[]},"id":0}',
    );
  });
  it('unwraps Typed values (event snapshots, int32 counts)', () => {
    expect(ok({ version: 2, id: 0 }, { n: new Typed(T.int32, 3), s: new Typed(T.smap, { a: 'b' }) })).to.equal(
      '{"jsonrpc":"2.0","result":{"n":3,"s":{"a":"b"}},"id":0}',
    );
  });
  it('a big map in slices is the same JSON as one piece', () => {
    const m: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) m[`OpaqueRef:${i}`] = { i, s: `x${i}` };
    const parts = [...successParts({ version: 2, id: 0 }, m, T.map(T.ref('PIF'), T.any))];
    expect(parts.length).to.be.greaterThan(3);
    expect(parts.join('')).to.equal(`{"jsonrpc":"2.0","result":${JSON.stringify(m)},"id":0}`);
  });
  it('v1 failure: {"result":null,"error":[CODE,...],"id":ID}', () => {
    expect(failure({ version: 1, id: 3 }, ['HANDLE_INVALID', 'PIF', 'OpaqueRef:NULL'])).to.equal(
      '{"result":null,"error":["HANDLE_INVALID","PIF","OpaqueRef:NULL"],"id":3}',
    );
  });
  it('v2 failure: error {code:1, message: CODE, data: params}', () => {
    expect(failure({ version: 2, id: 0 }, ['SESSION_INVALID', 'OpaqueRef:x'])).to.equal(
      '{"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_INVALID","data":["OpaqueRef:x"]},"id":0}',
    );
    expect(JSON.parse(failure({ version: 2, id: 'q' }, ['EVENTS_LOST']))).to.deep.equal({
      jsonrpc: '2.0',
      error: { code: 1, message: 'EVENTS_LOST', data: [] },
      id: 'q',
    });
  });
});
