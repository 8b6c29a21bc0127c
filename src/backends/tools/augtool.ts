// augtool, wrapped: a command file built by typed methods (transform, load, rm, set, save) whose
// paths and values are checked token by token — no newline or control character anywhere, no
// whitespace or quote in a path, no value a quote cannot hold — so no caller value can add an
// augtool command (rm, set of another file, save elsewhere). Run as `augtool -A -r ROOT -f FILE`
// through the one Tool choke point.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefusedValue, runCommand, Tool, type Runner, type ToolLog } from './exec.js';

const AUG = 'augtool';
const CONTROL = /[\x00-\x1f\x7f]/;

function path(p: string): string {
  if (typeof p !== 'string' || !/^\/[^\s'"\\]*$/.test(p) || CONTROL.test(p)) throw new RefusedValue(AUG, 'path', p);
  return p;
}

/** A value as one augtool token: bare when it has no space or double quote, else in single quotes (which it may not hold). */
function value(v: string): string {
  if (typeof v !== 'string' || CONTROL.test(v) || v.includes('\\') || v.includes("'")) throw new RefusedValue(AUG, 'value', v);
  return v === '' || v.includes(' ') || v.includes('"') ? `'${v}'` : v;
}

/** An augtool command file under construction. */
export class AugScript {
  private readonly lines: string[] = [];

  /** Makes the file self-contained for `augtool -A`: only `lens` on files matching `incl` are loaded. */
  transform(lens: string, incl: string): this {
    if (!/^[A-Za-z][A-Za-z0-9_]*\.[a-z][A-Za-z0-9_]*$/.test(lens)) throw new RefusedValue(AUG, 'lens', lens);
    this.lines.push(`transform ${lens} incl ${path(incl)}`);
    return this;
  }
  load(): this {
    this.lines.push('load');
    return this;
  }
  rm(p: string): this {
    this.lines.push(`rm ${path(p)}`);
    return this;
  }
  set(p: string, v: string): this {
    this.lines.push(`set ${path(p)} ${value(v)}`);
    return this;
  }
  /** A comment node's text: always quoted. */
  setComment(p: string, text: string): this {
    if (typeof text !== 'string' || CONTROL.test(text) || text.includes("'") || text.includes('\\')) throw new RefusedValue(AUG, 'comment', text);
    this.lines.push(`set ${path(p)} '${text}'`);
    return this;
  }
  save(): this {
    this.lines.push('save');
    return this;
  }
  /** The command file's text. */
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

/**
 * A Runner for augtool that fails on an error it reports with a zero exit too; the failure carries
 * augtool's whole output as `stderr` (the per-file errors of an `errors` command are in it) and
 * the spawn error's `code` when augtool could not start.
 */
export function augtoolRunner(bin = 'augtool'): Runner {
  return async (args) => {
    const r = await runCommand(bin, args);
    const all = String(r.all ?? '');
    if (r.code || r.timedOut) throw Object.assign(new Error(r.shortMessage), { code: r.code, signal: r.signal, stderr: all });
    if (r.exitCode !== 0 || /^error|saving failed/im.test(all)) {
      const out = all.trim().split('\n');
      const errs = out.filter((l) => /error|fail/i.test(l));
      throw Object.assign(new Error(`augtool exited ${r.exitCode ?? r.signal}: ${(errs.length ? errs : out.slice(-3)).join(' / ')}`), {
        exitCode: r.exitCode,
        signal: r.signal ?? undefined,
        stderr: all,
      });
    }
    return all;
  };
}

/** augtool against a root directory. */
export class Augtool {
  readonly tool: Tool;
  constructor(bin = 'augtool', log?: ToolLog, runner: Runner = augtoolRunner(bin)) {
    this.tool = new Tool(AUG, runner, log);
  }
  /** Commands run. */
  get calls(): number {
    return this.tool.calls;
  }
  /** Runs a command file (text as rendered by AugScript, possibly edited by a test hook) under `root`; resolves to augtool's output. */
  async run(root: string, text: string): Promise<string> {
    const tmp = await mkdtemp(join(tmpdir(), 'xenapi-netd-augtool-'));
    try {
      const file = join(tmp, 'node-augtool');
      await writeFile(file, text, { mode: 0o600 });
      return await this.tool.run(['-A', '-r', root, '-f', file]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}
