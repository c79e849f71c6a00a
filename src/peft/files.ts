// Reading an adapter folder back: which method an adapter_config.json describes (PEFT's peft_type, with
// LORA+use_dora meaning DoRA and our bottleneck adapters naming their method), its options read back
// through the method's specs (the same reader as `--set` and the page's form), and a plan built from
// them, ready for Adapter.load(adapter_model.safetensors).

import type { ModelConfig } from '../formats/model-config';
import type { ParamSpec } from '../tensor/params';
import { type AdapterPlan, planWithOptions } from './adapter';
import { savedOptions } from './options';
import { type AnyMethod, getMethod } from './registry';
import type { PeftMethod } from './types';

const BY_PEFT_TYPE: Record<string, string> = {
  IA3: 'ia3',
  LOKR: 'lokr',
  PROMPT_TUNING: 'prompt',
  PREFIX_TUNING: 'prefix',
  FULL: 'full',
  BITFIT: 'bitfit',
  SPARSE: 'sparse',
  ROWS: 'rows',
  TOP_LAYERS: 'top_layers',
};

export function methodForAdapterConfig(
  json: Record<string, unknown>,
  file = 'adapter_config.json',
): AnyMethod {
  const type = json.peft_type;
  if (type === 'LORA') return getMethod(json.use_dora === true ? 'dora' : 'lora');
  if (type === 'BOTTLENECK_ADAPTER') {
    if (typeof json.method !== 'string')
      throw new Error(`${file}: a bottleneck adapter must name its "method"`);
    return getMethod(json.method);
  }
  if (typeof type === 'string' && BY_PEFT_TYPE[type]) return getMethod(BY_PEFT_TYPE[type]);
  throw new Error(
    `${file}: peft_type ${JSON.stringify(type)} is not one this playground trains (${['LORA', 'BOTTLENECK_ADAPTER', ...Object.keys(BY_PEFT_TYPE)].join(', ')})`,
  );
}

/**
 * A method's options from its saved adapter_config.json: the keys its specs declare, parsed as any other
 * options (defaults for keys left out), after the method's own refusals of what it cannot rebuild.
 */
export function readAdapterConfig<O>(
  method: PeftMethod<O>,
  json: Record<string, unknown>,
  config: ModelConfig,
): O {
  method.checkAdapterConfig?.(json, config);
  return method.parse(savedOptions(method.info.options, json), config, { saved: true });
}

/** Parses adapter_config.json text and plans the adapter it describes over the given base model. */
export function planFromAdapterConfig(
  text: string,
  config: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  seed = 0,
  file = 'adapter_config.json',
): { method: AnyMethod; plan: AdapterPlan<unknown> } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${file}: must be a JSON object`);
  const obj = json as Record<string, unknown>;
  const method = methodForAdapterConfig(obj, file);
  const options = readAdapterConfig(method, obj, config);
  return { method, plan: planWithOptions(method, options, config, baseSpecs, seed) };
}
