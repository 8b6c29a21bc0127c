// The one choke point through which the backends run host tools (ovs-vsctl, ovs-appctl, ip,
// augtool), as xcp-networkd's Forkhelpers-based call_script: argv only (never a shell), every
// command logged, every failure raised as a ToolError naming the tool, its argv and its stderr.
// The per-tool modules beside this one build argv from validated values; this layer refuses
// anything that is not a plain string or holds a NUL, and nothing else in src/ spawns a process.

import { execa } from 'execa';

/** Runs one command with the given arguments, resolving to stdout, rejecting on a non-zero exit. */
export type Runner = (args: string[]) => Promise<string>;

/** Where tool commands are logged (the daemon's winston logger fits). */
export interface ToolLog {
  debug?(m: string): void;
  info(m: string): void;
  warn(m: string): void;
}

/** A host tool failed (or a value was refused before it ran): tool, argv, exit code / signal, stderr. */
export class ToolError extends Error {
  constructor(
    readonly tool: string,
    readonly argv: readonly string[],
    message: string,
    readonly exitCode?: number,
    readonly signal?: string,
    readonly stderr = '',
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

/** A value refused before any command was built (a token with whitespace, a bad name...). */
export class RefusedValue extends ToolError {
  constructor(tool: string, what: string, value: unknown) {
    super(tool, [], `${tool}: refused ${what} ${JSON.stringify(String(value))}`);
    this.name = 'RefusedValue';
  }
}

/** The readable text of a failure: stderr, then execa's short message. */
export function errText(e: unknown): string {
  if (e instanceof ToolError) return e.message;
  if (e && typeof e === 'object') {
    const o = e as { stderr?: unknown; shortMessage?: unknown; message?: unknown };
    const parts = [o.stderr, o.shortMessage ?? o.message].filter((x) => typeof x === 'string' && x.trim() !== '');
    if (parts.length) return [...new Set(parts as string[])].join(': ').trim();
  }
  return String(e);
}

/** Shell-like quoting for log lines only (never executed). */
function show(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a);
}

/** One host tool: counts, logs and runs argv through its Runner; failures become ToolError. */
export class Tool {
  /** Commands run (tests, benchmarks). */
  calls = 0;

  constructor(readonly name: string, private readonly runner: Runner, private readonly log?: ToolLog) {}

  /** Runs `argv` (each element one argument, passed as is); resolves to stdout. */
  async run(argv: readonly string[]): Promise<string> {
    for (const a of argv) if (typeof a !== 'string' || a.includes('\0')) throw new RefusedValue(this.name, 'argument', a);
    this.calls++;
    const line = `${this.name} ${argv.map(show).join(' ')}`;
    if (this.log?.debug) this.log.debug(line);
    try {
      return await this.runner([...argv]);
    } catch (e) {
      const o = e as { exitCode?: unknown; signal?: unknown; stderr?: unknown };
      const err = new ToolError(this.name, argv, `${this.name}: ${errText(e)}`,
        typeof o?.exitCode === 'number' ? o.exitCode : undefined, typeof o?.signal === 'string' ? o.signal : undefined,
        typeof o?.stderr === 'string' ? o.stderr : '');
      this.log?.warn(`${line}: failed: ${errText(e)}`);
      throw err;
    }
  }
}

/** A Runner for a local binary: `cmd ...pre ...args`, with an optional environment. */
export function localRunner(cmd: string, pre: string[] = [], env?: Record<string, string>): Runner {
  return async (args) => (await execa(cmd, [...pre, ...args], { env, stdin: 'ignore' })).stdout;
}

/** A Runner that resolves whatever the exit code, to stdout+stderr interleaved and the exit code (augtool reports errors on a zero exit). */
export function localRunnerAll(cmd: string): (args: string[]) => Promise<{ all: string; exitCode: number | undefined; signal?: string }> {
  return async (args) => {
    const r = await execa(cmd, args, { reject: false, stdin: 'ignore', all: true });
    return { all: String(r.all ?? ''), exitCode: r.exitCode, signal: r.signal ?? undefined };
  };
}
