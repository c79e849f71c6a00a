// What charts call each run: short names that tell runs apart (the method, with the RL algorithm in front
// for RL runs, and a number when two runs would read the same), plus the run list as one string that stays
// equal while only a run's figures change, so chart selectors can compare it cheaply.

export interface NamedRun {
  spec: { id: string; rl?: { algo: string } };
  method: string;
}

/** One name per run, in order: "lora", "ppo lora", and "lora (2)" for the second run named "lora". */
export function chartNames(runs: readonly NamedRun[]): string[] {
  const seen = new Map<string, number>();
  return runs.map((r) => {
    const base = r.spec.rl ? `${r.spec.rl.algo} ${r.method}` : r.method;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base} (${n})`;
  });
}

/** Every run as "id, name, index, rl?" lines: the key of a chart's series (colour = index, as in all charts). */
export function runKeyOf(s: { runs: readonly NamedRun[] }): string {
  const names = chartNames(s.runs);
  return s.runs.map((r, i) => `${r.spec.id}\t${names[i]}\t${i}\t${r.spec.rl ? 1 : 0}`).join('\n');
}

export interface KeyedRun {
  id: string;
  name: string;
  index: number;
  rl: boolean;
}

export function parseRunKey(key: string): KeyedRun[] {
  if (!key) return [];
  return key.split('\n').map((l) => {
    const [id, name, index, rl] = l.split('\t');
    return { id, name, index: Number(index), rl: rl === '1' };
  });
}
