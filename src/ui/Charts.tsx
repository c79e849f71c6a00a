// Live charts (recharts): train and eval loss per run overlaid against step, tokens or time (SFT runs on one
// axis, each RL algorithm's loss on its own; a fair comparison's seeds as each method's mean with a ± sd
// band); memory per run stacked by category (at the run's peak) beside
// its prediction, each run's label in its colour, and the frozen base the runs share drawn once as its
// own bar (runs' bars are their own memory without it); both as wide as their box (box-width.ts). A recharts redraw costs tens of ms
// (hundreds in a dev build on SwiftShader), so the charts never subscribe to the store directly: they read
// throttled snapshots (at most 2-3 redraws a second, rendered as transitions), the loss lines are capped at
// MAX_LINE_POINTS, the memory chart redraws only when its bars change, and animation is off.
import { memo, useMemo } from 'react';
import { Bar, BarChart, CartesianGrid, XAxis as RXAxis, Tooltip, YAxis } from 'recharts';
import { MEMORY_CATEGORIES } from '../gpu/arena';
import { useAppStore } from '../store';
import type { XAxis } from '../store/ui';
import { band } from '../train/compare/stats';
import type { MetricPoint } from '../train/sft-config';
import { useBoxWidth } from './box-width';
import { chartNames, parseRunKey, runKeyOf } from './run-names';
import { type Band, type Series, SeriesChart } from './SeriesChart';
import { downsample, useThrottledStore } from './throttled';
import { axisWidth, formatTick, niceTicks } from './ticks';

/** Points drawn per line at most; longer series are strided (the data-points attribute counts them all). */
export const MAX_LINE_POINTS = 300;
/** Minimum time between two redraws of the loss chart while points stream in. */
const LOSS_REDRAW_MS = 400;
/** The memory bars change rarely (a new peak); checked once a second, a quarter second after a change so
 * that its redraw does not share a frame with the loss chart's. */
const MEMORY_REDRAW_MS = 1000;
const MEMORY_DELAY_MS = 250;

export const COLORS = [
  '#d9480f',
  '#1c7ed6',
  '#2b8a3e',
  '#7048e8',
  '#c2255c',
  '#e67700',
  '#0c8599',
  '#5c940d',
];
const CATEGORY_COLORS: Record<string, string> = {
  frozen: '#adb5bd',
  trainable: '#1c7ed6',
  gradients: '#f08c00',
  optimizer: '#c2255c',
  activations: '#2b8a3e',
  workspace: '#7048e8',
  kvcache: '#0c8599',
};

const xOf = (p: MetricPoint, x: XAxis) =>
  x === 'step' ? p.step : x === 'tokens' ? p.tokens : p.timeMs / 1000;

/** A run's chart group: SFT runs share one loss axis; each RL algorithm's loss (a PPO, DPO or reward-model
 * objective, not a token cross-entropy) gets its own. */
const groupOf = (rl: string | undefined) => rl ?? 'sft';
const GROUP_TITLES: Record<string, string> = {
  sft: 'SFT loss (token cross-entropy)',
  reward: 'reward-model loss',
  ppo: 'PPO loss',
  grpo: 'GRPO loss',
  dpo: 'DPO loss',
  rejection: 'rejection-sampling loss',
};

export const LossChart = memo(function LossChart() {
  const { metrics, runKey, runs } = useThrottledStore(
    (s) => ({ metrics: s.metrics, runKey: runKeyOf(s), runs: s.runs }),
    LOSS_REDRAW_MS,
  );
  const xAxis = useAppStore((s) => s.xAxis);
  const setXAxis = useAppStore((s) => s.setXAxis);
  const [box, width] = useBoxWidth<HTMLDivElement>(560);
  // The run list's algorithms only (a string, so the memo below ignores figure changes of the runs).
  const algos = runs.map((r) => groupOf(r.spec.rl?.algo)).join(' ');
  // Fair comparisons' seeded runs as "id group method" lines: drawn as one mean line and a ± sd band per
  // method rather than one line per seed.
  const seeded = runs
    .filter((r) => r.fair?.phase === 'seed')
    .map((r) => `${r.spec.id} ${r.fair?.group} ${r.method}`)
    .join('\n');
  const { groups, points, bands } = useMemo(() => {
    let points = 0;
    const algoOf = algos.split(' ');
    const groups = new Map<string, Series[]>();
    const fairOf = new Map(
      (seeded ? seeded.split('\n') : []).map((l) => {
        const [id, g, m] = l.split(' ');
        return [id, `${g} ${m}`];
      }),
    );
    const aggregates = new Map<string, { name: string; index: number; ids: string[] }>();
    for (const { id, name: method, index } of parseRunKey(runKey)) {
      const pts = metrics[id] ?? [];
      const agg = fairOf.get(id);
      if (agg) {
        const a = aggregates.get(agg) ?? { name: agg.split(' ')[1], index, ids: [] };
        a.ids.push(id);
        aggregates.set(agg, a);
        points += pts.length;
        continue;
      }
      const color = COLORS[index % COLORS.length];
      const train = pts.filter((p) => p.loss !== null);
      const evals = pts.filter((p) => p.evalLoss !== null);
      points += train.length + evals.length;
      const g = algoOf[index] ?? 'sft';
      const list = groups.get(g) ?? [];
      groups.set(g, list);
      list.push({
        key: `${id}-train`,
        name: `${method} train`,
        color,
        data: downsample(train, MAX_LINE_POINTS).map((p) => ({ x: xOf(p, xAxis), y: p.loss })),
      });
      if (evals.length > 0 || g === 'sft')
        list.push({
          key: `${id}-eval`,
          name: `${method} eval`,
          color,
          dash: '5 3',
          data: downsample(evals, MAX_LINE_POINTS).map((p) => ({ x: xOf(p, xAxis), y: p.evalLoss })),
        });
    }
    // Each method's seeds: the mean training loss and its ± sd band over the seeds, by step; x by tokens or
    // time is the first seed's at that step (equal budgets: the seeds' steps hold the same token counts).
    const bands: Band[] = [];
    const sft = groups.get('sft') ?? [];
    for (const [key, a] of aggregates) {
      const color = COLORS[a.index % COLORS.length];
      const curves = a.ids.map((id) =>
        (metrics[id] ?? []).filter((p) => p.loss !== null).map((p) => ({ x: p.step, y: p.loss })),
      );
      const xAt = new Map((metrics[a.ids[0]] ?? []).map((p) => [p.step, xOf(p, xAxis)]));
      const b = band(curves).map((p) => ({ ...p, x: xAt.get(p.x) ?? p.x }));
      bands.push({ key: `${key}-band`, color, data: b });
      sft.push({
        key: `${key}-mean`,
        name: `${a.name} mean ± sd (${a.ids.length} seeds)`,
        color,
        data: b.map((p) => ({ x: p.x, y: p.mean })),
      });
    }
    if (sft.length) groups.set('sft', sft);
    return { groups: [...groups.entries()], points, bands };
  }, [runKey, metrics, xAxis, algos, seeded]);
  const height = groups.length > 1 ? Math.max(110, Math.floor(220 / groups.length)) : 200;
  return (
    <section className="panel" data-testid="loss-chart" data-points={points}>
      <h2>
        Loss{' '}
        <select aria-label="x axis" value={xAxis} onChange={(e) => setXAxis(e.target.value as XAxis)}>
          <option value="step">by step</option>
          <option value="tokens">by tokens</option>
          <option value="time">by time (s)</option>
        </select>
      </h2>
      <div className="chart-box" ref={box}>
        {groups.length === 0 && <SeriesChart series={[]} width={width} height={height} />}
        {groups.map(([g, series]) => (
          <div key={g} data-group={g}>
            {(groups.length > 1 || g !== 'sft') && (
              <h3 className="chart-title">{GROUP_TITLES[g] ?? `${g} loss`}</h3>
            )}
            <SeriesChart
              series={series}
              bands={g === 'sft' ? bands : undefined}
              width={width}
              height={height}
              xFromZero
              minXStep={xAxis === 'step' ? 1 : 0}
            />
          </div>
        ))}
      </div>
    </section>
  );
});

/** The memory chart's run labels, each in its run's colour (the bars are coloured by category). */
function RunTick(props: {
  x?: number | string;
  y?: number | string;
  payload?: { value: unknown; index: number };
  /** How many bars are runs (the shared bases' bars after them are grey). */
  runs: number;
}) {
  const x = Number(props.x ?? 0);
  const y = Number(props.y ?? 0);
  const { payload } = props;
  const i = payload?.index ?? 0;
  return (
    <text
      x={x}
      y={y + 12}
      textAnchor="middle"
      fontSize={12}
      fill={i < props.runs ? COLORS[i % COLORS.length] : '#495057'}
    >
      {String(payload?.value ?? '')}
    </text>
  );
}

export const MemoryChart = memo(function MemoryChart() {
  const { metrics, runs, bases } = useThrottledStore(
    (s) => ({ metrics: s.metrics, runs: s.runs, bases: s.bases }),
    MEMORY_REDRAW_MS,
    MEMORY_DELAY_MS,
  );
  // The bars as a string: the chart below redraws only when a bar's value changes, not on every point.
  const sig = useMemo(() => {
    const names = chartNames(runs);
    return JSON.stringify(
      runs
        .map((r, i) => {
          const pts = metrics[r.spec.id] ?? [];
          let peak: MetricPoint | undefined;
          for (const p of pts) if (!peak || p.peakBytes > peak.peakBytes) peak = p;
          // A run on a shared base measures its own memory only: its prediction is drawn without the frozen
          // weights too (they are the base's bar). Records from before the shared base measured them.
          const ownsBase = (peak?.peakByCategory.frozen ?? 0) > 0;
          const predicted = (r.predicted?.peakTotal ?? 0) - (ownsBase ? 0 : (r.predicted?.peak.frozen ?? 0));
          const row: Record<string, number | string> = { run: names[i], predicted: predicted / 2 ** 20 };
          for (const c of MEMORY_CATEGORIES) row[c] = (peak?.peakByCategory[c] ?? 0) / 2 ** 20;
          return row;
        })
        .concat(
          // Each frozen base once, after the runs: every run of its model and dtype borrows it.
          bases.map((b) => {
            const row: Record<string, number | string> = {
              // Short, as an axis label beside run names: "base f32 ×2" is the f32 base two runs borrow.
              run: `base ${b.dtype} ×${b.users}`,
              predicted: 0,
            };
            for (const c of MEMORY_CATEGORIES) row[c] = c === 'frozen' ? b.bytes / 2 ** 20 : 0;
            return row;
          }),
        ),
    );
  }, [runs, metrics, bases]);
  const runCount = runs.length;
  const [box, width] = useBoxWidth<HTMLDivElement>(400);
  const { chart, measured } = useMemo(() => {
    const data = JSON.parse(sig) as Record<string, number | string>[];
    // Only the categories some run uses: each Bar is a set of recharts components, and the redraw's cost
    // (synchronous, on an animation frame) grows with them.
    const cats = MEMORY_CATEGORIES.filter((c) => data.some((d) => (d[c] as number) > 0));
    let top = 0;
    for (const d of data) {
      const measured = cats.reduce((a, c) => a + (d[c] as number), 0);
      top = Math.max(top, measured, d.predicted as number);
    }
    const yTicks = niceTicks(0, top, 5);
    const yFmt = (v: number) => formatTick(v, yTicks[1] - yTicks[0]);
    return {
      measured: data.slice(0, runCount).filter((d) => MEMORY_CATEGORIES.some((c) => (d[c] as number) > 0))
        .length,
      chart: (
        <div className="series-chart">
          <BarChart width={width} height={200} data={data} margin={{ top: 8, right: 8, bottom: 4, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <RXAxis
              dataKey="run"
              interval={0}
              height={24}
              tick={(p: object) => (
                <RunTick {...(p as Omit<Parameters<typeof RunTick>[0], 'runs'>)} runs={runCount} />
              )}
            />
            <YAxis
              width={axisWidth(yTicks.map(yFmt))}
              ticks={yTicks}
              domain={[yTicks[0], yTicks[yTicks.length - 1]]}
              interval={0}
              tickFormatter={yFmt}
            />
            <Tooltip isAnimationActive={false} />
            {cats.map((c) => (
              <Bar
                key={c}
                dataKey={c}
                stackId="measured"
                fill={CATEGORY_COLORS[c]}
                isAnimationActive={false}
              />
            ))}
            <Bar dataKey="predicted" fill="#dee2e6" stroke="#868e96" isAnimationActive={false} />
          </BarChart>
          {/* Plain HTML: recharts' Legend measures its box on every redraw. */}
          <ul className="chart-legend">
            {[...cats, 'predicted'].map((c) => (
              <li key={c}>
                <span className="swatch" style={{ background: CATEGORY_COLORS[c] ?? '#dee2e6' }} />
                {c}
              </li>
            ))}
          </ul>
        </div>
      ),
    };
  }, [sig, width, runCount]);
  return (
    <section className="panel" data-testid="memory-chart" data-runs={measured} data-bases={bases.length}>
      <h2 title="Measured peak by category (stacked), beside the predicted peak; the frozen base the runs share is its own bar, drawn once, and runs' bars are their own memory without it">
        Peak memory (MiB)
      </h2>
      <div className="chart-box" ref={box}>
        {chart}
      </div>
    </section>
  );
});
