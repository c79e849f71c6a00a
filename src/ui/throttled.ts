// Throttled store reads for the panels whose redraw is expensive (the recharts charts, the comparison
// table). zustand's hook re-renders synchronously on every store change (useSyncExternalStore updates are
// always urgent), so a chart that read the metrics slice directly was redrawn on every worker message, in
// the message's task: 130-1100 ms main-thread tasks on SwiftShader. This hook subscribes outside React,
// compares the picked values shallowly, and hands React a new snapshot at most once per `ms`, inside
// startTransition, so the redraw is an interruptible render off the message's task. Series helpers below
// cap what a chart draws.
import { startTransition, useEffect, useRef, useState } from 'react';
import { type AppState, useAppStore } from '../store';

/** True when both objects have the same keys with identical (===) values. */
export function shallowEqual<T extends object>(a: T, b: T): boolean {
  if (a === b) return true;
  const ka = Object.keys(a) as (keyof T)[];
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.is(a[k], b[k]));
}

/**
 * The picked slice of the store, refreshed at most once every `ms` (trailing: the last change always
 * arrives), and no sooner than `delay` ms after a change. `pick` runs on every store change, so it must be
 * cheap: return references, not derived data; derive with useMemo on the snapshot. Panels that redraw on
 * the same change pass different delays, so their redraws land in different frames instead of adding up
 * in one (recharts redraws synchronously on an animation frame).
 */
export function useThrottledStore<T extends object>(pick: (s: AppState) => T, ms: number, delay = 0): T {
  const pickRef = useRef(pick);
  pickRef.current = pick;
  const [snap, setSnap] = useState(() => pick(useAppStore.getState()));
  useEffect(() => {
    let shown = pickRef.current(useAppStore.getState());
    let timer: ReturnType<typeof setTimeout> | null = null;
    let last = 0;
    const flush = () => {
      timer = null;
      last = performance.now();
      const next = pickRef.current(useAppStore.getState());
      if (shallowEqual(next, shown)) return;
      shown = next;
      startTransition(() => setSnap(next));
    };
    // The state may have changed between the first render and this effect.
    flush();
    const unsub = useAppStore.subscribe((s) => {
      if (timer) return;
      if (shallowEqual(pickRef.current(s), shown)) return;
      timer = setTimeout(flush, Math.max(delay, last + ms - performance.now()));
    });
    return () => {
      unsub();
      if (timer) clearTimeout(timer);
    };
  }, [ms, delay]);
  return snap;
}

/**
 * At most `max` points of a line: every k-th point, always keeping the first and the last, so a long
 * run's curve costs a chart the same as a short one's.
 */
export function downsample<P>(pts: readonly P[], max: number): P[] {
  if (pts.length <= max) return pts.slice();
  const stride = Math.ceil((pts.length - 1) / (max - 1));
  const out: P[] = [];
  for (let i = 0; i < pts.length - 1; i += stride) out.push(pts[i]);
  out.push(pts[pts.length - 1]);
  return out;
}
