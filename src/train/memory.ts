// The memory a training step will need, by category, predicted before anything is allocated: one step
// (forward, loss, backward, optimizer update) run on the metering backend with the same model code,
// method hooks, batch shape and options (activation checkpointing, the frozen tensors' dtypes as the specs
// state them). What it cannot see is kernels' own brief workspace (reduction partials, the attention
// backward's row sums), which is small next to activations. A packed step (shape.pack) also uploads its
// positions and segment ids, as the runner does. Specs may carry no values (data null): the meter reads
// none, so a 1.5B model is predicted in well under a second from its config alone (train/plan.ts). With a
// per-buffer limit, frozen tensors above it are held in row parts exactly as a FrozenBase uploads them
// (split-weight.ts), so the prediction counts each part's buffers and the split head's scratch.

import { modelTensors } from '../formats/architecture';
import { largestBufferBytes, type ModelConfig } from '../formats/model-config';
import { causalLmLoss } from '../model/loss';
import type { ModelHooks } from '../model/transformer';
import type { Backend } from '../tensor/backend';
import { type MeterStats, type MeterStore, meterBackend } from '../tensor/meter-backend';
import { assertFlatBufferFits, ParamSet, type ParamSpec } from '../tensor/params';
import { splitFrozenSet } from '../tensor/split-weight';
import { Tape } from '../tensor/tape';
import { ADAMW_DEFAULTS, AdamW, type AdamWConfig } from './optimizer';

export interface StepShape {
  B: number;
  T: number;
  /** Packed rows (SftRunConfig.pack): the step carries position and segment ids [B·T]. */
  pack?: boolean;
  /** Activation checkpointing per block (SftRunConfig.checkpointing); the same as opts.checkpointing. */
  checkpointing?: boolean;
}

export interface TrainingMemoryOptions extends Partial<Pick<AdamWConfig, 'maxGradNorm'>> {
  /** Activation checkpointing per block, passed to causalLmLoss as the runner passes it. */
  checkpointing?: boolean;
  /**
   * The device's per-buffer limit: frozen tensors above it are held in row parts (as the run's FrozenBase
   * holds them); a trained tensor above it is refused. Default: no limit.
   */
  maxBufferBytes?: number;
}

/**
 * The set a step runs on: with a finite per-buffer limit the frozen tensors come from a set that splits
 * those above it (refusing a trained one above it by name), else the specs go in as they are.
 */
function paramsFor<S, I>(
  be: Backend<S, I>,
  specs: readonly ParamSpec[],
  maxBufferBytes = Number.POSITIVE_INFINITY,
  /** The frozen tensors whose readers take row parts (the model's tables); absent: any may be split. */
  splittable: ReadonlySet<string> | null = null,
): ParamSet<S, I> {
  if (!Number.isFinite(maxBufferBytes)) return new ParamSet(be, specs);
  for (const s of specs) {
    const cols = s.shape.slice(1).reduce((a, b) => a * b, 1);
    const dtype = s.trainable ? 'f32' : (s.dtype ?? 'f32');
    const bytes = largestBufferBytes(s.shape[0] ?? 1, cols, dtype, s.layout ?? 'out_in');
    if (bytes <= maxBufferBytes) continue;
    const what = `${s.name} [${s.shape}] needs ${bytes} bytes in one ${dtype} buffer, over the ${maxBufferBytes}-byte per-buffer limit`;
    if (s.trainable)
      throw new Error(
        `${what}; it is trained, and a trained tensor cannot be split (LoRA keeps it frozen, held in parts)`,
      );
    if (splittable && !splittable.has(s.name))
      throw new Error(`${what}; only the embedding and the LM head are read in row parts`);
  }
  // The trained tensors share one flat buffer (ParamSet): its size, not only each tensor's, meets the limit.
  assertFlatBufferFits(specs, be.viewAlign, maxBufferBytes);
  return new ParamSet(be, specs, { base: splitFrozenSet(be, specs, maxBufferBytes) });
}

/** Peak and per-category bytes of one training step; `hooks` builds the method's hooks on the meter's params. */
export function predictTrainingMemory(
  config: ModelConfig,
  specs: readonly ParamSpec[],
  hooks: (ps: ParamSet<MeterStore, MeterStore>) => ModelHooks<MeterStore, MeterStore>,
  shape: StepShape,
  opts: TrainingMemoryOptions = {},
): MeterStats {
  const be = meterBackend();
  const t = modelTensors(config);
  const tables = new Set([t.embed, t.head, t.positions ?? t.embed]);
  const ps = paramsFor(be, specs, opts.maxBufferBytes, tables);
  // The meter reads no values: the hyperparameters do not change what is allocated.
  const opt = new AdamW(ps, { ...ADAMW_DEFAULTS, maxGradNorm: opts.maxGradNorm ?? 1 });
  const ids = new Int32Array(shape.B * shape.T);
  const tp = new Tape(be, true);
  ps.zeroGrads();
  // The meter reads no values: any ids of the right length stand for the packed rows' positions and segments.
  const packed = shape.pack
    ? { positions: new Int32Array(ids.length), segments: new Int32Array(ids.length) }
    : {};
  const checkpointing = opts.checkpointing ?? shape.checkpointing ?? false;
  causalLmLoss(tp, config, ps, { ids, labels: ids, B: shape.B, T: shape.T, ...packed }, hooks(ps), {
    checkpointing,
  });
  tp.backward();
  opt.update();
  tp.dispose();
  return be.stats();
}

/** Bytes a set of frozen tensors takes on the device, as the meter counts their upload (in parts above the limit). */
export function frozenBytes(specs: readonly ParamSpec[], maxBufferBytes = Number.POSITIVE_INFINITY): number {
  const be = meterBackend();
  const ps = paramsFor(
    be,
    specs.map((s) => ({ ...s, trainable: false, data: null })),
    maxBufferBytes,
  );
  const bytes = be.stats().current.frozen;
  ps.dispose();
  return bytes;
}
