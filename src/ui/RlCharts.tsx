// The RL views: mean reward and KL to the reference per RL run, overlaid against step, each on its own
// axes (the RL losses are in the loss panel, on an axis per algorithm, not on the SFT loss axis), and the rollouts panel: each RL run's latest rollouts as text
// with their rewards (a reward model's runs show their batch and held-out accuracy instead). Like the loss
// chart, the charts read throttled snapshots (useThrottledStore) with lines capped at MAX_LINE_POINTS and
// draw with SeriesChart (page-computed ticks, HTML legend); their redraws are delayed differently so they do
// not share a frame with the others'.
import { memo, useMemo } from 'react';
import { useAppStore } from '../store';
import type { MetricPoint } from '../train/sft-config';
import { useBoxWidth } from './box-width';
import { COLORS, MAX_LINE_POINTS } from './Charts';
import { parseRunKey, runKeyOf } from './run-names';
import { type Series, SeriesChart } from './SeriesChart';
import { downsample, useThrottledStore } from './throttled';

const REDRAW_MS = 500;

type RlField = keyof NonNullable<MetricPoint['rl']>;

/** One RL figure per run, overlaid; `data-points` counts every plotted point (the e2e test reads it). */
function RlLineChart({
  testId,
  title,
  field,
  delay,
}: {
  testId: string;
  title: string;
  field: RlField;
  delay: number;
}) {
  const { metrics, key } = useThrottledStore(
    (s) => ({ metrics: s.metrics, key: runKeyOf(s) }),
    REDRAW_MS,
    delay,
  );
  const [box, width] = useBoxWidth<HTMLDivElement>(420);
  const { series, points } = useMemo(() => {
    let points = 0;
    const series = parseRunKey(key)
      .filter((r) => r.rl)
      .map(({ id, name, index }): Series => {
        // Training points only: a reward model's held-out point carries its accuracy, not this figure.
        const pts = (metrics[id] ?? []).filter(
          (p) => p.evalLoss === null && typeof p.rl?.[field] === 'number',
        );
        points += pts.length;
        return {
          key: id,
          name,
          color: COLORS[index % COLORS.length],
          data: downsample(pts, MAX_LINE_POINTS).map((p) => ({ x: p.step, y: p.rl?.[field] as number })),
        };
      });
    return { series, points };
  }, [key, metrics, field]);
  if (series.length === 0) return null;
  return (
    <section className="panel" data-testid={testId} data-points={points}>
      <h2>{title}</h2>
      <div className="chart-box" ref={box}>
        <SeriesChart series={series} width={width} height={220} minXStep={1} />
      </div>
    </section>
  );
}

export const RewardChart = memo(function RewardChart() {
  return <RlLineChart testId="reward-chart" title="Mean reward by step" field="reward_mean" delay={150} />;
});

export const KlChart = memo(function KlChart() {
  return <RlLineChart testId="kl-chart" title="KL to the reference by step" field="kl" delay={300} />;
});

/** Three decimals, or three significant digits for values too small to show that way (early DPO rewards). */
const fmt = (x: number | undefined) =>
  x === undefined ? '–' : x === 0 || Math.abs(x) >= 0.01 ? x.toFixed(3) : x.toPrecision(3);

const RunRollouts = memo(function RunRollouts({ id }: { id: string }) {
  const label = useAppStore((s) => s.runs.find((r) => r.spec.id === id)?.spec.label ?? id);
  const algo = useAppStore((s) => s.runs.find((r) => r.spec.id === id)?.spec.rl?.algo);
  const ro = useAppStore((s) => s.rollouts[id]);
  // A reward model or DPO run has no rollouts: its latest figures instead (accuracy, held-out accuracy).
  const last = useAppStore((s) => {
    const pts = s.metrics[id] ?? [];
    let train: MetricPoint | undefined;
    let held: MetricPoint | undefined;
    for (const p of pts) if (p.evalLoss === null) train = p;
    for (const p of pts) if (p.evalLoss !== null) held = p;
    return `${train?.step ?? 0}\t${fmt(train?.loss ?? undefined)}\t${fmt(train?.rl?.accuracy)}\t${fmt(held?.rl?.accuracy)}\t${fmt(train?.rl?.reward_mean)}`;
  });
  const [step, loss, acc, heldAcc, margin] = last.split('\t');
  return (
    <div className="rollouts-run" data-testid="rollouts-run" data-run={id} data-step={ro?.step ?? ''}>
      <h3>{label}</h3>
      {ro ? (
        <table className="preview">
          <thead>
            <tr>
              <th>prompt</th>
              <th>completion (step {ro.step})</th>
              <th>reward</th>
            </tr>
          </thead>
          <tbody>
            {ro.samples.map((x, i) => (
              // Rows are positional within one step's rollouts.
              // biome-ignore lint/suspicious/noArrayIndexKey: the list is replaced whole every step
              <tr key={i} data-testid="rollout">
                <td>{x.prompt}</td>
                <td>
                  <pre>{x.completion}</pre>
                </td>
                <td data-testid="rollout-reward">{fmt(x.reward)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : algo === 'reward' || algo === 'dpo' ? (
        <p className="note" data-testid="pair-figures">
          step {step}: loss {loss}
          {algo === 'reward'
            ? `, batch accuracy ${acc}, held-out accuracy ${heldAcc}`
            : `, accuracy ${acc}, mean implicit reward ${margin}`}
        </p>
      ) : (
        <p className="note">No rollouts yet.</p>
      )}
    </div>
  );
});

export const RolloutsPanel = memo(function RolloutsPanel() {
  const ids = useAppStore((s) =>
    s.runs
      .filter((r) => r.spec.rl)
      .map((r) => r.spec.id)
      .join(' '),
  );
  if (!ids) return null;
  return (
    <section className="panel wide" data-testid="rollouts">
      <h2>Latest rollouts</h2>
      {ids.split(' ').map((id) => (
        <RunRollouts key={id} id={id} />
      ))}
    </section>
  );
});
