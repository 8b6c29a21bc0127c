// The types derived from schema/ (schema/model.ts) reject what they are for: test/types/cases/
// holds handlers and callers with parameters bound by position or passed in the wrong order, a
// misspelt field or class, a value of the wrong type and an undeclared error code. Each such line
// carries `// error TSnnnn`; the compiler must report exactly those errors there, and nothing in
// ok.ts (the same things written correctly). The cases are compiled here, not by `make build`.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CASES = join(ROOT, 'test/types/cases');

/** `line:TScode` for every `// error TSnnnn` marker of a case file. */
function expected(file: string): string[] {
  const out: string[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((l, i) => {
      const m = /\/\/ error (TS\d+)\s*$/.exec(l);
      if (m) out.push(`${i + 1}:${m[1]}`);
    });
  return out.sort();
}

describe('types derived from schema/ (test/types/cases)', function () {
  this.timeout(300_000);
  const reported = new Map<string, Set<string>>();
  const messages: string[] = [];

  before(() => {
    const cfgFile = join(CASES, 'tsconfig.json');
    const cfg = ts.readConfigFile(cfgFile, (f) => ts.sys.readFile(f));
    const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, CASES);
    expect(parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).to.deep.equal([]);
    const program = ts.createProgram(parsed.fileNames, parsed.options);
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file) {
        messages.push(`(no file) TS${d.code} ${text}`);
        continue;
      }
      const line = d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1;
      const key = basename(d.file.fileName);
      if (!reported.has(key)) reported.set(key, new Set());
      reported.get(key)!.add(`${line}:TS${d.code}`);
      messages.push(`${key}:${line} TS${d.code} ${text.split('\n')[0]}`);
    }
  });

  it('compiles the correct handler and caller (ok.ts) without an error', () => {
    expect([...(reported.get('ok.ts') ?? [])], messages.join('\n')).to.deep.equal([]);
    expect(messages.filter((m) => m.startsWith('(no file)'))).to.deep.equal([]);
  });

  const files = readdirSync(CASES).filter((f) => f.endsWith('.ts') && f !== 'ok.ts');
  it('has the three must-not-compile cases', () => {
    expect(files.sort()).to.deep.equal(['misspelt-field.ts', 'undeclared-error.ts', 'wrong-parameter-order.ts']);
  });
  for (const f of files) {
    it(`${f}: the compiler reports exactly the marked errors`, () => {
      const want = expected(join(CASES, f));
      expect(want.length, 'markers').to.be.greaterThan(0);
      expect([...(reported.get(f) ?? [])].sort(), messages.join('\n')).to.deep.equal(want);
    });
  }

  it('a PIF ref passed where a network ref belongs is named in the error', () => {
    expect(messages.some((m) => m.startsWith('wrong-parameter-order.ts:11 TS2345') && m.includes('Ref<"network">') && m.includes('Ref<"PIF">'))).to.equal(true);
  });
  it('an undeclared code is refused as not a FailureCode', () => {
    expect(messages.some((m) => m.startsWith('undeclared-error.ts:8 TS2345') && m.includes('"PIF_IS_BROKEN"') && m.includes('FailureCode'))).to.equal(true);
  });
});
