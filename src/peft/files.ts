// Reading an adapter folder back: which method an adapter_config.json describes (PEFT's peft_type, with
// LORA+use_dora meaning DoRA and our bottleneck adapters naming their method), and a plan built from the
// saved options, ready for Adapter.load(adapter_model.safetensors).

import type { ModelConfig } from '../formats/model-config';
import type { ParamSpec } from '../tensor/params';
import { type AdapterPlan, planWithOptions } from './adapter';
import { type AnyMethod, getMethod } from './registry';

const BY_PEFT_TYPE: Record<string, string> = {
  IA3: 'ia3',
  LOKR: 'lokr',
  PROMPT_TUNING: 'prompt',
  PREFIX_TUNING: 'prefix',
  FULL: 'full',
  BITFIT: 'bitfit',
  SPARSE: 'sparse',
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
  const options = method.fromAdapterConfig(obj, config);
  return { method, plan: planWithOptions(method, options, config, baseSpecs, seed) };
}
