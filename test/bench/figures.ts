// The bench's table: each figure recorded once per run, printed as the
// median of the runs with their spread (lowest–highest), so that a figure
// says how noisy it was. A ratio is computed inside its run, against the
// anchor measured in that same run, and only then summarised: the median of
// the ratios, never a ratio of medians taken in different moments.

/** How a number is shown: `(v) => `${v.toFixed(1)} ms``. */
export type Show = (v: number) => string;

/** One cell of a row: a value and how to show it; a string is a cell that is said, not measured. */
export type Cell = [value: number, show: Show] | string;

interface Row {
  cells: Cell[][]; // per run: [ours, reference, ratio]
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
export const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export class Figures {
  private readonly rows = new Map<string, Row>();

  /** Records a row of this run and prints it at once (the live log of a long bench). */
  row(what: string, ours: Cell, reference: Cell = '-', ratio: Cell = '-'): void {
    const cells = [ours, reference, ratio];
    const r = this.rows.get(what) ?? { cells: [] };
    r.cells.push(cells);
    this.rows.set(what, r);
    console.log(`  ${what}: nsxd ${cells.map(show1).join(' | ')}`);
  }

  /** The table: one line a figure, each cell the median of its runs and, over more than one, their spread. */
  print(): void {
    console.log('\n| measure | nsxd | reference | ratio | runs |\n|---|---|---|---|---|');
    for (const [what, r] of this.rows) {
      const cells = [0, 1, 2].map((i) => summary(r.cells.map((c) => c[i])));
      console.log(`| ${what} | ${cells.join(' | ')} | ${r.cells.length} |`);
    }
  }
}

function show1(c: Cell): string {
  return typeof c === 'string' ? c : c[1](c[0]);
}

function summary(cells: Cell[]): string {
  const measured = cells.filter((c): c is [number, Show] => typeof c !== 'string');
  if (measured.length < cells.length || measured.length === 0) return cells.map(show1)[0] ?? '-';
  const values = measured.map((c) => c[0]);
  const show = measured[0][1];
  if (values.length === 1) return show(values[0]);
  return spread(show(median(values)), show(Math.min(...values)), show(Math.max(...values)));
}

/** `lsns 7.8 ms (7.7–8.5)`: the lowest and highest as bare numbers when their words are the median's. */
export function spread(mid: string, low: string, high: string): string {
  const parts = (s: string) => /^(.*?)([+-]?[\d.,]+)(\D*)$/.exec(s);
  const [m, l, h] = [parts(mid), parts(low), parts(high)];
  const same = m && l && h && [l, h].every((x) => x[1] === m[1] && x[3] === m[3]);
  return same ? `${mid} (${l[2]}–${h[2]})` : `${mid} (${low}–${high})`;
}
