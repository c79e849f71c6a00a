// Every fine-tuning method the playground offers, by name. Methods are listed here and nowhere else; the
// page's picker (grouped by each method's family, in this order), the CLI and the test matrix read this list.

import { bitfit } from './methods/bitfit';
import { compacter } from './methods/compacter';
import { dora } from './methods/dora';
import { full } from './methods/full';
import { houlsby } from './methods/houlsby';
import { ia3 } from './methods/ia3';
import { lokr } from './methods/lokr';
import { lora } from './methods/lora';
import { pfeiffer } from './methods/pfeiffer';
import { prefix } from './methods/prefix';
import { prompt } from './methods/prompt';
import { rows } from './methods/rows';
import { sparse } from './methods/sparse';
import { topLayers } from './methods/top_layers';
import type { MethodName, PeftMethod } from './types';

// Each method has its own option type; the registry holds them with the options opaque (method
// syntax in PeftMethod keeps a PeftMethod<LoraOptions> assignable to this).
export type AnyMethod = PeftMethod<unknown>;

const METHODS: readonly AnyMethod[] = [
  full,
  lora,
  houlsby,
  pfeiffer,
  compacter,
  prompt,
  prefix,
  bitfit,
  topLayers,
  sparse,
  rows,
  dora,
  lokr,
  ia3,
];

export function listMethods(): AnyMethod[] {
  return [...METHODS];
}

export function getMethod(name: string): AnyMethod {
  const m = METHODS.find((x) => x.info.name === name);
  if (!m)
    throw new Error(`unknown method "${name}" (available: ${METHODS.map((x) => x.info.name).join(', ')})`);
  return m;
}

export type { MethodName };
