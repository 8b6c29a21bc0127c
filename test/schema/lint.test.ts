// The lint runs with the tests (issue 13 §5), so CI counts it like any other check: eslint with
// eslint.config.js and prettier --check with .prettierrc.json over the repository's code.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

describe('lint (make lint)', function () {
  this.timeout(120_000);

  it('eslint finds nothing', async () => {
    const r = await execa('npx', ['eslint', '.'], { cwd: REPO, reject: false });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
  });

  it('the code is formatted as prettier formats it (make format)', async () => {
    const r = await execa('npx', ['prettier', '--check', '--log-level', 'warn', '**/*.{ts,cts,cjs,js,mjs}'], { cwd: REPO, reject: false });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
  });
});
