// Live charts (recharts): train and eval loss per run overlaid against step, tokens or time; memory per
// run stacked by category (at the run's peak) beside its prediction. Each chart reads the metrics slice
// through its own selector, so new points re-render the charts and nothing else; animation is off so a
// redraw is one short task.
import { memo, useDeferredValue, useMemo } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  XAxis as RXAxis,
  Tooltip,
  YAxis,
} from 'recharts';
import { MEMORY_CATEGORIES } from '../gpu/arena';
import { useAppStore } from '../store';
import type { XAxis } from '../store/ui';
import type { MetricPoint } from '../train/sft-config';

const COLORS = ['#d9480f', '#1c7ed6', '#2b8a3e', '#7048e8', '#c2255c', '#e67700', '#0c8599', '#5c940d'];
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

export const LossChart = memo(function LossChart() {
  // Deferred: the redraw runs as an interruptible transition, sliced so no task blocks the page.
  const metrics = useDeferredValue(useAppStore((s) => s.metrics));
  const runs = useDeferredValue(useAppStore((s) => s.runs));
  const xAxis = useAppStore((s) => s.xAxis);
  const setXAxis = useAppStore((s) => s.setXAxis);
  const series = useMemo(
    () =>
      runs.flatMap((r, i) => {
        const pts = metrics[r.spec.id] ?? [];
        const color = COLORS[i % COLORS.length];
        return [
          {
            key: `${r.spec.id}-train`,
            name: `${r.method} train`,
            color,
            dash: undefined,
            data: pts.filter((p) => p.loss !== null).map((p) => ({ x: xOf(p, xAxis), y: p.loss })),
          },
          {
            key: `${r.spec.id}-eval`,
            name: `${r.method} eval`,
            color,
            dash: '5 3',
            data: pts.filter((p) => p.evalLoss !== null).map((p) => ({ x: xOf(p, xAxis), y: p.evalLoss })),
          },
        ];
      }),
    [runs, metrics, xAxis],
  );
  const points = series.reduce((a, s) => a + s.data.length, 0);
  return (
    <section className="panel wide" data-testid="loss-chart" data-points={points}>
      <h2>
        Loss{' '}
        <select value={xAxis} onChange={(e) => setXAxis(e.target.value as XAxis)}>
          <option value="step">by step</option>
          <option value="tokens">by tokens</option>
          <option value="time">by time (s)</option>
        </select>
      </h2>
      <LineChart width={720} height={280}>
        <CartesianGrid strokeDasharray="3 3" />
        <RXAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} allowDuplicatedCategory={false} />
        <YAxis domain={['auto', 'auto']} width={50} />
        <Tooltip />
        <Legend />
        {series.map((s) => (
          <Line
            key={s.key}
            data={s.data}
            dataKey="y"
            name={s.name}
            stroke={s.color}
            strokeDasharray={s.dash}
            dot={s.dash !== undefined}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </section>
  );
});

export const MemoryChart = memo(function MemoryChart() {
  // Deferred: the redraw runs as an interruptible transition, sliced so no task blocks the page.
  const metrics = useDeferredValue(useAppStore((s) => s.metrics));
  const runs = useDeferredValue(useAppStore((s) => s.runs));
  const data = useMemo(
    () =>
      runs.map((r) => {
        const pts = metrics[r.spec.id] ?? [];
        let peak: MetricPoint | undefined;
        for (const p of pts) if (!peak || p.peakBytes > peak.peakBytes) peak = p;
        const row: Record<string, number | string> = {
          run: r.method,
          predicted: (r.predicted?.peakTotal ?? 0) / 2 ** 20,
        };
        for (const c of MEMORY_CATEGORIES) row[c] = (peak?.peakByCategory[c] ?? 0) / 2 ** 20;
        return row;
      }),
    [runs, metrics],
  );
  const measured = data.filter((d) => MEMORY_CATEGORIES.some((c) => (d[c] as number) > 0)).length;
  return (
    <section className="panel wide" data-testid="memory-chart" data-runs={measured}>
      <h2>Peak memory by category (MiB), beside the prediction</h2>
      <BarChart width={720} height={260} data={data}>
        <CartesianGrid strokeDasharray="3 3" />
        <RXAxis dataKey="run" />
        <YAxis width={50} />
        <Tooltip />
        <Legend />
        {MEMORY_CATEGORIES.map((c) => (
          <Bar key={c} dataKey={c} stackId="measured" fill={CATEGORY_COLORS[c]} isAnimationActive={false} />
        ))}
        <Bar dataKey="predicted" fill="#dee2e6" stroke="#868e96" isAnimationActive={false} />
      </BarChart>
    </section>
  );
});
