// The XML-RPC codec on its own: what real clients send (Python's typed, pretty-printed
// dialect and Xen Orchestra's untyped compact one) parses to the right values, anything that
// is not a methodCall is a ProtocolError, and replies are byte-for-byte what xapi emits.
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { T, classDef, classes, visibleFields, zeroOf } from '../../schema/index.js';
import {
  assemblerMissing,
  compactMember,
  encode,
  esc,
  failure,
  g16,
  jsAssembler,
  memberHead,
  parseCall,
  successParts,
  useAssembler,
  valueString,
  writeCompact,
} from '../../src/wire/xmlrpc.js';
import { ProtocolError, WireDateTime, WireDouble } from '../../src/wire/values.js';

const call = (params: string, name = 'X.y') => `<?xml version="1.0"?><methodCall><methodName>${name}</methodName><params>${params}</params></methodCall>`;
const one = (value: string) => parseCall(call(`<param>${value}</param>`)).params[0];
const reply = (v: unknown, ty: Parameters<typeof encode>[1], bare = false) => [...successParts(v, ty, bare)].join('');
const HEAD = '<?xml version="1.0"?><methodResponse><params><param>';
const TAIL = '</param></params></methodResponse>';
const OK = (inner: string) =>
  `${HEAD}<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${inner}</member></struct></value>${TAIL}`;

describe('wire/xmlrpc parse', () => {
  it('parses a Python xmlrpc.client request (declaration, newlines, typed strings, empty <string></string>, empty struct)', () => {
    const body =
      "<?xml version='1.0'?>\n<methodCall>\n<methodName>Bond.create</methodName>\n<params>\n" +
      '<param>\n<value><string>OpaqueRef:s</string></value>\n</param>\n' +
      '<param>\n<value><string>OpaqueRef:n</string></value>\n</param>\n' +
      '<param>\n<value><array><data>\n<value><string>OpaqueRef:a</string></value>\n<value><string>OpaqueRef:b</string></value>\n</data></array></value>\n</param>\n' +
      '<param>\n<value><string></string></value>\n</param>\n' +
      '<param>\n<value><string>active-backup</string></value>\n</param>\n' +
      '<param>\n<value><struct>\n</struct></value>\n</param>\n' +
      '</params>\n</methodCall>\n';
    const c = parseCall(body);
    expect(c.method).to.equal('Bond.create');
    expect(c.params).to.have.length(6);
    expect(c.params.slice(0, 5)).to.deep.equal(['OpaqueRef:s', 'OpaqueRef:n', ['OpaqueRef:a', 'OpaqueRef:b'], '', 'active-backup']);
    expect(Object.keys(c.params[5] as object)).to.deep.equal([]);
  });

  it('parses a Xen Orchestra request (one line, untyped values, ints as strings, <double>)', () => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>event.from</methodName><params>' +
      '<param><value>OpaqueRef:s</value></param><param><value><array><data><value>pool</value><value>PIF</value></data></array></value></param>' +
      '<param><value>00000000000000000001,00000000000000000000</value></param><param><value><double>60.1</double></value></param></params></methodCall>';
    const c = parseCall(body);
    expect(c.method).to.equal('event.from');
    expect(c.params.slice(0, 3)).to.deep.equal(['OpaqueRef:s', ['pool', 'PIF'], '00000000000000000001,00000000000000000000']);
    expect(c.params[3]).to.be.instanceOf(WireDouble);
    expect((c.params[3] as WireDouble).value).to.equal(60.1);
  });

  it('accepts <params/>, <params></params> and <params />: no parameters', () => {
    expect(parseCall('<methodCall><methodName>system.listMethods</methodName><params/></methodCall>')).to.deep.equal({
      method: 'system.listMethods',
      params: [],
    });
    expect(parseCall('<methodCall><methodName>a.b</methodName><params></params></methodCall>').params).to.deep.equal([]);
    expect(parseCall('<methodCall><methodName>a.b</methodName><params /></methodCall>').params).to.deep.equal([]);
  });

  it('decodes <nil/> and <nil /> as null', () => {
    expect(one('<value><nil/></value>')).to.equal(null);
    expect(one('<value><nil /></value>')).to.equal(null);
  });

  it('decodes i4, int and i8 (incl. beyond 32 bits and signed) as numbers', () => {
    expect(one('<value><i4>42</i4></value>')).to.equal(42);
    expect(one('<value><int>-7</int></value>')).to.equal(-7);
    expect(one('<value><i8>1073741824000</i8></value>')).to.equal(1073741824000);
    expect(one('<value><int>+5</int></value>')).to.equal(5);
    expect(one('<value><int> 12 </int></value>')).to.equal(12);
  });

  it('decodes double as WireDouble, boolean 1/0 as true/false', () => {
    const d = one('<value><double>-0.5</double></value>') as WireDouble;
    expect(d).to.be.instanceOf(WireDouble);
    expect(d.value).to.equal(-0.5);
    expect((one('<value><double>1e3</double></value>') as WireDouble).value).to.equal(1000);
    expect(one('<value><boolean>1</boolean></value>')).to.equal(true);
    expect(one('<value><boolean>0</boolean></value>')).to.equal(false);
  });

  it('decodes base64 as its UTF-8 text and dateTime.iso8601 as WireDateTime', () => {
    expect(one(`<value><base64>${Buffer.from('héllo').toString('base64')}</base64></value>`)).to.equal('héllo');
    const dt = one('<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>') as WireDateTime;
    expect(dt).to.be.instanceOf(WireDateTime);
    expect(dt.value).to.equal('20250319T04:16:24Z');
  });

  it('reads every spelling of the empty string as ""', () => {
    for (const v of ['<value/>', '<value></value>', '<value><string/></value>', '<value><string></string></value>', '<value><string /></value>']) {
      expect(one(v), v).to.equal('');
    }
  });

  it('keeps untyped text exactly, entities decoded, CDATA included', () => {
    expect(one('<value>a &amp; b &lt;c&gt; &quot;d&quot;</value>')).to.equal('a & b <c> "d"');
    expect(one('<value>  spaced  </value>')).to.equal('  spaced  ');
    expect(one('<value><string>x<![CDATA[<y>]]></string></value>')).to.equal('x<y>');
  });

  it('decodes nested arrays and structs, empty ones too', () => {
    const v = one(
      '<value><struct><member><name>a</name><value><array><data><value><i4>1</i4></value><value><array><data></data></array></value></data></array></value></member>' +
        '<member><name>b</name><value><struct><member><name>c</name><value>d</value></member></struct></value></member>' +
        '<member><name>e</name><value><struct></struct></value></member></struct></value>',
    ) as Record<string, any>;
    expect(JSON.parse(JSON.stringify(v))).to.deep.equal({ a: [1, []], b: { c: 'd' }, e: {} });
    expect(one('<value><array><data/></array></value>')).to.deep.equal([]);
  });

  it('keeps a __proto__ struct member as an ordinary key, without touching prototypes', () => {
    const v = one(
      '<value><struct><member><name>__proto__</name><value>x</value></member><member><name>constructor</name><value>y</value></member></struct></value>',
    ) as Record<string, unknown>;
    expect(Object.keys(v)).to.deep.equal(['__proto__', 'constructor']);
    expect(v['__proto__']).to.equal('x');
    expect(({} as Record<string, unknown>).x).to.equal(undefined);
    expect(Object.prototype.hasOwnProperty.call(v, '__proto__')).to.equal(true);
  });

  const malformed: [string, string][] = [
    ['no <params>', '<methodCall><methodName>a.b</methodName></methodCall>'],
    ['not a methodCall', '<methodResponse><params/></methodResponse>'],
    ['DOCTYPE', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><methodCall><methodName>a.b</methodName><params/></methodCall>'],
    ['bad int', call('<param><value><int>12a</int></value></param>')],
    ['bad i4 (float)', call('<param><value><i4>1.5</i4></value></param>')],
    ['bad double', call('<param><value><double>abc</double></value></param>')],
    ['garbage', 'this is not xml at all'],
    ['empty body', ''],
    ['truncated', '<methodCall><methodName>a.b</methodName><params><param><value>'],
    ['no methodName', '<methodCall><params/></methodCall>'],
    ['empty methodName', '<methodCall><methodName></methodName><params/></methodCall>'],
    ['two roots', '<methodCall><methodName>a.b</methodName><params/></methodCall><methodCall/>'],
    ['unknown value tag', call('<param><value><foo>1</foo></value></param>')],
    ['two types in one value', call('<param><value><int>1</int><string>x</string></value></param>')],
    ['member without value', call('<param><value><struct><member><name>a</name></member></struct></value></param>')],
    ['param outside params', '<methodCall><methodName>a.b</methodName><param/><params/></methodCall>'],
    ['mismatched tags', '<methodCall><methodName>a.b</methodName><params></param></methodCall>'],
  ];
  for (const [what, body] of malformed) {
    it(`throws ProtocolError for ${what}`, () => {
      expect(() => parseCall(body)).to.throw(ProtocolError);
    });
  }
});

describe('wire/xmlrpc encode', () => {
  it('answers a string result as one compact line with an untyped value', () => {
    expect(reply('OpaqueRef:abc', T.ref('PIF'))).to.equal(OK('<value>OpaqueRef:abc</value>'));
  });

  it('writes "" and void as <value></value>, never <string>', () => {
    expect(reply('', T.string)).to.equal(OK('<value></value>'));
    expect(reply(undefined, T.void)).to.equal(OK('<value></value>'));
  });

  it('writes ints untyped (never <i8>) and int32 as <i4>', () => {
    expect(encode(1500, T.int)).to.equal('<value>1500</value>');
    expect(encode(-1, T.int)).to.equal('<value>-1</value>');
    expect(encode(2 ** 40, T.int)).to.equal('<value>1099511627776</value>');
    expect(encode(7, T.int32)).to.equal('<value><i4>7</i4></value>');
  });

  it('writes floats as <double> in %.16g', () => {
    expect(encode(1, T.float)).to.equal('<value><double>1</double></value>');
    expect(encode(0.5, T.float)).to.equal('<value><double>0.5</double></value>');
    expect(encode(0.1, T.float)).to.equal('<value><double>0.1</double></value>');
    expect(encode(1 / 3, T.float)).to.equal('<value><double>0.3333333333333333</double></value>');
    expect(encode(1e20, T.float)).to.equal('<value><double>1e+20</double></value>');
    expect(encode(1e-5, T.float)).to.equal('<value><double>1e-05</double></value>');
    expect(encode(0, T.float)).to.equal('<value><double>0</double></value>');
  });

  it('formats 2000 doubles exactly as C printf %.16g does (Python as the oracle)', () => {
    // Some literals are not exactly representable on purpose: they are what %.16g must round.
    /* eslint-disable no-loss-of-precision */
    const xs: number[] = [
      1234567890123456,
      2 ** 52 + 0.5,
      0.5866165161132812,
      2530913352966308.5,
      1e16,
      9.999999999999999e15,
      1e-4,
      9.99999999999999e-5,
      123456789.123456789,
      2 ** 53,
      -2.5e-300,
      1.7976931348623157e308,
      5e-324,
      0.30000000000000004,
    ];
    /* eslint-enable no-loss-of-precision */
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    while (xs.length < 2000) {
      const mant = rnd() * 10;
      const exp = Math.floor(rnd() * 40) - 20;
      xs.push((rnd() < 0.5 ? -1 : 1) * mant * 10 ** exp);
    }
    const out = execFileSync('/usr/bin/python3', ['-c', "import sys\nfor l in sys.stdin: print('%.16g' % float(l))"], {
      input: xs.map((x) => x.toString()).join('\n') + '\n',
    })
      .toString()
      .trim()
      .split('\n');
    const mismatches = xs.map((x, i) => [x, g16(x), out[i]]).filter(([, a, b]) => a !== b);
    expect(mismatches).to.deep.equal([]);
  });

  it('writes bools as <boolean>1/0</boolean> and datetimes as dateTime.iso8601', () => {
    expect(encode(true, T.bool)).to.equal('<value><boolean>1</boolean></value>');
    expect(encode(false, T.bool)).to.equal('<value><boolean>0</boolean></value>');
    expect(encode('20250319T04:16:24Z', T.datetime)).to.equal('<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>');
  });

  it('writes sets and maps (incl. empty ones and a __proto__ key)', () => {
    expect(encode([], T.set(T.string))).to.equal('<value><array><data></data></array></value>');
    expect(encode(['a', ''], T.set(T.string))).to.equal('<value><array><data><value>a</value><value></value></data></array></value>');
    expect(encode({}, T.smap)).to.equal('<value><struct></struct></value>');
    const m = Object.create(null);
    m.__proto__ = 'p';
    m.k = 'v';
    expect(encode(m, T.smap)).to.equal(
      '<value><struct><member><name>__proto__</name><value>p</value></member><member><name>k</name><value>v</value></member></struct></value>',
    );
    expect(encode({ 'OpaqueRef:a': 3 }, T.map(T.ref('VIF'), T.int))).to.equal(
      '<value><struct><member><name>OpaqueRef:a</name><value>3</value></member></struct></value>',
    );
  });

  it('writes records with every visible field in datamodel order, whatever the object key order', () => {
    const def = classDef('network')!;
    const names = visibleFields(def).map((f) => f.name);
    const rec: Record<string, unknown> = {};
    for (const n of [...names].reverse()) rec[n] = def.fields.find((f) => f.name === n)!.ty.k === 'set' ? [] : '';
    rec.MTU = 1500;
    rec.managed = true;
    rec.other_config = {};
    rec.current_operations = {};
    rec.blobs = {};
    rec.assigned_ips = {};
    const xml = encode(rec, T.record('network'));
    const order = [...xml.matchAll(/<member><name>([^<]+)<\/name>/g)].map((m) => m[1]);
    expect(order).to.deep.equal(names);
    expect(xml).to.contain('<member><name>MTU</name><value>1500</value></member>');
    expect(xml).to.contain('<member><name>managed</name><value><boolean>1</boolean></value></member>');
  });

  // The addon (native/assemble.c) and the JavaScript assembler a daemon without it uses, held to the same output and refusals.
  for (const [name, asm] of [
    ['addon', undefined],
    ['JavaScript assembler', jsAssembler()],
  ] as const) {
    describe(name, () => {
      before(() => useAssembler(asm));
      after(() => useAssembler());
      if (!asm) it('is the one a daemon uses when make build has compiled it', () => expect(assemblerMissing()).to.equal(undefined));
      it(`${name}: assembles every class's compact record member as the general encoder writes it`, () => {
        // Each field kind's wrap (int32, float, datetime, sets, maps, any) around non-ASCII content.
        const sample = (ty: import('../../schema/index.js').Ty): unknown => {
          switch (ty.k) {
            case 'string':
              return 'é<&>€😀';
            case 'int':
              return -(2 ** 40);
            case 'int32':
              return 7;
            case 'float':
              return 0.1;
            case 'bool':
              return true;
            case 'datetime':
              return '20261203T12:00:00Z';
            case 'set':
              return [sample(ty.of), sample(ty.of)];
            case 'map':
              return { 'k&': sample(ty.val), ü: sample(ty.val) };
            case 'any':
              return { a: ['x', 1] };
            default:
              return zeroOf(ty);
          }
        };
        for (const def of classes) {
          for (const fill of [zeroOf, sample]) {
            const rec: Record<string, unknown> = {};
            for (const fd of visibleFields(def)) rec[fd.name] = fill(fd.ty);
            const ref = 'OpaqueRef:é&1';
            const want = memberHead(ref) + encode(rec, T.record(def.name)) + '</member>';
            const { rec: compact, bytes } = compactMember(def.name, ref, rec);
            const out = Buffer.alloc(bytes + 4);
            expect(writeCompact(def.name, compact, out, 2), def.name).to.equal(bytes + 2);
            expect(out.subarray(2, bytes + 2).toString('utf8'), def.name).to.equal(want);
            expect(compact.byteLength, def.name).to.be.below(Buffer.byteLength(want));
          }
        }
      });

      it(`${name}: refuses a compact record that does not match its layout or does not fit, writing nothing`, () => {
        const rec: Record<string, unknown> = {};
        for (const fd of visibleFields(classDef('network')!)) rec[fd.name] = zeroOf(fd.ty);
        const { rec: compact, bytes } = compactMember('network', 'OpaqueRef:a', rec);
        const out = Buffer.alloc(bytes + 8, 0x2a);
        expect(() => writeCompact('network', compact, out, 9)).to.throw(/does not fit/);
        const ab = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
        expect(() => writeCompact('network', compact.slice(0, compact.byteLength - 1), out, 0)).to.throw(/do not match/);
        expect(() => writeCompact('network', ab(Buffer.concat([Buffer.from(compact), Buffer.from('x')])), out, 0)).to.throw(/do not match/);
        expect(() => writeCompact('network', ab(Buffer.from([0x80, 0x80])), out, 0)).to.throw(/malformed/);
        expect(out.every((b) => b === 0x2a)).to.equal(true);
      });
    });
  }

  it('never writes an internal field of a record (task.session)', () => {
    const rec: Record<string, unknown> = {};
    for (const fd of classDef('task')!.fields) rec[fd.name] = zeroOf(fd.ty);
    rec.session = 'OpaqueRef:secret';
    const xml = encode(rec, T.record('task'));
    expect(xml).not.to.contain('OpaqueRef:secret');
    expect(xml).not.to.contain('<name>session</name>');
  });

  it('writes a Failure as Status/ErrorDescription with untyped strings', () => {
    expect(failure(['HANDLE_INVALID', 'PIF', 'OpaqueRef:NULL'])).to.equal(
      `${HEAD}<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>HANDLE_INVALID</value><value>PIF</value><value>OpaqueRef:NULL</value></data></array></value></member></struct></value>${TAIL}`,
    );
  });

  it('writes system.listMethods bare, without Status/Value', () => {
    expect(reply(['a.b', 'c.d'], T.set(T.string), true)).to.equal(
      `${HEAD}<value><array><data><value>a.b</value><value>c.d</value></data></array></value>${TAIL}`,
    );
  });

  it('escapes < > & " and drops control characters other than tab, LF, CR', () => {
    expect(esc('a<b>&"c\'')).to.equal("a&lt;b&gt;&amp;&quot;c'");
    expect(encode('x\u0001y\u0008z\u000Bw\u001F', T.string)).to.equal('<value>xyzw</value>');
    expect(encode('t\tn\nr\r', T.string)).to.equal('<value>t\tn\nr\r</value>');
    expect(encode('\u0000', T.string)).to.equal('<value></value>');
  });

  it('slices big maps and sets into parts that join to the same bytes as one piece', () => {
    const m: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) m[`k${i}`] = `v${i}`;
    const parts = [...successParts(m, T.smap)];
    expect(parts.length).to.be.greaterThan(3);
    expect(parts.join('')).to.equal(OK(encode(m, T.smap)));
    const s = Array.from({ length: 700 }, (_, i) => `s${i}`);
    expect([...successParts(s, T.set(T.string))].join('')).to.equal(OK(encode(s, T.set(T.string))));
  });

  it('valueString is the bare <value> fragment a task result holds', () => {
    expect(valueString('OpaqueRef:x', T.ref('network'))).to.equal('<value>OpaqueRef:x</value>');
    expect(valueString(undefined, T.void)).to.equal('<value></value>');
  });

  it('round-trips what it writes through its own parser', () => {
    const v = { a: ['x', '', 'y&<>'], b: { c: 'd' } };
    const xml = encode(v, T.any);
    expect(JSON.parse(JSON.stringify(parseCall(call(`<param>${xml}</param>`)).params[0]))).to.deep.equal(v);
  });
});
