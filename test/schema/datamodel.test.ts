// The datamodel is consistent with itself: every type it names exists, defaults have their
// field's type, relations join a stored Ref to a computed Set(Ref), and the classes clients
// depend on have the shape xapi gives them.
import { expect } from 'chai';
import { API_VERSION, classes, enumDef, enums, errors, manySide, relations, storedClasses, storedFields, visibleFields, type Ty } from '../../schema/index.js';

const modelled = new Set(classes.map((c) => c.name));
/** xapi classes our fields point at without modelling them (always NULL / empty here). */
const NOT_MODELLED = new Set([
  'subject',
  'SR',
  'blob',
  'secret',
  'VDI',
  'Repository',
  'host_crashdump',
  'host_patch',
  'pool_update',
  'PBD',
  'host_cpu',
  'PCI',
  'PGPU',
  'PUSB',
  'Feature',
  'Certificate',
  'network_sriov',
  'console',
  'VBD',
  'VUSB',
  'crashdump',
  'VTPM',
  'VMPP',
  'VMSS',
  'VM_appliance',
  'VGPU',
  'VM_group',
]);

function walk(t: Ty, f: (t: Ty) => void): void {
  f(t);
  if (t.k === 'set') walk(t.of, f);
  if (t.k === 'map') {
    walk(t.key, f);
    walk(t.val, f);
  }
}
function fits(t: Ty, v: unknown): boolean {
  switch (t.k) {
    case 'string':
      return typeof v === 'string';
    case 'datetime':
      return typeof v === 'string' && /^\d{8}T\d\d:\d\d:\d\dZ$/.test(v);
    case 'int':
    case 'int32':
      return Number.isInteger(v);
    case 'float':
      return typeof v === 'number';
    case 'bool':
      return typeof v === 'boolean';
    case 'enum':
      return enumDef(t.name).values.includes(v as string);
    case 'ref':
      return typeof v === 'string' && v.startsWith('OpaqueRef:');
    case 'set':
      return Array.isArray(v) && v.every((x) => fits(t.of, x));
    case 'map':
      return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => fits(t.val, x));
    default:
      return true;
  }
}
const allTypes = function* () {
  for (const c of classes) {
    for (const fd of c.fields) yield { where: `${c.name}.${fd.name}`, ty: fd.ty };
    for (const m of c.messages) {
      for (const p of m.params) yield { where: `${c.name}.${m.name}(${p.name})`, ty: p.ty };
      yield { where: `${c.name}.${m.name} result`, ty: m.result };
    }
  }
};

describe('schema/datamodel', () => {
  it('has the classes the foundation needs', () => {
    for (const c of ['pool', 'host', 'PIF', 'PIF_metrics', 'Bond', 'network', 'VLAN', 'tunnel', 'VIF', 'VM', 'VM_guest_metrics', 'session', 'task', 'event']) {
      expect(modelled, c).to.include(c);
    }
  });

  it('every stored class starts with uuid, a string', () => {
    for (const c of storedClasses()) {
      expect(c.fields[0]?.name, c.name).to.equal('uuid');
      expect(c.fields[0].ty, c.name).to.deep.equal({ k: 'string' });
    }
  });

  it('field, message and enum names are unique where they must be', () => {
    expect(new Set(classes.map((c) => c.name)).size).to.equal(classes.length);
    expect(new Set(classes.map((c) => c.name.toLowerCase())).size).to.equal(classes.length);
    expect(new Set(enums.map((e) => e.name)).size).to.equal(enums.length);
    for (const c of classes) {
      expect(new Set(c.fields.map((f) => f.name)).size, c.name).to.equal(c.fields.length);
      expect(new Set(c.messages.map((m) => m.name)).size, c.name).to.equal(c.messages.length);
    }
  });

  it('every enum named by a field or parameter exists, and enum values are unique', () => {
    for (const { where, ty } of allTypes())
      walk(ty, (t) => {
        if (t.k === 'enum') expect(() => enumDef(t.name), where).not.to.throw();
      });
    for (const e of enums) expect(new Set(e.values).size, e.name).to.equal(e.values.length);
  });

  it('every class named by a ref is modelled or on the known list of unmodelled xapi classes', () => {
    const unknown = new Set<string>();
    for (const { ty } of allTypes())
      walk(ty, (t) => {
        if ((t.k === 'ref' || t.k === 'record') && !modelled.has(t.cls)) unknown.add(t.cls);
      });
    expect([...unknown].filter((c) => !NOT_MODELLED.has(c))).to.deep.equal([]);
  });

  it('every relation joins a stored Ref on one side to a DynamicRO Set(Ref) on the other', () => {
    for (const r of relations) {
      const one = classes.find((c) => c.name === r.one.cls)?.fields.find((f) => f.name === r.one.field);
      const many = classes.find((c) => c.name === r.many.cls)?.fields.find((f) => f.name === r.many.field);
      const name = `${r.one.cls}.${r.one.field} -> ${r.many.cls}.${r.many.field}`;
      expect(one, name).to.not.equal(undefined);
      expect(many, name).to.not.equal(undefined);
      expect(one!.ty, name).to.deep.equal({ k: 'ref', cls: r.many.cls });
      expect(many!.ty, name).to.deep.equal({ k: 'set', of: { k: 'ref', cls: r.one.cls } });
      expect(many!.qual, name).to.equal('DynamicRO');
      expect(manySide(r.many.cls, r.many.field), name).to.equal(r);
    }
  });

  it('has the relations clients navigate', () => {
    const has = (a: string, b: string) => relations.some((r) => `${r.one.cls}.${r.one.field}` === a && `${r.many.cls}.${r.many.field}` === b);
    expect(has('PIF.network', 'network.PIFs')).to.equal(true);
    expect(has('PIF.bond_slave_of', 'Bond.slaves')).to.equal(true);
    expect(has('Bond.master', 'PIF.bond_master_of')).to.equal(true);
    expect(has('VLAN.tagged_PIF', 'PIF.VLAN_slave_of')).to.equal(true);
    expect(has('PIF.host', 'host.PIFs')).to.equal(true);
    expect(has('VIF.network', 'network.VIFs')).to.equal(true);
    expect(has('VIF.VM', 'VM.VIFs')).to.equal(true);
    expect(has('VM.resident_on', 'host.resident_VMs')).to.equal(true);
  });

  it('every field default and parameter default has the type of its field', () => {
    const bad: string[] = [];
    for (const c of classes) {
      for (const fd of c.fields) if (fd.default !== undefined && !fits(fd.ty, fd.default)) bad.push(`${c.name}.${fd.name} = ${JSON.stringify(fd.default)}`);
      for (const m of c.messages)
        for (const p of m.params)
          if (p.default !== undefined && !fits(p.ty, p.default)) bad.push(`${c.name}.${m.name}(${p.name}) = ${JSON.stringify(p.default)}`);
    }
    expect(bad).to.deep.equal([]);
  });

  it('parameters with defaults come last', () => {
    for (const c of classes)
      for (const m of c.messages) {
        const i = m.params.findIndex((p) => p.default !== undefined);
        if (i >= 0)
          expect(
            m.params.slice(i).every((p) => p.default !== undefined),
            `${c.name}.${m.name}`,
          ).to.equal(true);
      }
  });

  it('every error code a message declares is in the error table, with unique codes', () => {
    const codes = new Set(errors.map((e) => e.code));
    expect(codes.size).to.equal(errors.length);
    for (const c of classes) for (const m of c.messages) for (const e of m.errors ?? []) expect(codes, `${c.name}.${m.name}`).to.include(e);
    for (const e of [
      'SESSION_INVALID',
      'SESSION_AUTHENTICATION_FAILED',
      'MESSAGE_METHOD_UNKNOWN',
      'MESSAGE_PARAMETER_COUNT_MISMATCH',
      'HANDLE_INVALID',
      'UUID_INVALID',
      'MAP_DUPLICATE_KEY',
      'EVENTS_LOST',
      'EVENT_FROM_TOKEN_PARSE_FAILURE',
      'SESSION_NOT_REGISTERED',
      'TASK_CANCELLED',
    ]) {
      expect(codes, e).to.include(e);
    }
  });

  it('computed relation sides and derived fields are not stored; every other field is', () => {
    for (const c of storedClasses()) {
      const stored = storedFields(c).map((f) => f.name);
      for (const fd of c.fields) expect(stored.includes(fd.name), `${c.name}.${fd.name}`).to.equal(!manySide(c.name, fd.name) && !fd.derived);
    }
  });

  it('internal fields are stored but never visible', () => {
    for (const c of classes)
      for (const fd of c.fields.filter((f) => f.internal)) {
        expect(
          visibleFields(c).map((f) => f.name),
          `${c.name}.${fd.name}`,
        ).not.to.include(fd.name);
      }
  });

  it('bond_mode matches case-sensitively, with xapi spellings', () => {
    expect(enumDef('bond_mode')).to.deep.equal({ name: 'bond_mode', values: ['balance-slb', 'active-backup', 'lacp'], caseSensitive: true });
    expect(enumDef('ip_configuration_mode').values).to.deep.equal(['None', 'DHCP', 'Static']);
  });

  it('reports API version 2.23 by XenSource', () => {
    expect(API_VERSION).to.deep.equal({ major: 2, minor: 23, vendor: 'XenSource' });
  });

  it('network has xapi fields with xapi defaults; its constructor needs only other_config', () => {
    const n = classes.find((c) => c.name === 'network')!;
    const f = (name: string) => n.fields.find((x) => x.name === name)!;
    expect(n.genConstructor).to.equal(true);
    expect([f('MTU').default, f('bridge').default, f('managed').default, f('tags').default, f('name_label').default]).to.deep.equal([1500, '', true, [], '']);
    expect(f('other_config').default).to.equal(undefined);
    expect(f('PIFs').ty).to.deep.equal({ k: 'set', of: { k: 'ref', cls: 'PIF' } });
  });
});
