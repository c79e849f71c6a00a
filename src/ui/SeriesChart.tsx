// One recharts line chart of several series (runs overlaid), built for live redraws: the page computes the
// axis ticks (src/ui/ticks.ts: round values that repeat between redraws, interval 0, fixed axis widths), so
// recharts neither chooses nor measures tick labels, and the legend is plain HTML under the chart rather
// than recharts' Legend, which measures its own box on every render. Both measurements forced a layout of
// the whole page in each redraw. Callers memoise `series` (a new array means a redraw). Optional bands
// (shaded lo..hi ranges) are drawn under the lines: the fair comparison's mean ± sd over seeds.
import { memo, useMemo, useState } from 'react';
import { Area, CartesianGrid, ComposedChart, Line, XAxis as RXAxis, Tooltip, YAxis } from 'recharts';
import { axisWidth, formatTick, niceTicks } from './ticks';

const NO_BANDS: readonly Band[] = [];

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

/** A shaded band (the fair comparison's mean ± sd over seeds), drawn under the lines in its colour. */
export interface Band {
  key: string;
  color: string;
  data: readonly { x: number; lo: number; hi: number }[];
}

function extent(
  series: readonly Series[],
  pick: (p: { x: number; y: number | null }) => number | null,
  bands: readonly Band[] = [],
  pickBand?: (p: { x: number; lo: number; hi: number }) => number[],
) {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const take = (v: number | null) => {
    if (v === null || !Number.isFinite(v)) return;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  };
  for (const s of series) for (const p of s.data) take(pick(p));
  if (pickBand) for (const b of bands) for (const p of b.data) for (const v of pickBand(p)) take(v);
  return lo <= hi ? { lo, hi } : null;
}

export const SeriesChart = memo(function SeriesChart({
  series,
  bands = NO_BANDS,
  width = 720,
  height = 280,
  xFromZero = true,
  minXStep = 0,
}: {
  series: readonly Series[];
  /** Shaded ranges under the lines (memoised by the caller, as `series`). */
  bands?: readonly Band[];
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
    const xs = extent(
      series,
      (p) => p.x,
      bands,
      (p) => [p.x],
    );
    const ys = extent(
      series,
      (p) => p.y,
      bands,
      (p) => [p.lo, p.hi],
    );
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
  }, [series, bands, xFromZero, minXStep]);
  return (
    <div className="series-chart">
      <ComposedChart
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
        {bands.map((b) => (
          <Area
            key={b.key}
            data={b.data.map((p) => ({ x: p.x, range: [p.lo, p.hi] }))}
            dataKey="range"
            stroke="none"
            fill={b.color}
            fillOpacity={0.18}
            isAnimationActive={false}
            legendType="none"
            tooltipType="none"
          />
        ))}
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
      </ComposedChart>
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
