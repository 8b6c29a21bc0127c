// The messages generated from the datamodel, over XML-RPC: record getters, get_all*,
// get_all_records_where expressions, get_by_uuid/name_label, field getters incl. computed
// relation sides, setters, map and set accessors, the generic constructor/destructor.
import { expect } from 'chai';
import { classDef, enumDef, visibleFields, type Ty } from '../../schema/index.js';
import { XenAPIFailure, startHarness, type Harness } from '../helpers/harness.js';
import { jsonCall, post } from './rawhttp.js';

describe('api/accessors: generated messages', () => {
  let h: Harness;
  let pifs: Record<string, any>;
  let net1: string;
  before(async () => {
    h = await startHarness();
    pifs = await h.call('PIF.get_all_records');
    net1 = h.find('network', (r) => r.bridge === 'xenbr1')[0];
  });
  after(async () => {
    await h.close();
  });

  it('get_record returns every visible field in datamodel order, internal ones hidden', async () => {
    const rec = await h.call('PIF.get_record', h.pif('eth0'));
    expect(Object.keys(rec)).to.deep.equal(visibleFields(classDef('PIF')!).map((f) => f.name));
    expect(rec).not.to.have.property('device_name');
    const task = await h.call('task.create', 'l', 'd');
    expect(Object.keys(await h.call('task.get_record', task))).not.to.include('session');
  });

  it('get_record of the management PIF has the demo inventory values with XML-RPC types', async () => {
    const rec = await h.call('PIF.get_record', h.pif('eth0'));
    expect(rec.device).to.equal('eth0');
    expect(rec.MAC).to.equal('02:00:5e:00:53:10');
    expect(rec.MTU).to.equal('1500');
    expect(rec.VLAN).to.equal('-1');
    expect(rec.management).to.equal(true);
    expect(rec.physical).to.equal(true);
    expect(rec.IP).to.equal('192.0.2.10');
    expect(rec.ip_configuration_mode).to.equal('Static');
    expect(rec.bond_slave_of).to.equal('OpaqueRef:NULL');
    expect(rec.bond_master_of).to.deep.equal([]);
    expect(rec.other_config).to.deep.equal({});
  });

  it('get_all and get_all_records agree, six PIFs and one pool', async () => {
    const all = await h.call<string[]>('PIF.get_all');
    expect([...all].sort()).to.deep.equal(Object.keys(pifs).sort());
    expect(all).to.have.length(6);
    expect(Object.keys(await h.call('pool.get_all_records'))).to.deep.equal([h.r.d.poolRef]);
  });

  it('get_all_records_where: field = value, reversed operands, and/or/not, parentheses, true/false', async () => {
    const where = async (e: string) =>
      Object.keys(await h.call('PIF.get_all_records_where', e))
        .map((r) => pifs[r].device)
        .sort();
    expect(await where('field "management" = "true"')).to.deep.equal(['eth0']);
    expect(await where('"eth3" = field "device"')).to.deep.equal(['eth3']);
    expect(await where('field "device" = "eth1" or field "device" = "eth2"')).to.deep.equal(['eth1', 'eth2']);
    expect(await where('field "physical" = "true" and field "device" = "eth4"')).to.deep.equal(['eth4']);
    expect(await where('not (field "management" = "true")')).to.deep.equal(['eth1', 'eth2', 'eth3', 'eth4', 'eth5']);
    expect(await where('not field "management" = "false" and (field "device" = "eth0" or field "device" = "eth1")')).to.deep.equal(['eth0']);
    expect(await where('true')).to.have.length(6);
    expect(await where('false')).to.deep.equal([]);
    expect(await where('')).to.have.length(6);
    expect(await where('field "VLAN" = "-1"')).to.have.length(6);
    expect(await where('field "no_such_field" = "x"')).to.deep.equal([]);
    expect(await where(`field "network" = "${net1}"`)).to.deep.equal(['eth1']);
  });

  it('get_all_records_where matches computed relation fields and hides internal ones', async () => {
    const nets = await h.call('network.get_all_records_where', `field "bridge" = "xenbr2"`);
    expect(Object.values(nets).map((n: any) => n.name_label)).to.deep.equal(['Pool-wide network associated with eth2']);
    expect(Object.keys(await h.call('PIF.get_all_records_where', 'field "device_name" = "eth0"'))).to.deep.equal([]);
  });

  it('get_all_where returns the refs only', async () => {
    expect(await h.call('PIF.get_all_where', 'field "management" = "true"')).to.deep.equal([h.pif('eth0')]);
  });

  it('get_by_uuid finds the object; get_by_name_label returns a set', async () => {
    const uuid = pifs[h.pif('eth2')].uuid;
    expect(await h.call('PIF.get_by_uuid', uuid)).to.equal(h.pif('eth2'));
    expect(await h.call('network.get_by_name_label', 'Pool-wide network associated with eth1')).to.deep.equal([net1]);
    expect(await h.call('network.get_by_name_label', 'nothing has this name')).to.deep.equal([]);
  });

  it('get_<field> returns each field, computed relation sides included', async () => {
    expect(await h.call('PIF.get_device', h.pif('eth3'))).to.equal('eth3');
    expect(await h.call('network.get_PIFs', net1)).to.deep.equal([h.pif('eth1')]);
    expect(await h.call('PIF.get_bond_master_of', h.pif('eth1'))).to.deep.equal([]);
    expect(await h.call('PIF.get_VLAN_slave_of', h.pif('eth1'))).to.deep.equal([]);
    expect([...(await h.call<string[]>('host.get_PIFs', h.r.d.hostRef))].sort()).to.deep.equal(Object.keys(pifs).sort());
    expect(await h.call('network.get_VIFs', net1)).to.deep.equal([]);
  });

  it('has no setter for read-only fields and no getter for internal ones', async () => {
    expect(await h.fails('PIF.set_device', h.pif('eth1'), 'x')).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'PIF.set_device']);
    expect(await h.fails('network.set_PIFs', net1, [])).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'network.set_PIFs']);
    expect(await h.fails('network.add_PIFs', net1, h.pif('eth1'))).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'network.add_PIFs']);
    expect(await h.fails('PIF.get_device_name', h.pif('eth1'))).to.deep.equal(['MESSAGE_METHOD_UNKNOWN', 'PIF.get_device_name']);
  });

  it('set_<field> of RW fields changes exactly that field', async () => {
    const before = await h.call('network.get_record', net1);
    await h.call('network.set_name_description', net1, 'described');
    const after = await h.call('network.get_record', net1);
    expect(after).to.deep.equal({ ...before, name_description: 'described' });
    await h.call('network.set_name_description', net1, '');
    expect(await h.call('network.get_name_description', net1)).to.equal('');
  });

  it('add_to_/remove_from_ maps; remove of an absent key is a no-op; set_ replaces the map', async () => {
    await h.call('PIF.add_to_other_config', h.pif('eth2'), 'a', '1');
    await h.call('PIF.add_to_other_config', h.pif('eth2'), '__proto__', 'p');
    // Read over JSON-RPC: the `xmlrpc` npm client itself drops a __proto__ member.
    const r = await post(h.r.port, '/jsonrpc', jsonCall('PIF.get_other_config', [h.session, h.pif('eth2')]));
    expect(r.body).to.equal('{"jsonrpc":"2.0","result":{"a":"1","__proto__":"p"},"id":0}');
    await h.call('PIF.remove_from_other_config', h.pif('eth2'), 'absent');
    await h.call('PIF.remove_from_other_config', h.pif('eth2'), 'a');
    await h.call('PIF.remove_from_other_config', h.pif('eth2'), '__proto__');
    expect(await h.call('PIF.get_other_config', h.pif('eth2'))).to.deep.equal({});
    await h.call('PIF.set_other_config', h.pif('eth2'), { x: 'y' });
    expect(await h.call('PIF.get_other_config', h.pif('eth2'))).to.deep.equal({ x: 'y' });
    await h.call('PIF.set_other_config', h.pif('eth2'), {});
  });

  it('add_/remove_ sets: network.add_tags is idempotent, remove_tags of an absent value is a no-op', async () => {
    await h.call('network.add_tags', net1, 'blue');
    await h.call('network.add_tags', net1, 'red');
    await h.call('network.add_tags', net1, 'blue');
    expect(await h.call('network.get_tags', net1)).to.deep.equal(['blue', 'red']);
    await h.call('network.remove_tags', net1, 'green');
    await h.call('network.remove_tags', net1, 'blue');
    expect(await h.call('network.get_tags', net1)).to.deep.equal(['red']);
    await h.call('network.set_tags', net1, []);
    expect(await h.call('network.get_tags', net1)).to.deep.equal([]);
  });

  it('network.create fills defaults, the record reads back, destroy removes it', async () => {
    const n = await h.call<string>('network.create', { name_label: 'fresh', other_config: { k: 'v' } });
    expect(n).to.match(/^OpaqueRef:[0-9a-f-]{36}$/);
    const rec = await h.call('network.get_record', n);
    expect(rec.name_label).to.equal('fresh');
    expect(rec.name_description).to.equal('');
    expect(rec.MTU).to.equal('1500');
    expect(rec.other_config).to.deep.equal({ k: 'v' });
    expect(rec.tags).to.deep.equal([]);
    expect(rec.managed).to.equal(true);
    expect(rec.PIFs).to.deep.equal([]);
    expect(rec.uuid).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await h.call('network.get_by_uuid', rec.uuid)).to.equal(n);
    await h.call('network.destroy', n);
    expect(await h.fails('network.get_record', n)).to.deep.equal(['HANDLE_INVALID', 'network', n]);
    expect(await h.fails('network.get_by_uuid', rec.uuid)).to.deep.equal(['UUID_INVALID', 'network', rec.uuid]);
  });

  it('network.create takes a full Python-style record (MTU as a string, tags) and ignores unknown keys', async () => {
    const n = await h.call<string>('network.create', { name_label: 'py', name_description: 'd', MTU: '9000', other_config: {}, tags: ['t'], bogus_key: 'x' });
    const rec = await h.call('network.get_record', n);
    expect([rec.name_description, rec.MTU, rec.tags]).to.deep.equal(['d', '9000', ['t']]);
    await h.call('network.destroy', n);
  });

  it('network.create without a required field (other_config) is FIELD_TYPE_ERROR [field] and creates nothing', async () => {
    const before = h.r.store.count('network');
    expect(await h.fails('network.create', { name_label: 'x' })).to.deep.equal(['FIELD_TYPE_ERROR', 'other_config']);
    expect(await h.fails('network.create', 'not a struct')).to.deep.equal(['FIELD_TYPE_ERROR', 'args']);
    expect(await h.fails('network.create', { name_label: 5, other_config: {} })).to.deep.equal(['FIELD_TYPE_ERROR', 'name_label']);
    expect(h.r.store.count('network')).to.equal(before);
  });

  it('enum parameters match case-insensitively except bond_mode', () => {
    expect(enumDef('bond_mode').caseSensitive).to.equal(true);
    expect(enumDef('ip_configuration_mode').caseSensitive).to.equal(undefined);
  });

  it('no message answers INTERNAL_ERROR for type-correct arguments naming objects that do not exist', async () => {
    const argFor = (ty: Ty, garbage: boolean): unknown => {
      switch (ty.k) {
        case 'ref':
          return garbage ? 'garbage' : 'OpaqueRef:NULL';
        case 'string':
          return garbage ? 'z"<>&' : '';
        case 'int':
        case 'int32':
          return garbage ? -1 : 0;
        case 'float':
          return 0.5;
        case 'bool':
          return false;
        case 'datetime':
          return '20250101T00:00:00Z';
        case 'enum':
          return enumDef(ty.name).values[0];
        case 'set':
          return [];
        case 'map':
        case 'record':
          return {};
        default:
          return '';
      }
    };
    const internal: string[] = [];
    for (const [wire, m] of h.r.dispatcher.methods) {
      if (/^session\.|^event\.next$/.test(wire)) continue;
      if (!m.msg.params.some((p) => p.ty.k === 'ref')) continue;
      for (const garbage of [false, true]) {
        try {
          await h.call(wire, ...m.msg.params.map((p) => argFor(p.ty, garbage)));
        } catch (e) {
          if (!(e instanceof XenAPIFailure)) throw e;
          // xapi's own answer to a pool-internal message called with an ordinary session is this INTERNAL_ERROR (session_check.ml).
          const poolOnly = m.msg.poolInternal && e.details[1] === `Internal API "${wire}" call attempted with non-pool (external) session`;
          if (e.details[0] === 'INTERNAL_ERROR' && !poolOnly) internal.push(`${wire}: ${e.details.join(' ')}`);
        }
      }
    }
    expect(internal).to.deep.equal([]);
    expect(await h.call('pool.get_all')).to.deep.equal([h.r.d.poolRef]);
  });
});
