// The one choke point through which the backends run host tools (ovs-vsctl, ovs-appctl, ip,
// augtool), as xcp-networkd's Forkhelpers-based call_script: argv only (never a shell), every
// command logged, every failure raised as a ToolError naming the tool, its argv and its stderr.
// The per-tool modules beside this one build argv from validated values; this layer refuses
// anything that is not a plain string or holds a NUL, and nothing else in src/ spawns a process.
// Commands are spawned with node:child_process directly (runCommand): execa cost ~20 ms more per
// command on a loaded 2-core machine (inside the management outage of a bond move: make bench
// `ovs`) and several MB of resident modules in an idle daemon.
// Every command has a time limit (the backends run under the daemon's write lock: a hung ifup
// must not hold it): each command is the leader of its own process group, and on expiry the
// whole group is killed by that PID, so a tool's own children (ifup's dhclient, a script's
// sleep) go with it; the command then fails as any other failure does. A monitor (Runner.stream,
// `ip -o monitor link`) has no limit: its caller stops it, by its PID, when done watching.

import { spawn } from 'node:child_process';

/** Runs one command with the given arguments, resolving to stdout, rejecting on a non-zero exit. */
export type Runner = ((args: string[]) => Promise<string>) & {
  /**
   * Where the runner can (localRunner's): starts the command at once and writes what `input`
   * resolves to on its stdin, then closes it; resolves as the plain call does.
   */
  withInput?: (args: string[], input: Promise<string>) => Promise<string>;
  /**
   * Where the runner can (localRunner's): starts a long-running command (a monitor) whose stdout
   * lines go to `onLine` as they come; `stop` ends that one process (SIGTERM) and resolves once it
   * has exited; `done` resolves when it exits by itself or is stopped (never rejects).
   */
  stream?: (args: string[], onLine: (line: string) => void) => Streaming;
};

/** A running monitor command (Runner.stream). */
export interface Streaming {
  stop(): Promise<void>;
  done: Promise<void>;
}

/** Where tool commands are logged (the daemon's Log fits). */
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
    /** The spawn error's code when the command could not start (ENOENT: no such binary). */
    readonly code?: string,
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

/** The readable text of a failure: stderr, then the short message (`Command failed with exit code 1: ip ...`). */
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

  constructor(
    readonly name: string,
    private readonly runner: Runner,
    private readonly log?: ToolLog,
  ) {}

  /** True if the runner can start a command now and feed its stdin later (runWithInput). */
  get feeds(): boolean {
    return typeof this.runner.withInput === 'function';
  }

  /** Runs `argv` (each element one argument, passed as is); resolves to stdout. */
  async run(argv: readonly string[]): Promise<string> {
    return this.exec(argv);
  }

  /** run(), the command started at once and `input` written to its stdin once it resolves (only where `feeds`). */
  async runWithInput(argv: readonly string[], input: Promise<string>): Promise<string> {
    if (!this.feeds) throw new Error(`${this.name}: this runner cannot feed a command's stdin`);
    return this.exec(argv, input);
  }

  /** True if the runner can start a monitor whose output lines stream back (watch). */
  get streams(): boolean {
    return typeof this.runner.stream === 'function';
  }

  /** Starts `argv` as a monitor (only where `streams`): each stdout line to `onLine` until stopped. */
  watch(argv: readonly string[], onLine: (line: string) => void): Streaming {
    if (!this.streams) throw new Error(`${this.name}: this runner cannot stream a command's output`);
    this.check(argv);
    return this.runner.stream!([...argv], onLine);
  }

  private check(argv: readonly string[]): string {
    for (const a of argv) if (typeof a !== 'string' || a.includes('\0')) throw new RefusedValue(this.name, 'argument', a);
    this.calls++;
    const line = `${this.name} ${argv.map(show).join(' ')}`;
    if (this.log?.debug) this.log.debug(line);
    return line;
  }

  private async exec(argv: readonly string[], input?: Promise<string>): Promise<string> {
    const line = this.check(argv);
    try {
      return await (input ? this.runner.withInput!([...argv], input) : this.runner([...argv]));
    } catch (e) {
      const o = e as { exitCode?: unknown; signal?: unknown; stderr?: unknown; code?: unknown };
      const err = new ToolError(
        this.name,
        argv,
        `${this.name}: ${errText(e)}`,
        typeof o?.exitCode === 'number' ? o.exitCode : undefined,
        typeof o?.signal === 'string' ? o.signal : undefined,
        typeof o?.stderr === 'string' ? o.stderr : '',
        typeof o?.code === 'string' ? o.code : undefined,
      );
      this.log?.warn(`${line}: failed: ${errText(e)}`);
      throw err;
    }
  }
}

/** A command that has exited (or could not start): its output, and how it ended. */
export interface Finished {
  /** stdout and stderr without their final newline; `all`, the two interleaved as they came. */
  stdout: string;
  stderr: string;
  all: string;
  exitCode?: number;
  signal?: string;
  /** The spawn error's code when it could not start (ENOENT: no such binary). */
  code?: string;
  failed: boolean;
  /** `Command failed with exit code 1: ip link ...`, `Command timed out after 30000 ms: ...`. */
  shortMessage: string;
  /** True when the time limit ran out and the command's process group was killed. */
  timedOut?: boolean;
}

/** The time limit of a command whose wrapper sets none (ip, ovs-vsctl, augtool answer in milliseconds; a hang is a fault). */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** How long a timed-out command's group may take to close its output after SIGKILL before it is given up on (a descendant that left the group may hold the pipes). */
const KILL_GRACE_MS = 1000;

const chomp = (s: string) => (s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s);

/**
 * Runs `cmd args` (argv, never a shell) with `env` over the daemon's environment; never rejects.
 * stdin is closed, or with `input` gets what it resolves to (the command starts at once). After
 * `timeoutMs` the command's process group is killed (SIGKILL) and it fails with `timedOut`.
 */
export function runCommand(
  cmd: string,
  args: readonly string[],
  env?: Record<string, string>,
  input?: Promise<string>,
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<Finished> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const all: Buffer[] = [];
    const line = [cmd, ...args].join(' ');
    let done = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnErr?: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const failed = !!spawnErr || timedOut || exitCode !== 0;
      const shortMessage = spawnErr
        ? `Command failed with ${spawnErr.code ?? spawnErr.message}: ${line}`
        : timedOut
          ? `Command timed out after ${timeoutMs} ms: ${line}`
          : signal
            ? `Command was killed with ${signal}: ${line}`
            : exitCode !== 0
              ? `Command failed with exit code ${exitCode}: ${line}`
              : '';
      resolve({
        stdout: chomp(Buffer.concat(out).toString('utf8')),
        stderr: chomp(Buffer.concat(err).toString('utf8')),
        all: chomp(Buffer.concat(all).toString('utf8')),
        exitCode: exitCode ?? undefined,
        signal: signal ?? undefined,
        code: spawnErr?.code,
        failed,
        shortMessage,
        ...(timedOut ? { timedOut } : {}),
      });
    };
    let child;
    try {
      // detached: the command leads a new process group (setsid), which a timeout kills whole.
      child = spawn(cmd, args, { env: env ? { ...process.env, ...env } : process.env, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      finish(null, null, e as NodeJS.ErrnoException);
      return;
    }
    const pid = child.pid;
    if (pid !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // the group is gone already: its close event is on its way
        }
        setTimeout(() => finish(null, 'SIGKILL'), KILL_GRACE_MS).unref();
      }, timeoutMs);
      timer.unref();
    }
    child.stdout!.on('data', (c: Buffer) => {
      out.push(c);
      all.push(c);
    });
    child.stderr!.on('data', (c: Buffer) => {
      err.push(c);
      all.push(c);
    });
    child.on('error', (e) => finish(null, null, e));
    if (input && child.stdin) {
      const stdin = child.stdin;
      stdin.on('error', () => undefined); // the command may exit before reading it: its exit status tells
      input.then(
        (text) => stdin.end(text),
        () => stdin.end(),
      );
    }
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** runCommand's result as a Runner expects it: stdout, or a rejection carrying exitCode, signal, stderr and shortMessage. */
async function stdoutOf(cmd: string, args: readonly string[], env?: Record<string, string>, input?: Promise<string>, timeoutMs?: number): Promise<string> {
  const r = await runCommand(cmd, args, env, input, timeoutMs);
  if (r.failed) throw Object.assign(new Error(r.shortMessage), r);
  return r.stdout;
}

/** Starts `cmd args` (argv, stdin closed, stderr dropped) and hands each stdout line to `onLine`; see Runner.stream. */
export function streamCommand(cmd: string, args: readonly string[], onLine: (line: string) => void, env?: Record<string, string>): Streaming {
  let child: ReturnType<typeof spawn> | undefined;
  let exited!: () => void;
  const done = new Promise<void>((r) => (exited = r));
  try {
    child = spawn(cmd, args, { env: env ? { ...process.env, ...env } : process.env, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    exited();
    return { stop: async () => undefined, done };
  }
  let rest = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    const lines = (rest + c).split('\n');
    rest = lines.pop()!;
    for (const l of lines) onLine(l);
  });
  child.on('error', () => exited());
  child.on('close', () => exited());
  const proc = child;
  return {
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      // A monitor that ignores SIGTERM must not keep its caller (who may hold the write lock) waiting.
      const kill = setTimeout(() => proc.kill('SIGKILL'), 1000);
      await done;
      clearTimeout(kill);
    },
    done,
  };
}

/**
 * A Runner for a local binary: `cmd ...pre ...args`, with an optional environment (added to the
 * daemon's) and time limit (DEFAULT_TIMEOUT_MS when not given; each tools/* wrapper has its own).
 */
export function localRunner(cmd: string, pre: string[] = [], env?: Record<string, string>, timeoutMs?: number): Runner {
  return Object.assign((args: string[]) => stdoutOf(cmd, [...pre, ...args], env, undefined, timeoutMs), {
    withInput: (args: string[], input: Promise<string>) => stdoutOf(cmd, [...pre, ...args], env, input, timeoutMs),
    // No time limit: the caller stops the monitor (Streaming.stop) when it is done watching.
    stream: (args: string[], onLine: (line: string) => void) => streamCommand(cmd, [...pre, ...args], onLine, env),
  });
}

/** A Runner that resolves whatever the exit code, to stdout+stderr interleaved and the exit code (augtool reports errors on a zero exit). */
export function localRunnerAll(cmd: string): (args: string[]) => Promise<{ all: string; exitCode: number | undefined; signal?: string }> {
  return async (args) => {
    const r = await runCommand(cmd, args);
    return { all: r.all, exitCode: r.exitCode, signal: r.signal };
  };
}
