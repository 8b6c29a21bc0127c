// Failpoints: the named places where a test can make the daemon fail on purpose, as fail-rs and
// gofail do. Every failpoint is declared in FAILPOINTS below (and nowhere else) with what it
// simulates; code calls `failpoint(name, ...)` at that place. All are inert unless armed:
//
//   - from the environment, for a daemon run as a child process:
//       XND_FAILPOINTS='reconciler.step=crash(3);reconciler.db-commit=1*error(Bond.create)'
//   - in process, for a test holding the daemon: `armFailpoint('reconciler.db-commit', '1*error')`.
//
// A spec is `[N*]action[(arg)]`: `crash` SIGKILLs the process on the spot (what a power cut or
// the OOM killer does), `error` throws a FailpointError, `on` only switches the code at that
// place to a deliberately wrong variant (a mutation the tests must catch; read with
// failpointArmed); `N*` fires N times and then disarms;
// `(arg)` restricts the failpoint to calls that pass that argument (the step index, say). `off`
// disarms.

/** Every failpoint, with what it simulates. */
export const FAILPOINTS = {
  /** Before plan step `arg` reaches the backend; steps before it are applied first (crash tests: a kill mid-plan). */
  'reconciler.step': 'the daemon dies while a plan is half applied to the host',
  /** Just after the database commit that also marked the journal entry committed. */
  'reconciler.commit': 'the daemon dies right after committing, before anything after the commit runs',
  /** Inside the SQLite transaction committing a call whose plan reached the host (arg: the call's wire name). */
  'reconciler.db-commit': 'the database commit fails (disk full, I/O error) after the host was changed',
  /** Armed `on`: Bond.destroy plugs only the primary slave, not every slave (seed step 7); the contract replay must fail. */
  'bond.destroy.plug-primary-only': 'a regression in Bond.destroy: the other slaves are left unplugged',
} as const;

/** A failpoint's name. */
export type FailpointName = keyof typeof FAILPOINTS;

/** Thrown by a failpoint armed with `error`. */
export class FailpointError extends Error {
  constructor(readonly failpoint: FailpointName) {
    super(`failpoint ${failpoint}`);
    this.name = 'FailpointError';
  }
}

interface Armed {
  action: 'crash' | 'error' | 'on';
  count?: number;
  arg?: string;
}

const armed = new Map<FailpointName, Armed>();

function parse(name: string, spec: string): Armed | undefined {
  if (!(name in FAILPOINTS)) throw new Error(`unknown failpoint ${name} (known: ${Object.keys(FAILPOINTS).join(', ')})`);
  const m = /^(?:(\d+)\*)?(crash|error|on|off)(?:\(([^()]*)\))?$/.exec(spec.trim());
  if (!m) throw new Error(`failpoint ${name}: bad spec ${JSON.stringify(spec)} (want [N*]crash|error|on|off[(arg)])`);
  if (m[2] === 'off') return undefined;
  return { action: m[2] as Armed['action'], count: m[1] === undefined ? undefined : Number(m[1]), arg: m[3] };
}

/** Arms (or, with 'off', disarms) one failpoint. */
export function armFailpoint(name: FailpointName, spec: string): void {
  const a = parse(name, spec);
  if (a) armed.set(name, a);
  else armed.delete(name);
}

/** Disarms every failpoint. */
export function disarmFailpoints(): void {
  armed.clear();
}

/** Arms the failpoints named in XND_FAILPOINTS (`name=spec;name=spec`). */
export function armFromEnv(env: string | undefined = process.env.XND_FAILPOINTS): void {
  for (const part of (env ?? '').split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`XND_FAILPOINTS: ${JSON.stringify(part)} is not name=spec`);
    armFailpoint(part.slice(0, eq).trim() as FailpointName, part.slice(eq + 1));
  }
}

/** True when `name` is armed for `arg`, or for anything when `arg` is omitted (cheap: hot paths call it). */
export function failpointArmed(name: FailpointName, arg?: string | number): boolean {
  const a = armed.get(name);
  return a !== undefined && (arg === undefined || a.arg === undefined || a.arg === String(arg));
}

/** Fires `name` if it is armed for `arg`: crashes the process or throws FailpointError. */
export function failpoint(name: FailpointName, arg?: string | number): void {
  if (armed.size === 0) return;
  const a = armed.get(name);
  if (!a || a.action === 'on' || (a.arg !== undefined && a.arg !== String(arg))) return;
  if (a.count !== undefined && --a.count <= 0) armed.delete(name);
  if (a.action === 'crash') process.kill(process.pid, 'SIGKILL');
  throw new FailpointError(name);
}

armFromEnv();
