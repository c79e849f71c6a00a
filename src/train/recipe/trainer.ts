// train.py: TRL's trainer for the run's algorithm with every setting of the run written out as literals —
// SFTTrainer, RewardTrainer, DPOTrainer, GRPOTrainer, PPOTrainer (the run's function reward wrapped as the
// reward model TRL's PPO scores with), and rejection sampling as TRL's docs describe it (sample n per prompt,
// keep the best, fine-tune with SFTTrainer), a loop over rounds. The settings map one to one onto
// src/train/sft-config.ts's SftRunConfig and src/train/rl/options.ts's options; trainerSettings returns them
// as plain data, so a test can read train.py back and compare.
import { ADAMW_DEFAULTS } from '../optimizer';
import { runnerConfig } from '../rl/factory';
import type { MethodPython } from './method';
import { call, kw, type PyValue, py } from './python';
import type { RewardPython } from './rewards';
import type { RecipeInput } from './types';

/** What the data folder holds for the trainer. */
export interface DataShape {
  /** The dataset shape the rows have (TRL's names). */
  shape: 'text' | 'prompt_completion' | 'messages' | 'preference' | 'prompt_only';
  hasEval: boolean;
}

/** The playground's warm-up (lrAt in src/train/sft.ts): a tenth of the run, at least one step. */
export const warmupSteps = (steps: number): number => Math.max(1, Math.floor(steps / 10));

/** The playground's schedules as transformers' lr_scheduler_type (both warm up linearly first). */
const SCHEDULERS = { constant: 'constant_with_warmup', linear: 'linear', cosine: 'cosine' } as const;

/** The playground's plain chat rendering (data/tokenize.ts plainChatTemplate) as a Jinja template, with the
 * assistant turns marked as generation so assistant-only loss finds them. */
export const PLAIN_CHAT_TEMPLATE =
  "{% for m in messages %}{% if m['role'] == 'assistant' %}Assistant: {% generation %}{{ m['content'] }}{% endgeneration %}\n" +
  "{% else %}{{ m['role'][0] | upper }}{{ m['role'][1:] }}: {{ m['content'] }}\n{% endif %}{% endfor %}" +
  '{% if add_generation_prompt %}Assistant:{% endif %}';

/** The trainer's config class and its keyword arguments for the run (the values train.py writes). */
export function trainerSettings(
  x: RecipeInput,
  data: DataShape,
): { cls: string; args: Record<string, PyValue> } {
  const r = x.run;
  const common: Record<string, PyValue> = {
    output_dir: 'OUT',
    seed: r.seed,
    data_seed: r.seed,
    optim: 'adamw_torch',
    adam_beta1: ADAMW_DEFAULTS.beta1,
    adam_beta2: ADAMW_DEFAULTS.beta2,
    adam_epsilon: ADAMW_DEFAULTS.eps,
    report_to: 'none',
    save_strategy: 'no',
    bf16: false,
  };
  if (x.algo === 'sft') {
    const evalArgs: Record<string, PyValue> = data.hasEval
      ? r.evalEvery > 0
        ? { eval_strategy: 'steps', eval_steps: r.evalEvery }
        : { eval_strategy: 'no' }
      : { eval_strategy: 'no' };
    return {
      cls: 'SFTConfig',
      args: {
        ...common,
        learning_rate: r.lr,
        lr_scheduler_type: SCHEDULERS[r.schedule],
        warmup_steps: warmupSteps(r.steps),
        max_steps: r.steps,
        per_device_train_batch_size: r.batch,
        per_device_eval_batch_size: r.batch,
        gradient_accumulation_steps: r.gradAccum,
        weight_decay: r.weightDecay,
        max_grad_norm: r.maxGradNorm,
        logging_steps: r.logEvery,
        ...evalArgs,
        // SFTTrainer truncates keeping the start, as the run does.
        max_length: r.seqLen,
        packing: !!r.pack,
        ...(r.pack ? { packing_strategy: 'bfd', padding_free: true, eval_packing: false } : {}),
        completion_only_loss: data.shape === 'prompt_completion',
        assistant_only_loss: data.shape === 'messages',
      },
    };
  }
  const s = x.rl;
  if (!s) throw new Error(`recipe: the ${x.algo} run has no RL settings`);
  const t = s.train;
  const rc = runnerConfig(s);
  const rlCommon: Record<string, PyValue> = {
    ...common,
    learning_rate: t.lr,
    // The RL runners keep the learning rate constant (no warm-up, no decay).
    lr_scheduler_type: 'constant',
    weight_decay: t.weightDecay,
    max_grad_norm: t.maxGradNorm,
    logging_steps: 1,
  };
  switch (rc.algo) {
    case 'reward':
      return {
        cls: 'RewardConfig',
        args: {
          ...rlCommon,
          max_steps: t.steps,
          per_device_train_batch_size: rc.config.batch,
          per_device_eval_batch_size: rc.config.batch,
          gradient_accumulation_steps: 1,
          max_length: t.seqLen,
          center_rewards_coefficient: null,
          eval_strategy: data.hasEval ? 'steps' : 'no',
          ...(data.hasEval ? { eval_steps: Math.max(1, Math.floor(t.steps / 5)) } : {}),
        },
      };
    case 'dpo':
      return {
        cls: 'DPOConfig',
        args: {
          ...rlCommon,
          max_steps: t.steps,
          // The run's k micro-batches are TRL's accumulation steps: same pairs per optimizer step.
          per_device_train_batch_size: rc.config.batch / rc.config.gradAccum,
          gradient_accumulation_steps: rc.config.gradAccum,
          beta: rc.config.beta,
          loss_type: 'sigmoid',
          max_length: t.seqLen,
          max_prompt_length: null,
          // The run keeps the prompt and cuts the answers at the end of seqLen.
          truncation_mode: 'keep_start',
          eval_strategy: 'no',
        },
      };
    case 'grpo':
      return {
        cls: 'GRPOConfig',
        args: {
          ...rlCommon,
          max_steps: t.steps,
          // TRL counts completions: each step takes `batch` prompts × num_generations completions.
          per_device_train_batch_size: (rc.config.batch * rc.config.generations) / rc.config.gradAccum,
          gradient_accumulation_steps: rc.config.gradAccum,
          num_generations: rc.config.generations,
          beta: rc.config.beta,
          num_iterations: rc.config.iterations,
          epsilon: rc.config.epsilon,
          loss_type: 'grpo',
          scale_rewards: true,
          temperature: rc.config.temperature,
          max_prompt_length: t.maxPromptLength,
          max_completion_length: rc.config.maxNewTokens,
        },
      };
    case 'ppo':
      return {
        cls: 'PPOConfig',
        args: {
          ...rlCommon,
          per_device_train_batch_size: rc.config.batch,
          gradient_accumulation_steps: 1,
          // One PPO step = one rollout batch: steps × batch episodes.
          total_episodes: t.steps * rc.config.batch,
          num_ppo_epochs: rc.config.epochs,
          num_mini_batches: rc.config.batch / rc.config.miniBatch,
          cliprange: rc.config.cliprange,
          cliprange_value: rc.config.clipRangeValue,
          vf_coef: rc.config.vfCoef,
          kl_coef: rc.config.klCoef,
          kl_estimator: rc.config.kl,
          gamma: rc.config.gamma,
          lam: rc.config.lam,
          whiten_rewards: false,
          temperature: rc.config.temperature,
          response_length: rc.config.maxNewTokens,
          missing_eos_penalty: null,
          // The run's rollouts end at the end-of-sequence token.
          stop_token: 'eos',
        },
      };
    case 'rs':
      return {
        cls: 'SFTConfig',
        args: {
          ...rlCommon,
          num_train_epochs: rc.config.sftEpochs,
          per_device_train_batch_size: rc.config.miniBatch / rc.config.gradAccum,
          gradient_accumulation_steps: rc.config.gradAccum,
          max_length: t.maxPromptLength + rc.config.maxNewTokens,
          completion_only_loss: true,
        },
      };
  }
}

/** Options train.py needs beyond the trainer's config (rejection sampling's loop, PPO's extras). */
export function loopSettings(x: RecipeInput): Record<string, PyValue> {
  const s = x.rl;
  if (!s) return {};
  const rc = runnerConfig(s);
  if (rc.algo === 'rs')
    return {
      ROUNDS: s.train.steps,
      PROMPTS_PER_ROUND: rc.config.batch,
      SAMPLES_PER_PROMPT: rc.config.n,
      KEEP: rc.config.keep,
      THRESHOLD: rc.config.threshold,
      TEMPERATURE: rc.config.temperature,
      MAX_NEW_TOKENS: rc.config.maxNewTokens,
      MAX_PROMPT_LENGTH: s.train.maxPromptLength,
    };
  if (rc.algo === 'ppo')
    return {
      TARGET_KL: rc.config.targetKl,
      SCORE_CLIP: rc.config.scoreClip,
      MAX_PROMPT_LENGTH: s.train.maxPromptLength,
    };
  return {};
}

const HEADER = (
  x: RecipeInput,
) => `"""${x.algo.toUpperCase()} with ${x.run.method} on ${x.model.name}, exported by the PEFT playground.

Every setting below is the browser run's (recipe.json holds the run as the playground keeps it). Launch with
accelerate/launch.sh (one GPU, DDP, FSDP or DeepSpeed ZeRO 2/3; several nodes through NNODES/NODE_RANK).
Set RECIPE_MODEL to train another model than the one the run used, RECIPE_OUT for the output folder.
"""`;

function loadModelPy(x: RecipeInput): string {
  const auto = x.algo === 'reward' ? 'AutoModelForSequenceClassification' : 'AutoModelForCausalLM';
  const extra = x.algo === 'reward' ? ', num_labels=1' : '';
  return `def load_tokenizer():
    tok = AutoTokenizer.from_pretrained(MODEL)
    if tok.chat_template is None or not MODEL_HAS_CHAT_TEMPLATE:
        # The run rendered chats with the playground's plain template (the model has none).
        tok.chat_template = PLAIN_CHAT_TEMPLATE
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(tok):
    model = ${auto}.from_pretrained(MODEL, torch_dtype=torch.float32${extra})
    model.config.pad_token_id = tok.pad_token_id
    return prepare_model(model)


def load_data():
    files = {"train": os.path.join(HERE, "data", "train.jsonl")}
    if HAS_EVAL:
        files["eval"] = os.path.join(HERE, "data", "eval.jsonl")
    return load_dataset("json", data_files=files)


def save(trainer_or_model, tok):
    model = getattr(trainer_or_model, "model", trainer_or_model)
    if METHOD_IS_PEFT or not hasattr(model, "save_adapter"):
        model.save_pretrained(OUT)
    else:
        model.save_adapter(OUT, ADAPTER_NAME)
    tok.save_pretrained(OUT)
`;
}

/** SFT and reward modelling: the trainer on the split with the method's PEFT config, then save. */
function plainMain(trainer: 'SFTTrainer' | 'RewardTrainer', evalLine: string): string {
  return `def main():
    set_seed(SEED)
    tok = load_tokenizer()
    data = load_data()
    trainer = ${trainer}(
        model=load_model(tok),
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["eval"] if HAS_EVAL else None,
        processing_class=tok,
        peft_config=method_config(),
    )
    trainer.train()
${evalLine}
    save(trainer, tok)
`;
}

function mainPy(x: RecipeInput): string {
  const evalLine = `    if HAS_EVAL:
        print(trainer.evaluate())`;
  switch (x.algo) {
    case 'sft':
      return plainMain('SFTTrainer', evalLine);
    case 'reward':
      return plainMain('RewardTrainer', evalLine);
    case 'dpo':
      return `def main():
    set_seed(SEED)
    tok = load_tokenizer()
    data = load_data()
    # The reference is the base model: with a PEFT config, TRL disables the adapter for it (as the run does).
    trainer = DPOTrainer(
        model=load_model(tok),
        ref_model=None,
        args=args,
        train_dataset=data["train"],
        processing_class=tok,
        peft_config=method_config(),
    )
    trainer.train()
    save(trainer, tok)
`;
    case 'grpo':
      return `def main():
    set_seed(SEED)
    tok = load_tokenizer()
    data = load_data()
    reward_funcs = [rewards.REWARD_MODEL] if rewards.reward is None else [rewards.reward]
    trainer = GRPOTrainer(
        model=load_model(tok),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=data["train"],
        processing_class=tok,
        peft_config=method_config(),
    )
    trainer.train()
    save(trainer, tok)
`;
    case 'ppo':
      return `class FunctionRewardModel(torch.nn.Module):
    """The run's reward function in the shape TRL's PPO scores with (a backbone whose last hidden state the
    score head reads at the sequence's last token): every position carries the sequence's reward."""

    base_model_prefix = "backbone"

    def __init__(self, tok, prompts, references):
        super().__init__()
        self.tok = tok
        # Prompt texts as decoding gives them back, longest first, to split a sequence into prompt + completion.
        self.prompts = sorted(
            ((tok.decode(encode_prompt(tok, p), skip_special_tokens=True), r) for p, r in zip(prompts, references)),
            key=lambda pr: -len(pr[0]),
        )
        self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def backbone(self, input_ids=None, attention_mask=None, **kwargs):
        # TRL hands the sequences with padding replaced by id 0: decode the attended tokens only.
        rows = [ids[mask.bool()] for ids, mask in zip(input_ids, attention_mask)]
        texts = self.tok.batch_decode(rows, skip_special_tokens=True)
        prompts, completions, refs = [], [], []
        for t in texts:
            p, r = next(((p, r) for p, r in self.prompts if t.startswith(p)), ("", None))
            prompts.append(p)
            completions.append(t[len(p):])
            refs.append(r)
        scores = torch.tensor(rewards.reward(prompts, completions, reference=refs), dtype=torch.float32)
        if SCORE_CLIP is not None:
            scores = scores.clamp(-SCORE_CLIP, SCORE_CLIP)
        hidden = scores.to(input_ids.device)[:, None, None].expand(-1, input_ids.shape[1], 1)
        return SimpleNamespace(hidden_states=(hidden,))

    def score(self, hidden):
        return hidden


def encode_prompt(tok, prompt):
    if isinstance(prompt, list):
        return tok.apply_chat_template(prompt, add_generation_prompt=True)[-MAX_PROMPT_LENGTH:]
    ids = tok(prompt, add_special_tokens=True)["input_ids"]
    return ids[-MAX_PROMPT_LENGTH:]


def main():
    set_seed(SEED)
    if TARGET_KL is not None:
        print(f"note: the run adapted its KL coefficient toward {TARGET_KL}; TRL's PPO keeps kl_coef fixed")
    tok = load_tokenizer()
    data = load_data()
    train = data["train"]
    policy = load_model(tok)
    value_model = AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=1)
    if rewards.reward is None:
        reward_model = AutoModelForSequenceClassification.from_pretrained(rewards.REWARD_MODEL, num_labels=1)
    else:
        reward_model = FunctionRewardModel(tok, train["prompt"], train["reference"])
    prompts = train.map(lambda row: {"input_ids": encode_prompt(tok, row["prompt"])}, remove_columns=train.column_names)
    trainer = PPOTrainer(
        args=args,
        processing_class=tok,
        model=policy,
        ref_model=None,
        reward_model=reward_model,
        value_model=value_model,
        train_dataset=prompts,
        peft_config=method_config(),
    )
    trainer.train()
    save(trainer, tok)
`;
    case 'rs':
      return `def sample_round(model, tok, prompts, references, rng):
    """One round: PROMPTS_PER_ROUND prompts, SAMPLES_PER_PROMPT completions each, the best KEEP kept
    (at or above THRESHOLD when set)."""
    picks = rng.sample(range(len(prompts)), min(PROMPTS_PER_ROUND, len(prompts)))
    kept = []
    model.eval()
    for i in picks:
        prompt = prompts[i]
        if isinstance(prompt, list):
            ids = tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt")
        else:
            ids = tok(prompt, return_tensors="pt")["input_ids"]
        ids = ids[:, -MAX_PROMPT_LENGTH:].to(model.device)
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=TEMPERATURE > 0,
                temperature=TEMPERATURE if TEMPERATURE > 0 else None,
                max_new_tokens=MAX_NEW_TOKENS,
                num_return_sequences=SAMPLES_PER_PROMPT,
                pad_token_id=tok.pad_token_id,
            )
        completions = tok.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)
        scores = rewards.reward([prompt] * len(completions), completions, reference=[references[i]] * len(completions))
        ranked = sorted(zip(scores, completions), key=lambda sc: -sc[0])[:KEEP]
        for s, c in ranked:
            if THRESHOLD is None or s >= THRESHOLD:
                text = prompt if isinstance(prompt, str) else tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
                kept.append({"prompt": text, "completion": c})
    model.train()
    return kept


def main():
    """Rejection sampling (best-of-n then fine-tune on the best), TRL's recipe as a loop over rounds."""
    set_seed(SEED)
    tok = load_tokenizer()
    data = load_data()
    model = load_model(tok)
    config = method_config()
    if config is not None:
        model = get_peft_model(model, config)
    rng = random.Random(SEED)
    prompts, references = data["train"]["prompt"], data["train"]["reference"]
    for round_ in range(ROUNDS):
        kept = sample_round(model, tok, prompts, references, rng)
        if not kept:
            continue
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(kept), processing_class=tok)
        trainer.train()
        model = trainer.model
    save(model, tok)
`;
  }
}

const TRAINER_IMPORT: Record<RecipeInput['algo'], string> = {
  sft: 'from trl import SFTConfig, SFTTrainer',
  reward: 'from trl import RewardConfig, RewardTrainer',
  dpo: 'from trl import DPOConfig, DPOTrainer',
  grpo: 'from trl import GRPOConfig, GRPOTrainer',
  ppo: 'from trl import PPOConfig, PPOTrainer',
  rs: 'from trl import SFTConfig, SFTTrainer',
};

/** train.py's text. */
export function trainPy(
  x: RecipeInput,
  method: MethodPython,
  reward: RewardPython | null,
  data: DataShape,
): string {
  const { cls, args } = trainerSettings(x, data);
  const imports = [
    'import os',
    'import random',
    'from types import SimpleNamespace',
    '',
    'import torch',
    'from datasets import Dataset, load_dataset',
    'from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, set_seed',
    TRAINER_IMPORT[x.algo],
    ...(x.algo === 'rs' ? ['from peft import get_peft_model'] : []),
    ...method.imports,
    ...(reward ? ['', 'from rewards import rewards'] : []),
  ];
  const { output_dir: _out, ...literal } = args;
  const argsKw = { output_dir: 'OUT', ...kw(literal) };
  const loop = Object.entries(loopSettings(x))
    .map(([k, v]) => `${k} = ${py(v)}`)
    .join('\n');
  return `${HEADER(x)}
${imports.join('\n')}

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.environ.get("RECIPE_MODEL", ${py(x.model.name)})
OUT = os.environ.get("RECIPE_OUT", os.path.join(HERE, "out"))
SEED = ${x.run.seed}
HAS_EVAL = ${py(data.hasEval)}
MODEL_HAS_CHAT_TEMPLATE = ${py(x.model.hasChatTemplate)}
METHOD_IS_PEFT = ${py(method.peft)}
ADAPTER_NAME = "playground"
PLAIN_CHAT_TEMPLATE = ${py(PLAIN_CHAT_TEMPLATE)}
${loop}

# The run's method.
${method.code}

# The run's settings.
args = ${call(cls, argsKw)}


${loadModelPy(x)}

${mainPy(x)}

if __name__ == "__main__":
    main()
`;
}
