// The worker's loaded model and its GPU probe: opens the built-in model or dropped files (src/model/sources,
// the fit check against the budget and the adapter's buffer limits before any weight is fetched), lists the
// checkpoint's tensors as specs with no values read (plans need shapes only; runs stream the values onto the
// shared device, device.ts), and tells the page the model's summary. The GPU probe's device is kept as the
// page's one device. A model that fails to load leaves the one loaded before in use.
import { countParameters, type ModelConfig } from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import type { TextTokenizer, TokenizerFiles } from '../formats/tokenizer';
import type { GpuContext } from '../gpu/context';
import { acquireBrowserGpu, parseWithheldFeatures } from '../gpu/device';
import { perBufferLimit, summarizeGpu } from '../gpu/summary';
import { baseSpecsOf, checkpointBaseSource } from '../model/load';
import { BUILTIN_MODEL_PATH, builtinModelSource, filesModelSource } from '../model/sources';
import type { MethodContext } from '../peft/types';
import type { ParamSpec } from '../tensor/params';
import { indexedDbAutotuneCache } from './autotune-cache';
import type { FromWorker, ModelSource } from './protocol';

export interface LoadedModel {
  name: string;
  config: ModelConfig;
  reader: TensorReader;
  tokenizer: TextTokenizer;
  /** The tokenizer files as read, so the merged model's export carries them. */
  tokenizerFiles?: TokenizerFiles;
  /**
   * The checkpoint's tensors as specs with no values read (data null, f32): what a plan needs. Values are
   * read only onto the device, one tensor at a time, by the shared base (device.ts).
   */
  base: Promise<ParamSpec[]>;
}

export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** What a method's planner may ask of the model: its tokenizer (prompt-tuning init text) and name. */
export const methodCtxOf = (m: LoadedModel): MethodContext => ({
  tokenizer: { encode: (text: string) => m.tokenizer.encode(text) },
  tokenizerName: m.name,
});

/** The end-of-sequence ids of the config and the tokenizer, once each. */
export const eosIdsOf = (m: LoadedModel): number[] => [
  ...new Set([...m.config.eosTokenIds, ...(m.tokenizer.eosId !== null ? [m.tokenizer.eosId] : [])]),
];

/**
 * The worker's device: kernel variants tuned on a hardware GPU (once per adapter, kept in IndexedDB);
 * SwiftShader keeps its untuned defaults (gpu/device.ts).
 */
const TUNE = { tune: 'hardware', cache: indexedDbAutotuneCache() } as const;

export class ModelHolder {
  private model: Promise<LoadedModel> | null = null;
  private maxBufferBytes = Number.POSITIVE_INFINITY;
  private gpuProbe: Promise<void> | null = null;

  /** The probe's device, handed to the first one who asks (device.ts keeps it as the page's device). */
  private probed: GpuContext | null = null;

  /** Optional features every device of this page withholds (the page's `?gpu_without=`). */
  private withoutFeatures: string[] = [];

  constructor(private readonly post: (m: FromWorker) => void) {}

  /** The probe's device if not yet taken (and not lost), else a new one: the page's one device. */
  async acquireDevice(): Promise<GpuContext> {
    await this.gpuProbe;
    const ctx = this.probed;
    this.probed = null;
    return ctx && !ctx.lost ? ctx : acquireBrowserGpu({ ...TUNE, withoutFeatures: this.withoutFeatures });
  }

  /**
   * Acquires the device to report the adapter and learn its buffer limit (for the model fit check).
   * `gpuWithout` is the page's `?gpu_without=`; a name it does not know is reported as the device's error.
   */
  probeGpu(gpuWithout: string | null = null): void {
    this.gpuProbe = (async () => {
      try {
        this.withoutFeatures = parseWithheldFeatures(gpuWithout, "The address's gpu_without");
        const ctx = await acquireBrowserGpu({ ...TUNE, withoutFeatures: this.withoutFeatures });
        this.maxBufferBytes = perBufferLimit(ctx.limits);
        this.post({ type: 'gpu', info: summarizeGpu(ctx) });
        this.probed = ctx;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.post({ type: 'gpuError', name: err.name, message: err.message });
      }
    })();
  }

  load(src: ModelSource, budgetBytes: number): void {
    this.post({ type: 'modelLoading', name: src.name });
    const previous = this.model;
    const next = this.open(src, budgetBytes);
    this.model = next;
    next.catch((e: unknown) => {
      if (this.model === next) this.model = previous;
      this.post({ type: 'modelError', message: errorMessage(e) });
    });
  }

  require(): Promise<LoadedModel> {
    if (!this.model) throw new Error('no model is loaded yet');
    return this.model;
  }

  private async open(src: ModelSource, budgetBytes: number): Promise<LoadedModel> {
    await this.gpuProbe;
    const source = src.kind === 'builtin' ? builtinModelSource() : filesModelSource(src.files);
    // The fit check runs before the weights are fetched; its message names the figures.
    const opened = await source.open({ budget: { maxBufferBytes: this.maxBufferBytes, budgetBytes } });
    const { config, reader, tokenizer, tokenizerFiles } = opened;
    const name = src.kind === 'builtin' ? src.name : src.name || opened.label;
    // Shapes checked against the config now; nothing read (each run streams the values to the device).
    const base = Promise.resolve(baseSpecsOf(checkpointBaseSource(config, reader)));
    const total = countParameters(config);
    this.post({
      type: 'modelReady',
      model: {
        name,
        modelType: config.modelType,
        layers: config.numLayers,
        hiddenSize: config.hiddenSize,
        vocabSize: config.vocabSize,
        maxPositions: config.maxPositions,
        totalParams: total,
        weightBytes: total * 4,
        configJson: JSON.parse(await configText(src, opened.label)) as Record<string, unknown>,
      },
    });
    return { name, config, reader, tokenizer, tokenizerFiles, base };
  }
}

/** config.json's text again (the source parsed it; the page gets the plain object). */
async function configText(src: ModelSource, label: string): Promise<string> {
  if (src.kind === 'files') {
    const f = src.files.find((x) => x.name === 'config.json');
    if (f) return f.text();
  }
  const res = await fetch(`${BUILTIN_MODEL_PATH}config.json`);
  if (!res.ok) throw new Error(`${label}: config.json could not be read again (HTTP ${res.status})`);
  return res.text();
}
