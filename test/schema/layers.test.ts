// The import graph of src/ and schema/ (read from the TypeScript sources in the repository, type-only
// imports included: they couple modules as much as value imports do): no module reaches itself
// through its imports, and a layer imports only layers below it (docs/architecture.md "Layers").
// wire/, store/ and backends/ import nothing above schema/, errors.ts and failpoints.ts.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Layer ranks, lowest first: a module may import only modules of its own or a lower rank. */
const RANKS: [string, number][] = [
  ['schema/', 0],
  ['src/errors.ts', 0],
  ['src/failpoints.ts', 0],
  ['src/log.ts', 0],
  ['src/collate.ts', 0],
  ['src/heap.ts', 0],
  ['src/native.ts', 0],
  ['src/lazy.ts', 0],
  ['src/wire/', 1],
  ['src/store/', 1],
  ['src/backends/', 1],
  ['src/reconciler/', 2],
  ['src/api/', 3],
  ['src/xapi/', 4],
  ['src/pool/', 5],
  ['src/config.ts', 6],
  ['src/daemon.ts', 7],
  ['src/main.ts', 8],
  ['src/cli/', 8],
];

function rank(file: string): number {
  const hit = RANKS.find(([p]) => (p.endsWith('/') ? file.startsWith(p) : file === p));
  if (!hit) throw new Error(`${file}: no layer declared for it in test/schema/layers.test.ts`);
  return hit[1];
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if ((name.endsWith('.ts') || name.endsWith('.cts')) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Module → the repository modules it imports (relative specifiers, `.js`/`.cjs` mapped back to `.ts`/`.cts`). */
export function importGraph(files: string[], read: (f: string) => string): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files) {
    const info = ts.preProcessFile(read(f), true, true);
    const deps = info.importedFiles
      .map((i) => i.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) =>
        relative(ROOT, resolve(ROOT, dirname(f), s))
          .replace(/\.js$/, '.ts')
          .replace(/\.cjs$/, '.cts'),
      );
    g.set(f, [...new Set(deps)]);
  }
  return g;
}

/** Every elementary cycle found by a depth-first search (one per back edge). */
export function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of g.get(n) ?? []) {
      if (state.get(m) === 1) found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return found;
}

/** Imports that go from a lower layer up to a higher one. */
export function upward(g: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [f, deps] of g) for (const d of deps) if (rank(d) > rank(f)) bad.push(`${f} -> ${d}`);
  return bad;
}

describe('layers: the import graph of src/ and schema/', () => {
  const files = [...sources('src'), ...sources('schema')];
  const g = importGraph(files, (f) => readFileSync(join(ROOT, f), 'utf8'));

  it('every module resolves to a file of the repository and has a layer', () => {
    for (const [f, deps] of g) {
      rank(f);
      for (const d of deps) expect(g.has(d), `${f} imports ${d}, which is not a source file`).to.equal(true);
    }
  });

  it('has no import cycle', () => {
    expect(cycles(g).map((c) => c.join(' -> '))).to.deep.equal([]);
  });

  it('no layer imports a layer above it (wire, store and backends only schema/ and errors.ts)', () => {
    expect(upward(g)).to.deep.equal([]);
  });

  it('the checks catch a cycle and an upward import', () => {
    const bad = new Map([
      ['src/pool/forward.ts', ['src/pool/service.ts']],
      ['src/pool/service.ts', ['src/pool/forward.ts']],
      ['src/store/store.ts', ['src/xapi/bond.ts']],
      ['src/xapi/bond.ts', []],
    ]);
    expect(cycles(bad)).to.deep.equal([['src/pool/forward.ts', 'src/pool/service.ts', 'src/pool/forward.ts']]);
    expect(upward(bad)).to.deep.equal(['src/store/store.ts -> src/xapi/bond.ts']);
  });
});
