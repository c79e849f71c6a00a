// Activation checkpointing: a segment of the forward (one decoder block) keeps only its input and its
// output. Its forward runs on a tape of its own that is thrown away at once; in backward the segment runs
// again from the kept input on a fresh tape, which is backpropagated from the output's gradient: parameter
// gradients land in the same (flat) buffers, where they accumulate, and the input's gradient is written into
// the outer tape's buffer for it. What the recompute must see the same is carried over:
// - dropout masks: the forward's tape runs on a backend that logs each dropout's (seed, stream), and the
//   recompute's on one that gives its k-th dropout the k-th logged pair, in forward and in backward, so any
//   method's dropout replays its mask even when its hook counts streams per call;
// - integer inputs (positions, packed rows' segments) belong to the outer tape and live to its end;
// - per-tape caches of the hooks (prefix tuning's table, built once per tape) are rebuilt on each tape and
//   backpropagated there, so shared trainable tensors receive every block's share.
// The segment's own activations exist only while it runs: peak memory is the kept inputs plus one block.

import type { DropoutArgs, DropoutBackwardArgs } from '../gpu/kernels/dropout';
import type { Backend } from './backend';
import { Tape, Tensor } from './tape';

type Mask = { seed: number; stream: number };

/** `be` with dropout's (seed, stream) logged (forward) or replaced in order from a log (recompute). */
function maskBackend<S, I>(be: Backend<S, I>, log: Mask[], replay: boolean): Backend<S, I> {
  let k = 0;
  // Recompute: the hook's own (seed, stream) for each call → the forward's, for the backward to match.
  const swapped = new Map<string, Mask>();
  const dropout = (p: DropoutArgs<S>) => {
    if (!replay) {
      log.push({ seed: p.seed, stream: p.stream });
      return be.dropout(p);
    }
    const m = log[k++];
    if (!m) throw new Error('checkpoint: the recomputed block ran more dropouts than its forward');
    swapped.set(`${p.seed}|${p.stream}`, m);
    return be.dropout({ ...p, ...m });
  };
  const dropoutBackward = (p: DropoutBackwardArgs<S>) =>
    be.dropoutBackward({ ...p, ...(swapped.get(`${p.seed}|${p.stream}`) ?? {}) });
  return new Proxy(be, {
    get: (target, key) =>
      key === 'dropout' ? dropout : key === 'dropoutBackward' ? dropoutBackward : Reflect.get(target, key),
  });
}

/** Runs `fn` on x now without keeping its activations, and again in backward to get its gradients. */
export function checkpoint<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  fn: (inner: Tape<S, I>, x: Tensor<S>) => Tensor<S>,
  name: string,
): Tensor<S> {
  if (!tp.grad) return fn(tp, x);
  const masks: Mask[] = [];
  // A grad-mode tape, so hooks behave as in training (dropout on); never backpropagated, only disposed.
  const fwd = new Tape(maskBackend(tp.be, masks, false), true);
  let y: Tensor<S>;
  try {
    const out = fn(fwd, x);
    if (out === x) throw new Error(`checkpoint ${name}: the segment returned its input`);
    y = tp.tensor(out.shape, out.requiresGrad, `${name}.out`);
    tp.be.scale({ out: y.store, x: out.store, n: out.size, alpha: 1 });
  } finally {
    fwd.dispose();
  }
  if (!y.requiresGrad) return y;
  tp.record(name, () => {
    const dy = tp.gradOf(y);
    if (!dy) return;
    const re = new Tape(maskBackend(tp.be, masks, true), true);
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
