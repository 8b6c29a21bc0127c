// The benchmark report: every benchmark records its figures here (area, name, value, unit and,
// where the project has one, the target), and `make bench` prints one table per area with the
// target beside each figure and `met`/`missed`, writes the same as JSON (bench/results.json, not
// committed) and, with COMPARE=old.json, prints each figure beside the old run's.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A target: the figure must be `op` than `value` (in the figure's unit). */
export interface Target {
  op: '<' | '<=' | '>=' | '>';
  value: number;
}

/** One measured figure. */
export interface Figure {
  /** The table it belongs to: wire, bulk, bond, pool, ovs, xe, memory, security, ... */
  area: string;
  name: string;
  value: number;
  unit: string;
  target?: Target;
  /** What it is measured against (a baseline in the same run), for the reader. */
  note?: string;
}

const figures: Figure[] = [];

/** Records one figure (benchmarks call this as they measure). */
export function figure(f: Figure): void {
  figures.push(f);
}

/** Every figure recorded so far. */
export function allFigures(): readonly Figure[] {
  return figures;
}

/** 'met', 'missed', or '' when the figure has no target (or could not be measured). */
export function verdict(f: Figure): string {
  if (!f.target || !Number.isFinite(f.value)) return f.target ? 'n/a' : '';
  const { op, value } = f.target;
  const ok = op === '<' ? f.value < value : op === '<=' ? f.value <= value : op === '>=' ? f.value >= value : f.value > value;
  return ok ? 'met' : 'missed';
}

const num = (x: number): string => (!Number.isFinite(x) ? 'n/a' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The tables, one per area, as text lines; with `old` figures, a column with the old value and the change. */
export function tables(figs: readonly Figure[], old?: readonly Figure[]): string[] {
  const out: string[] = [];
  const areas = [...new Set(figs.map((f) => f.area))];
  const oldOf = (f: Figure) => old?.find((o) => o.area === f.area && o.name === f.name);
  for (const area of areas) {
    const rows = figs.filter((f) => f.area === area);
    const cells = rows.map((f) => {
      const o = oldOf(f);
      return [
        f.name,
        `${num(f.value)} ${f.unit}`,
        f.target ? `${f.target.op} ${num(f.target.value)} ${f.unit}` : '',
        verdict(f),
        ...(old ? [o ? `${num(o.value)} ${o.unit} (${o.value ? `${f.value >= o.value ? '+' : ''}${(((f.value - o.value) / o.value) * 100).toFixed(0)} %` : ''})` : '—'] : []),
        f.note ?? '',
      ];
    });
    const head = ['figure', 'value', 'target', 'verdict', ...(old ? ['before'] : []), 'measured against'];
    const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const row = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(w[i]))).join(' | ').trimEnd();
    out.push('', `## ${area}`, row(head), w.map((n, i) => '-'.repeat(i === w.length - 1 ? Math.max(3, n) : n)).join('-|-'));
    for (const c of cells) out.push(row(c));
  }
  const judged = figs.filter((f) => f.target);
  out.push('', `targets: ${judged.filter((f) => verdict(f) === 'met').length} met, ${judged.filter((f) => verdict(f) === 'missed').length} missed, ${judged.filter((f) => verdict(f) === 'n/a').length} not measured`);
  return out;
}

/** Writes the figures as JSON (with the time, node version and machine's core count). */
export function writeResults(path: string, meta: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ ...meta, figures }, null, 2) + '\n');
}

/** Reads a results file written by writeResults (COMPARE=old.json). */
export function readResults(path: string): Figure[] {
  if (!existsSync(path)) throw new Error(`COMPARE: ${path} does not exist`);
  const j = JSON.parse(readFileSync(path, 'utf8')) as { figures?: Figure[] };
  if (!Array.isArray(j.figures)) throw new Error(`COMPARE: ${path} is not a bench results file`);
  return j.figures;
}
