// The methods the playground trains until the PEFT registry (src/peft/) lands: `full` and `top_layers`,
// described as data ({name, label, options with defaults}) so the method picker renders any list, and
// the registry can replace this file by exporting the same shape. Each method states which checkpoint
// tensors train and its trainable count from a closed formula over the config's tensor shapes.
import { expectedTensorShapes, type ModelConfig } from '../formats/model-config';

export interface MethodOption {
  key: string;
  label: string;
  kind: 'int' | 'number';
  default: number;
  min?: number;
  /** The largest allowed value for this model, when it depends on it (e.g. the number of blocks). */
  max?: (config: ModelConfig) => number;
}

export type MethodOptions = Record<string, number>;

export interface MethodSpec {
  name: string;
  label: string;
  /** PEFT-style default learning rate for the method. */
  defaultLr: number;
  options: MethodOption[];
  /** Which canonical checkpoint keys train; throws with the option's name when an option is out of range. */
  trainable(config: ModelConfig, options: MethodOptions): (key: string) => boolean;
}

const BLOCK = /\.(?:h|layers)\.(\d+)\./;

export const LOCAL_METHODS: MethodSpec[] = [
  {
    name: 'full',
    label: 'Full fine-tuning',
    defaultLr: 5e-5,
    options: [],
    trainable: () => () => true,
  },
  {
    name: 'top_layers',
    label: 'Top layers',
    defaultLr: 1e-4,
    options: [
      {
        key: 'num_layers',
        label: 'blocks trained',
        kind: 'int',
        default: 1,
        min: 1,
        max: (c) => c.numLayers,
      },
    ],
    trainable: (config, options) => {
      const k = options.num_layers ?? 1;
      if (!Number.isInteger(k) || k < 1 || k > config.numLayers)
        throw new RangeError(`top_layers option num_layers=${k}: must be an integer 1..${config.numLayers}`);
      const first = config.numLayers - k;
      return (key) => {
        const m = BLOCK.exec(key);
        if (m) return Number(m[1]) >= first;
        // The final norm sits above the top block, so it trains with it (PEFT's layers_to_transform + head norm).
        return /(?:ln_f|model\.norm)\./.test(key);
      };
    },
  },
];

export function methodSpec(name: string): MethodSpec {
  const m = LOCAL_METHODS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown method "${name}"; known: ${LOCAL_METHODS.map((x) => x.name).join(', ')}`);
  return m;
}

/** Each option at its default, overridden by `given`. */
export function withDefaults(spec: MethodSpec, given: MethodOptions = {}): MethodOptions {
  const out: MethodOptions = {};
  for (const o of spec.options) out[o.key] = given[o.key] ?? o.default;
  return out;
}

export interface ParamCounts {
  trainable: number;
  total: number;
}

/** Trainable and total weights from the config's shapes alone (no checkpoint read). */
export function countTrainable(config: ModelConfig, method: string, options: MethodOptions): ParamCounts {
  const pred = methodSpec(method).trainable(config, withDefaults(methodSpec(method), options));
  let trainable = 0;
  let total = 0;
  for (const [key, shape] of expectedTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    total += n;
    if (pred(key)) trainable += n;
  }
  return { trainable, total };
}

export interface MemoryPrediction {
  frozen: number;
  trainable: number;
  gradients: number;
  optimizer: number;
  /** A rough bound for activations saved by the tape (the one estimated figure). */
  activations: number;
  total: number;
}

/**
 * The memory shown before a run starts: weights, gradients and Adam moments are exact (f32, one flat
 * buffer each for what trains); activations are estimated from the tensors a block saves for backward.
 */
export function predictMemory(
  config: ModelConfig,
  method: string,
  options: MethodOptions,
  batch: number,
  seqLen: number,
): MemoryPrediction {
  const { trainable, total } = countTrainable(config, method, options);
  const frozen = (total - trainable) * 4;
  const tr = trainable * 4;
  const BT = batch * seqLen;
  const d = config.hiddenSize;
  const perBlock = BT * (8 * d + 3 * config.intermediateSize) + batch * config.numHeads * seqLen;
  const activations = 4 * (config.numLayers * perBlock + 2 * BT * config.vocabSize + BT * d);
  return {
    frozen,
    trainable: tr,
    gradients: tr,
    optimizer: 2 * tr,
    activations,
    total: frozen + 4 * tr + activations,
  };
}
