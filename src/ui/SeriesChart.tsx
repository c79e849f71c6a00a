// One recharts line chart of several series (runs overlaid), built for live redraws: the page computes the
// axis ticks (src/ui/ticks.ts: round values that repeat between redraws, interval 0, fixed axis widths), so
// recharts neither chooses nor measures tick labels, and the legend is plain HTML under the chart rather
// than recharts' Legend, which measures its own box on every render. Both measurements forced a layout of
// the whole page in each redraw. Callers memoise `series` (a new array means a redraw).
import { memo, useMemo, useState } from 'react';
import { CartesianGrid, Line, LineChart, XAxis as RXAxis, Tooltip, YAxis } from 'recharts';
import { axisWidth, formatTick, niceTicks } from './ticks';

/** A dashed series draws a dot per point up to this many; each dot is a component re-rendered per redraw. */
const MAX_DOTS = 40;

export interface Series {
  key: string;
  name: string;
  color: string;
  /** Dashed (and dotted) line, e.g. eval points between train points. */
  dash?: string;
  data: readonly { x: number; y: number | null }[];
}

function extent(series: readonly Series[], pick: (p: { x: number; y: number | null }) => number | null) {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const s of series)
    for (const p of s.data) {
      const v = pick(p);
      if (v === null || !Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  return lo <= hi ? { lo, hi } : null;
}

export const SeriesChart = memo(function SeriesChart({
  series,
  width = 720,
  height = 280,
  xFromZero = true,
  minXStep = 0,
}: {
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Start the x axis at 0 (steps, tokens, seconds) rather than at the first point. */
  xFromZero?: boolean;
  /** Smallest x tick spacing: 1 for steps, so a three-step run is not labelled 0.5, 1.5. */
  minXStep?: number;
}) {
  // The tooltip is mounted only while the pointer is over the chart: mounted, its selectors re-run on every
  // redraw, about 40% of a live redraw's cost, for a box nobody is looking at while curves stream in.
  const [hover, setHover] = useState(false);
  const { xTicks, yTicks, xFmt, yFmt, yWidth } = useMemo(() => {
    const xs = extent(series, (p) => p.x);
    const ys = extent(series, (p) => p.y);
    const xTicks = niceTicks(xFromZero ? Math.min(0, xs?.lo ?? 0) : (xs?.lo ?? 0), xs?.hi ?? 1, 6, minXStep);
    const yTicks = niceTicks(ys?.lo ?? 0, ys?.hi ?? 1, 5);
    const xStep = xTicks[1] - xTicks[0];
    const yStep = yTicks[1] - yTicks[0];
    return {
      xTicks,
      yTicks,
      xFmt: (v: number) => formatTick(v, xStep),
      yFmt: (v: number) => formatTick(v, yStep),
      yWidth: axisWidth(yTicks.map((v) => formatTick(v, yStep))),
    };
  }, [series, xFromZero, minXStep]);
  return (
    <div className="series-chart">
      <LineChart
        width={width}
        height={height}
        margin={{ top: 8, right: 16, bottom: 4, left: 0 }}
        onMouseEnter={() => setHover(true)}
        onMouseLeave={() => setHover(false)}
      >
        <CartesianGrid strokeDasharray="3 3" />
        <RXAxis
          dataKey="x"
          type="number"
          domain={[xTicks[0], xTicks[xTicks.length - 1]]}
          ticks={xTicks}
          interval={0}
          tickFormatter={xFmt}
          allowDuplicatedCategory={false}
          height={24}
        />
        <YAxis
          domain={[yTicks[0], yTicks[yTicks.length - 1]]}
          ticks={yTicks}
          interval={0}
          tickFormatter={yFmt}
          width={yWidth}
        />
        {hover && <Tooltip isAnimationActive={false} />}
        {series.map((s) => (
          <Line
            key={s.key}
            data={s.data as { x: number; y: number | null }[]}
            dataKey="y"
            name={s.name}
            stroke={s.color}
            strokeDasharray={s.dash}
            dot={s.dash !== undefined && s.data.length <= MAX_DOTS}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
      <ul className="chart-legend">
        {series.map((s) => (
          <li key={s.key}>
            <svg width="22" height="10" aria-hidden="true">
              <line x1="1" y1="5" x2="21" y2="5" stroke={s.color} strokeWidth="2" strokeDasharray={s.dash} />
            </svg>
            {s.name}
          </li>
        ))}
      </ul>
    </div>
  );
});
