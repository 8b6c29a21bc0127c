// src/collate.ts orders ASCII strings exactly as ICU's `localeCompare` ('en', plain and numeric)
// does, which the daemon used before: desired state, bond members, ifcfg files and live devices
// keep their order. Differential: generated device-like names and arbitrary printable ASCII,
// every pair compared both ways.
import { expect } from 'chai';
import { naturalCompare, plainCompare } from '../../src/collate.js';

/** A small seeded generator, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
const NAMEISH = 'abeEhHlnNoOrstTvxX_.-:0123456789';

function words(seed: number, n: number, alphabet: string, maxLen: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    let s = '';
    const len = Math.floor(r() * (maxLen + 1));
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(r() * alphabet.length)];
    out.push(s);
  }
  return out;
}

const sign = (x: number) => Math.sign(x);

function agree(list: string[], ours: (a: string, b: string) => number, icu: (a: string, b: string) => number): string[] {
  const bad: string[] = [];
  for (const a of list)
    for (const b of list) if (sign(ours(a, b)) !== sign(icu(a, b))) bad.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ${ours(a, b)} / ICU ${icu(a, b)}`);
  return bad;
}

const DEVICES = [
  '',
  'eth0',
  'eth1',
  'eth2',
  'eth10',
  'eth01',
  'eth001',
  'Eth1',
  'ETH2',
  'eth0.100',
  'eth0.20',
  'eth0.3',
  'bond0',
  'bond10',
  'bond-1',
  'bond_1',
  'xenbr0',
  'xenbr10',
  'xapi0',
  'xapi12',
  'enp3s0f1',
  'enp3s0f0',
  'enp10s0',
  'ens1',
  'ens1d1',
  'em1',
  'p1p2',
  'vlan100',
  'vlan99',
  'a',
  'A',
  'aB',
  'Ab',
  'ab',
  'a-b',
  'a_b',
  'a.b',
  'a:b',
  'ifcfg-eth0',
  'ifcfg-eth0:1',
  'ifcfg-eth0:10',
  'ifcfg-xenbr0',
  'lacp-time',
  'lacp_time',
  'bond-mode',
  'bond_mode',
  'other-config',
  '0',
  '00',
  '1',
  '9',
  '10',
  'x9y',
  'x10y',
  'x09y',
];

describe('collate: localeCompare order without ICU', () => {
  const natIcu = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  const plainIcu = (a: string, b: string) => a.localeCompare(b, 'en');

  it('orders device and file names as ICU does (natural and plain)', () => {
    expect(agree(DEVICES, naturalCompare, natIcu)).to.deep.equal([]);
    expect(agree(DEVICES, plainCompare, plainIcu)).to.deep.equal([]);
  });

  it('orders generated device-like names as ICU does', () => {
    const list = words(1, 400, NAMEISH, 8);
    expect(agree(list, naturalCompare, natIcu)).to.deep.equal([]);
    expect(agree(list, plainCompare, plainIcu)).to.deep.equal([]);
  });

  it('orders arbitrary printable ASCII as ICU does', () => {
    const list = words(2, 300, PRINTABLE, 6);
    expect(agree(list, naturalCompare, natIcu)).to.deep.equal([]);
    expect(agree(list, plainCompare, plainIcu)).to.deep.equal([]);
  });

  it('leaves what is not printable ASCII to ICU', () => {
    const list = ['é', 'e', 'f', 'eth\u00e90', 'eth\t1', 'x' + '1'.repeat(300), 'x' + '1'.repeat(299) + '2'];
    expect(agree(list, naturalCompare, natIcu)).to.deep.equal([]);
    expect(agree(list, plainCompare, plainIcu)).to.deep.equal([]);
  });
});
