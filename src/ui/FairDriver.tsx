// The fair comparison's sequencing in the page, without a worker change: each of its runs is an ordinary
// run started through the engine's startRuns with one method ticked and the form's learning rate and seed
// set for that run (then put back), and tagged in the store (RunRecord.fair). The worker's scheduler trains
// them side by side like any runs. Per method: the sweep's runs (the default × 10^k, seed 0, the form's
// steps × batch × seq len) go first; when all of them are over, the rate with the lowest final eval loss
// (train/compare/sweep.ts pickLr, the CLI's rule) starts the seeded runs (seeds 1..K; 0..K−1 without a
// sweep). The table and the charts aggregate the seeded runs (ui/compare.ts fairRows).
import { startRuns } from '../app/engine';
import { useAppStore } from '../store';
import type { FairTag, RunRecord } from '../store/runs';
import { lrGrid, parseDecades, pickLr } from '../train/compare/sweep';

const store = () => useAppStore.getState();

/** States after which a run's figures are final. */
export const OVER = new Set(['done', 'error', 'stopped']);

/** What each comparison this page started still has to do: its seeds per method. */
const pending = new Map<string, { seeds: number; methods: Set<string>; decades: number[] }>();
let chain: Promise<unknown> = Promise.resolve();
let unsubscribe: (() => void) | null = null;

/** A run's final eval loss: the end-of-run figure, else its last eval point. */
export function finalEvalLoss(r: RunRecord, points: readonly { evalLoss: number | null }[]): number | null {
  if (r.state !== 'done') return null;
  if (r.results?.evalLoss != null) return r.results.evalLoss;
  for (let i = points.length - 1; i >= 0; i--) if (points[i].evalLoss !== null) return points[i].evalLoss;
  return null;
}

/**
 * Starts one run of `method` at `lr` and `seed` through the engine (one at a time: the form is borrowed for
 * the call) and tags it; resolves to why not, if it could not.
 */
function startOne(method: string, tag: FairTag): Promise<string | null> {
  const p = chain.then(async () => {
    const st = store();
    const keep = { methods: st.methods, hyper: st.hyper };
    const only = Object.fromEntries(
      Object.entries(st.methods).map(([k, c]) => [k, { ...c, enabled: k === method }]),
    );
    only[method] ??= { enabled: true, options: {} };
    const before = new Set(st.runs.map((r) => r.spec.id));
    useAppStore.setState({ methods: only, hyper: { ...st.hyper, lr: tag.lr, seed: tag.seed } });
    let problem: string | null;
    try {
      problem = await startRuns();
    } finally {
      useAppStore.setState({ methods: keep.methods, hyper: keep.hyper });
    }
    if (problem) return problem;
    for (const r of store().runs)
      if (!before.has(r.spec.id))
        store().patchRun(r.spec.id, {
          fair: tag,
          spec: { ...r.spec, label: `${r.spec.label} · ${tag.phase} lr ${tag.lr} seed ${tag.seed}` },
        });
    return null;
  });
  chain = p.catch(() => null);
  return p;
}

async function startSeeds(
  group: string,
  method: string,
  lr: number,
  first: number,
  k: number,
  decades?: number[],
) {
  for (let i = 0; i < k; i++) {
    const problem = await startOne(method, { group, phase: 'seed', lr, seed: first + i, decades });
    if (problem) return problem;
  }
  return null;
}

/** When every sweep run of a method is over: pick its rate and start its seeds (once). */
function onRunsChange(): void {
  const { runs, metrics } = store();
  for (const [group, todo] of pending) {
    for (const method of [...todo.methods]) {
      const sweep = runs.filter(
        (r) => r.fair?.group === group && r.fair.phase === 'sweep' && r.method === method,
      );
      if (sweep.length === 0 || sweep.some((r) => !OVER.has(r.state))) continue;
      todo.methods.delete(method);
      const points = sweep.map((r) => ({
        lr: r.fair?.lr ?? 0,
        evalLoss: finalEvalLoss(r, metrics[r.spec.id] ?? []),
      }));
      const lr = pickLr(points) ?? points[0].lr;
      void startSeeds(group, method, lr, 1, todo.seeds, todo.decades);
    }
    if (todo.methods.size === 0) pending.delete(group);
  }
  if (pending.size === 0 && unsubscribe) {
    unsubscribe();
    unsubscribe = null;
  }
}

/**
 * Starts a fair comparison of the ticked methods with the form's settings; resolves to why not, if it
 * cannot (the same refusals as Start runs, and a grid that does not parse).
 */
export async function startFair(): Promise<string | null> {
  const s = store();
  if (s.algorithm !== 'sft') return 'The fair comparison compares SFT runs: choose SFT as the algorithm.';
  const chosen = s.methodInfos.filter((m) => s.methods[m.name]?.enabled);
  if (chosen.length === 0) return 'choose at least one method';
  let decades: number[];
  try {
    decades = parseDecades(s.fair.grid);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  const seeds = Math.max(1, Math.floor(s.fair.seeds));
  const group = `fair-${Date.now().toString(36)}`;
  if (s.fair.sweep) {
    pending.set(group, { seeds, methods: new Set(chosen.map((m) => m.name)), decades });
    unsubscribe ??= useAppStore.subscribe((now, prev) => {
      if (now.runs !== prev.runs) onRunsChange();
    });
  }
  for (const m of chosen) {
    const center = s.hyper.lr ?? m.defaultLr;
    if (s.fair.sweep) {
      for (const lr of lrGrid(center, decades)) {
        const problem = await startOne(m.name, { group, phase: 'sweep', lr, seed: 0, decades });
        if (problem) return problem;
      }
    } else {
      const problem = await startSeeds(group, m.name, center, 0, seeds);
      if (problem) return problem;
    }
  }
  return null;
}
