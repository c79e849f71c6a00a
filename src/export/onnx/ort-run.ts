// Runs an exported model in onnxruntime-web and returns its logits: the one place that knows the
// exported graph's input and output names. The caller passes the ort module (the page and Node load it
// differently, and set `env.wasm` paths and threads themselves), so nothing here imports the runtime.
import type * as Ort from 'onnxruntime-web';

export type OrtModule = typeof Ort;

export interface OnnxRunInput {
  /** Token ids [B·T]. */
  ids: ArrayLike<number>;
  B: number;
  T: number;
  /** Position ids [B·T], only for a model exported with `positionIds`. */
  positions?: ArrayLike<number>;
}

const toI64 = (a: ArrayLike<number>) => BigInt64Array.from(Array.from(a, (v) => BigInt(v)));

/** Creates a session on the wasm backend (CPU): the reference path, available everywhere. */
export function createOnnxSession(ort: OrtModule, bytes: Uint8Array): Promise<Ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
}

/** Logits [B·T·V] as f32 from one run of the session. */
export async function runOnnxLogits(
  ort: OrtModule,
  session: Ort.InferenceSession,
  input: OnnxRunInput,
): Promise<Float32Array> {
  const { B, T } = input;
  if (input.ids.length !== B * T) throw new Error(`ONNX run: ${input.ids.length} ids for B=${B}, T=${T}`);
  const feeds: Record<string, Ort.Tensor> = { input_ids: new ort.Tensor('int64', toI64(input.ids), [B, T]) };
  if (input.positions) {
    if (!session.inputNames.includes('position_ids'))
      throw new Error('ONNX run: positions given, but the model was exported without a position_ids input');
    feeds.position_ids = new ort.Tensor('int64', toI64(input.positions), [B, T]);
  }
  const out = await session.run(feeds);
  const logits = out.logits;
  if (logits?.type !== 'float32') throw new Error('ONNX run: the model has no float32 "logits" output');
  return logits.data as Float32Array;
}
