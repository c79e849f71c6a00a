// The run's method as Python: PEFT's config class (LoraConfig with use_dora/use_rslora, LoKrConfig, IA3Config,
// PromptTuningConfig, PrefixTuningConfig), the adapters library's bottleneck configs (Houlsby, Pfeiffer,
// Compacter), or a requires_grad selection (BitFit, top layers, sparse with its mask file, full). The values
// come from the method's own adapterConfig (src/peft/methods), the same object the playground saves as
// adapter_config.json, so the options and what the method derives from the model (default targets,
// fan_in_fan_out, dimensions) are written exactly as the run used them.
import type { ModelConfig } from '../../formats/model-config';
import { getMethod } from '../../peft/registry';
import type { MethodContext, RawOptions } from '../../peft/types';
import { call, kw, type PyValue, py } from './python';

export interface MethodPython {
  /** Import lines train.py needs for the method. */
  imports: string[];
  /** Extra packages (requirements.txt lines) the method needs. */
  requirements: string[];
  /**
   * Python defining `method_config()` (the PEFT config or None) and `prepare_model(model)` (anything done to
   * the model itself before the trainer: the adapters library, requires_grad selections); returns the model.
   */
  code: string;
  /** Uses a PEFT config (the trainers take it as peft_config; the adapter saves as PEFT files). */
  peft: boolean;
}

/** PEFT's keyword arguments of each config class, picked from adapter_config.json's fields. */
const PEFT_KEYS: Record<string, { cls: string; keys: readonly string[] }> = {
  LORA: {
    cls: 'LoraConfig',
    keys: [
      'r',
      'lora_alpha',
      'lora_dropout',
      'target_modules',
      'fan_in_fan_out',
      'bias',
      'use_rslora',
      'use_dora',
      'init_lora_weights',
    ],
  },
  LOKR: {
    cls: 'LoKrConfig',
    keys: [
      'r',
      'alpha',
      'rank_dropout',
      'module_dropout',
      'use_effective_conv2d',
      'decompose_both',
      'decompose_factor',
      'rank_dropout_scale',
      'target_modules',
      'init_weights',
    ],
  },
  IA3: {
    cls: 'IA3Config',
    keys: ['target_modules', 'feedforward_modules', 'fan_in_fan_out', 'init_ia3_weights'],
  },
  PROMPT_TUNING: {
    cls: 'PromptTuningConfig',
    keys: ['num_virtual_tokens', 'prompt_tuning_init', 'prompt_tuning_init_text', 'tokenizer_name_or_path'],
  },
  PREFIX_TUNING: {
    cls: 'PrefixTuningConfig',
    keys: ['num_virtual_tokens', 'prefix_projection', 'encoder_hidden_size'],
  },
};

/** The method's adapter_config.json content for the run (its parse + adapterConfig). */
export function methodConfig(
  method: string,
  options: RawOptions,
  config: ModelConfig,
  ctx: MethodContext,
): Record<string, unknown> {
  const m = getMethod(method);
  return m.adapterConfig(m.parse(options, config, ctx), config);
}

/** The adapters library's config class for a bottleneck flavour. */
function bottleneckClass(ac: Record<string, unknown>): string {
  if (ac.phm_layer) return ac.mh_adapter && ac.output_adapter ? 'CompacterConfig' : 'CompacterPlusPlusConfig';
  return ac.architecture === 'double_seq_bn' ? 'DoubleSeqBnConfig' : 'SeqBnConfig';
}

/** `U = 0` (identity at init) is the adapters library's "mam_adapter" init; "bert" draws U too. */
const ADAPTERS_INIT: Record<string, string> = { identity: 'mam_adapter', bert: 'bert', glorot: 'bert' };

/** The method as Python, for a causal LM (`taskType` SEQ_CLS for a reward model). */
export function methodPython(
  method: string,
  ac: Record<string, unknown>,
  taskType: 'CAUSAL_LM' | 'SEQ_CLS',
  modelName: string,
): MethodPython {
  const peftType = String(ac.peft_type);
  const spec = PEFT_KEYS[peftType];
  if (spec) {
    const args: Record<string, PyValue> = { task_type: taskType };
    for (const k of spec.keys) if (k in ac) args[k] = ac[k] as PyValue;
    if (peftType === 'PROMPT_TUNING' && args.prompt_tuning_init === 'TEXT' && !args.tokenizer_name_or_path)
      args.tokenizer_name_or_path = modelName;
    return {
      imports: [`from peft import ${spec.cls}`],
      requirements: [],
      peft: true,
      code: `def method_config():
    """${getMethod(method).info.label}: PEFT's ${spec.cls} with the run's values."""
    return ${call(spec.cls, kw(args), '    ')}


def prepare_model(model):
    return model
`,
    };
  }
  if (peftType === 'BOTTLENECK_ADAPTER') {
    const cls = bottleneckClass(ac);
    const args: Record<string, PyValue> = {
      mh_adapter: ac.mh_adapter as boolean,
      output_adapter: ac.output_adapter as boolean,
      reduction_factor: ac.reduction_factor as number,
      non_linearity: ac.non_linearity as string,
      init_weights: ADAPTERS_INIT[String(ac.init_weights)] ?? 'bert',
    };
    if (ac.phm_layer) {
      args.phm_dim = ac.phm_dim as number;
      args.phm_rank = ac.phm_rank as number;
      args.phm_init_range = ac.phm_init_range as number;
    }
    return {
      imports: ['import adapters', `from adapters import ${cls}`],
      requirements: ['adapters==1.2.0'],
      peft: false,
      code: `ADAPTER_NAME = "playground"


def method_config():
    return None


def prepare_model(model):
    """${getMethod(method).info.label} through the adapters library: only the adapter trains."""
    adapters.init(model)
    model.add_adapter(ADAPTER_NAME, config=${call(cls, kw(args), '    ')})
    model.train_adapter(ADAPTER_NAME)
    return model
`,
    };
  }
  if (peftType === 'BITFIT') {
    return {
      imports: [],
      requirements: [],
      peft: false,
      code: `BITFIT_TARGETS = ${py((ac.target_modules ?? null) as PyValue)}
# Linear layers without a bias that the run gave one (zero at init): the playground's BitFit on bias-less models.
ADDED_BIASES = ${py((ac.added_biases ?? []) as PyValue)}


def method_config():
    return None


def prepare_model(model):
    """BitFit: only biases train (of BITFIT_TARGETS when set)."""
    for path in ADDED_BIASES:
        module = model.get_submodule(path)
        module.bias = torch.nn.Parameter(torch.zeros(module.out_features, dtype=module.weight.dtype))
    for name, p in model.named_parameters():
        module = name.rsplit(".", 1)[0]
        targeted = BITFIT_TARGETS is None or any(module.endswith(t) for t in BITFIT_TARGETS)
        p.requires_grad = name.endswith(".bias") and targeted
    return model
`,
    };
  }
  if (peftType === 'TOP_LAYERS') {
    return {
      imports: ['import re'],
      requirements: [],
      peft: false,
      code: `LAYERS_TO_TRANSFORM = ${py(ac.layers_to_transform as PyValue)}
TRAIN_FINAL_NORM = ${py(ac.final_norm as PyValue)}


def method_config():
    return None


def prepare_model(model):
    """Top layers: the last blocks (and the final norm) train, everything else is frozen."""
    for name, p in model.named_parameters():
        m = re.search(r"\\.(?:h|layers)\\.(\\d+)\\.", name)
        in_top = m is not None and int(m.group(1)) in LAYERS_TO_TRANSFORM
        final_norm = TRAIN_FINAL_NORM and re.search(r"(?:^|\\.)(?:ln_f|norm)\\.(?:weight|bias)$", name) is not None
        p.requires_grad = in_top or final_norm
    return model
`,
    };
  }
  if (peftType === 'SPARSE' || peftType === 'ROWS') {
    const what = peftType === 'ROWS' ? 'Row fine-tuning: whole output rows' : 'Sparse fine-tuning: entries';
    return {
      imports: ['import json'],
      requirements: [],
      peft: false,
      code: `SPARSE_DENSITY = ${py(ac.density as PyValue)}
SPARSE_MASK_KIND = ${py(ac.mask as PyValue)}
SPARSE_MASK_SEED = ${py(ac.mask_seed as PyValue)}
# The run's trainable entries per weight, flat row-major in [out, in], or whole rows (sparse_mask.json).
SPARSE_MASK_FILE = os.path.join(HERE, "sparse_mask.json")


def method_config():
    return None


def prepare_model(model):
    """${what} of each target weight train at the run's mask; other gradients are zeroed.
    With weight decay, AdamW would still shrink the frozen entries: the run's weight decay applies to the
    trained entries only, so keep weight_decay 0 or exclude these weights from it."""
    with open(SPARSE_MASK_FILE) as f:
        masks = json.load(f)
    params = dict(model.named_parameters())
    for p in params.values():
        p.requires_grad = False
    for module, entry in masks.items():
        w = params[module + ".weight"]
        out_f, in_f = entry["shape"]
        keep = torch.zeros(out_f, in_f, dtype=w.dtype)
        if "rows" in entry:
            keep[torch.tensor(entry["rows"], dtype=torch.long), :] = 1
        else:
            keep.view(-1)[torch.tensor(entry["indices"], dtype=torch.long)] = 1
        if tuple(w.shape) != (out_f, in_f):  # GPT-2's Conv1D stores [in, out]
            keep = keep.t().contiguous()
        w.requires_grad = True
        w.register_hook(lambda g, k=keep: g * k.to(g.device))
    return model
`,
    };
  }
  if (peftType === 'FULL') {
    return {
      imports: [],
      requirements: [],
      peft: false,
      code: `def method_config():
    return None


def prepare_model(model):
    """Full fine-tuning: every weight trains."""
    for p in model.parameters():
        p.requires_grad = True
    return model
`,
    };
  }
  throw new Error(`recipe: no Python form for method ${method} (peft_type ${peftType})`);
}
