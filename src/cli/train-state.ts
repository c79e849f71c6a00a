// What `train` keeps on disk so no work is lost (files.ts checks the output folder before training and
// writes every file atomically): the resumable state (`--save-every N`, SIGINT, `--resume DIR`):
// SftRunner's checkpoint (trainable values, AdamW moments, step) in training_state.safetensors beside the
// adapter files, with the settings that decide the batches, which a resumed run must share.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors, toFloat32, writeSafetensors } from '../formats/safetensors';
import type { SftCheckpoint, SftRunConfig } from '../train/sft-config';
import { writeFileAtomic } from './files';

export const STATE_FILE = 'training_state.safetensors';

/** The settings a resumed run must share with the saved one (they decide the parameters and the batches). */
function identity(run: SftRunConfig): Record<string, unknown> {
  return {
    method: run.method,
    options: run.options,
    seed: run.seed,
    batch: run.batch,
    seqLen: run.seqLen,
    gradAccum: run.gradAccum,
    pack: !!run.pack,
  };
}

/** The checkpoint as a safetensors file, with the step and the run's identity in its metadata. */
export function encodeTrainState(ck: SftCheckpoint, run: SftRunConfig): Uint8Array {
  const t = (data: Float32Array) => ({ dtype: 'F32' as const, shape: [data.length], data });
  return writeSafetensors(
    { params: t(ck.params), m: t(ck.m), v: t(ck.v) },
    {
      step: String(ck.step),
      tokens: String(ck.tokens),
      active_ms: String(ck.activeMs),
      run: JSON.stringify(identity(run)),
    },
  );
}

/** Reads a saved state back, refusing one from a run with other settings (naming the first that differs). */
export function decodeTrainState(bytes: Uint8Array, run: SftRunConfig, file: string): SftCheckpoint {
  const h = parseSafetensors(bytes, file);
  const meta = h.metadata ?? {};
  const saved = JSON.parse(meta.run ?? '{}') as Record<string, unknown>;
  const now = identity(run);
  for (const [k, v] of Object.entries(now))
    if (JSON.stringify(saved[k]) !== JSON.stringify(v))
      throw new Error(
        `--resume ${file}: saved with ${k} ${JSON.stringify(saved[k])}, this run has ${JSON.stringify(v)}`,
      );
  const tensor = (key: string) => {
    const info = h.tensors.get(key);
    if (!info) throw new Error(`--resume ${file}: missing tensor "${key}"`);
    return toFloat32(bytes.subarray(h.dataStart + info.begin, h.dataStart + info.end), info.dtype, file, key);
  };
  const num = (k: string) => {
    const v = Number(meta[k]);
    if (!Number.isFinite(v)) throw new Error(`--resume ${file}: metadata "${k}" is ${meta[k]}`);
    return v;
  };
  return {
    step: num('step'),
    tokens: num('tokens'),
    activeMs: num('active_ms'),
    params: tensor('params'),
    m: tensor('m'),
    v: tensor('v'),
  };
}

/** Writes the adapter files and the state into `dir`, each atomically. */
export function saveTrainState(
  dir: string,
  files: { config: string; weights: Uint8Array },
  ck: SftCheckpoint,
  run: SftRunConfig,
): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'adapter_config.json'), files.config);
  writeFileAtomic(join(dir, 'adapter_model.safetensors'), files.weights);
  writeFileAtomic(join(dir, STATE_FILE), encodeTrainState(ck, run));
}

/** `--resume DIR`'s checkpoint. */
export function loadTrainState(dir: string, run: SftRunConfig): SftCheckpoint {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file))
    throw new Error(`--resume ${dir}: no ${STATE_FILE} (saved by --save-every or Ctrl-C)`);
  return decodeTrainState(new Uint8Array(readFileSync(file)), run, file);
}

/**
 * SIGINT while training: the first asks the loop to stop after the current step (the state is then saved);
 * a second one ends the process at once. Returns whether a stop was asked, and the handler's remover.
 */
export function interruptible(): { stopped: () => boolean; release: () => void } {
  let asked = false;
  const onSigint = () => {
    if (asked) process.exit(130);
    asked = true;
    process.stderr.write(
      'interrupted: saving the current state after this step (Ctrl-C again to quit now)\n',
    );
  };
  process.on('SIGINT', onSigint);
  return { stopped: () => asked, release: () => void process.off('SIGINT', onSigint) };
}
