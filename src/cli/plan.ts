// `npm run cli -- plan`: the device memory a fine-tune will need, predicted from config.json alone (a local
// folder's, or a Hub model's fetched without its weights), by category, for one method or several side by
// side on one shared base (train/plan.ts). With --budget, a choice that does not fit comes with what would:
// micro-batches, activation checkpointing, a 16- or 4-bit base, each with its own predicted peak. No GPU is
// opened: the prediction runs on the metering backend. Prints one JSON line (the plan) last.

import { parseModelConfig } from '../formats/model-config';
import { getMethod } from '../peft/registry';
import type { RawOptions } from '../peft/types';
import { BASE_DTYPES } from '../tensor/weight-format';
import {
  PLAN_DEFAULTS,
  type PlanChoice,
  type PlanRun,
  parseBytes,
  planJson,
  planTraining,
  suggestFits,
} from '../train/plan';
import type { Args, FlagSpecs } from './args';
import { readModelConfigText } from './model-dir';

export const PLAN_USAGE = `  plan --model DIR|ORG/NAME[@REV] (--method NAME [--set key=value ...] | --methods a,b,c) --batch B --seq T
        [--grad-accum K] [--pack] [--checkpointing] [--base-dtype ${BASE_DTYPES.join('|')}] [--budget BYTES|4GiB]
        [--max-buffer BYTES|1GiB]
        predicted training memory from config.json alone (no weights read): the peak and its categories, the
        shared frozen base counted once for several runs (--methods; --set applies to each method that has
        the option); with --budget, what would fit when it does not; with --max-buffer (the device's
        per-buffer limit, \`info\` shows it), frozen tables above it planned in row parts and trained
        tensors that cannot be held under it refused; one JSON line`;

export const PLAN_FLAGS: FlagSpecs = {
  model: 'string',
  method: 'string',
  methods: 'string',
  set: 'list',
  batch: 'string',
  seq: 'string',
  'grad-accum': 'string',
  pack: 'switch',
  checkpointing: 'switch',
  'base-dtype': 'string',
  budget: 'string',
  'max-buffer': 'string',
};

/** The runs --method/--methods name, each with the --set options its method declares. */
export function planRuns(a: Args): PlanRun[] {
  const one = a.opt('method');
  const many = a.opt('methods');
  if (one !== undefined && many !== undefined) throw new Error('give --method or --methods, not both');
  const names = (many ?? one ?? 'lora')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw new Error('--methods names no method');
  const sets = a.sets();
  const used = new Set<string>();
  const runs = names.map((name) => {
    const keys = new Set(getMethod(name).info.options.map((o) => o.key));
    const options: RawOptions = {};
    for (const [k, v] of sets) {
      // With one method every key is its own (an unknown one is its error, naming the options it has).
      if (names.length === 1 || keys.has(k)) {
        options[k] = v;
        used.add(k);
      }
    }
    return { method: name, options };
  });
  const stray = [...sets.keys()].filter((k) => !used.has(k));
  if (stray.length > 0) throw new Error(`--set ${stray[0]}: none of ${names.join(', ')} has this option`);
  return runs;
}

/** The shape and options of the plan, from the flags. */
export function planChoice(a: Args): PlanChoice {
  const positive = (flag: string) => {
    const v = a.int(flag);
    if (v < 1) throw new Error(`--${flag} must be at least 1, got ${v}`);
    return v;
  };
  const maxBuffer = a.opt('max-buffer');
  return {
    batch: positive('batch'),
    seqLen: positive('seq'),
    gradAccum: a.opt('grad-accum') === undefined ? PLAN_DEFAULTS.gradAccum : positive('grad-accum'),
    pack: a.bool('pack') ?? PLAN_DEFAULTS.pack,
    checkpointing: a.bool('checkpointing') ?? PLAN_DEFAULTS.checkpointing,
    baseDtype: a.choice('base-dtype', BASE_DTYPES) ?? PLAN_DEFAULTS.baseDtype,
    maxBufferBytes: maxBuffer === undefined ? undefined : parseBytes(maxBuffer),
  };
}

export async function planCommand(a: Args): Promise<void> {
  a.declare(PLAN_FLAGS, 'plan');
  const model = a.nonEmpty('model');
  const runs = planRuns(a);
  const choice = planChoice(a);
  const budgetText = a.opt('budget');
  const budget = budgetText === undefined ? null : parseBytes(budgetText);
  const { text, file } = await readModelConfigText(model);
  const config = parseModelConfig(text, file);
  const plan = planTraining(config, runs, choice);
  const suggestions = budget === null ? null : suggestFits(config, runs, plan, budget);
  process.stdout.write(`${JSON.stringify({ model, ...planJson(plan, suggestions, budget) })}\n`);
}
