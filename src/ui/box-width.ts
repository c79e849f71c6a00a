// The width a chart may take: its box's content width, measured once on mount and again only when the box
// is resized (a ResizeObserver, not a measurement per redraw, which would force a layout in every live
// redraw: the reason recharts' ResponsiveContainer is not used). Rounded down to 16 px so that small
// changes (a scrollbar appearing) do not redraw the chart.
import { type RefObject, useLayoutEffect, useRef, useState } from 'react';

const GRAIN = 16;

export function useBoxWidth<T extends HTMLElement>(fallback: number): [RefObject<T | null>, number] {
  const ref = useRef<T | null>(null);
  const [width, setWidth] = useState(fallback);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const apply = (w: number) => {
      const next = Math.max(160, Math.floor(w / GRAIN) * GRAIN);
      setWidth((prev) => (prev === next ? prev : next));
    };
    apply(el.clientWidth);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver((entries) => {
      for (const e of entries) apply(e.contentRect.width);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width];
}
