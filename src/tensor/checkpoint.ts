// Activation checkpointing: a segment of the forward (one decoder block) keeps only its input and its
// output. Its forward runs on a tape of its own that is thrown away at once; in backward the segment runs
// again from the kept input on a fresh tape, which is backpropagated from the output's gradient: parameter
// gradients land in the same (flat) buffers, where they accumulate, and the input's gradient is written into
// the outer tape's buffer for it. What the recompute must see the same is carried over: values drawn with
// `Tape.draw` (dropout streams) are replayed in order; integer inputs (positions, packed rows' segments)
// belong to the outer tape and live to its end; per-tape caches of the hooks (prefix tuning's table) are
// rebuilt on each tape and backpropagated there, so shared trainable tensors receive every block's share.
// The segment's own activations exist only while it runs: peak memory is the kept inputs plus one block.

import { Tape, Tensor } from './tape';

/** Runs `fn` on x now without keeping its activations, and again in backward to get its gradients. */
export function checkpoint<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  fn: (inner: Tape<S, I>, x: Tensor<S>) => Tensor<S>,
  name: string,
): Tensor<S> {
  if (!tp.grad) return fn(tp, x);
  // A grad-mode tape, so hooks behave as in training (dropout on); never backpropagated, only disposed.
  const fwd = new Tape(tp.be, true);
  let y: Tensor<S>;
  let draws: readonly number[];
  try {
    const out = fn(fwd, x);
    if (out === x) throw new Error(`checkpoint ${name}: the segment returned its input`);
    y = tp.tensor(out.shape, out.requiresGrad, `${name}.out`);
    tp.be.scale({ out: y.store, x: out.store, n: out.size, alpha: 1 });
    draws = [...fwd.drawn];
  } finally {
    fwd.dispose();
  }
  // Draws made inside count as the outer tape's too (a checkpoint inside a recompute replays them).
  for (const v of draws) tp.draw(() => v);
  if (!y.requiresGrad) return y;
  tp.record(name, () => {
    const dy = tp.gradOf(y);
    if (!dy) return;
    const re = new Tape(tp.be, true, { replay: draws });
    try {
      // The kept input as a tensor of the recompute's tape that it does not own: its gradient buffer is
      // the outer tape's, so the recompute writes (or adds) into it directly.
      const xr = new Tensor<S>(x.shape, x.store, x.requiresGrad, x.name);
      const gx = x.requiresGrad ? tp.gradTarget(x) : null;
      if (gx) {
        xr.grad = gx.buf;
        xr.gradInit = gx.accumulate;
      }
      const out = fn(re, xr);
      re.seedGrad(out, dy);
      re.backward();
      if (gx && xr.gradInit) tp.wrote(x);
    } finally {
      re.dispose();
    }
  });
  return y;
}
