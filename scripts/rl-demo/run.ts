// Runs the RL demo (src/train/rl/demo.ts) on the built-in model in Node (Dawn; SwiftShader without a GPU)
// and records its curves: scripts/rl-demo/<algo>-seed<S>.json (options, per-step curve, summary) and a
// Markdown table on stdout's last lines, which docs/rl-demo.md quotes.
//   node --import tsx scripts/rl-demo/run.ts ppo|rs [--seed S] [--steps N] [--lr X] [--out FILE]
//     [--reward SPEC] [--set FIELD=VALUE ...]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openModelDir } from '../../src/cli/model-dir';
import { tokenizePrompt } from '../../src/data/tokenize';
import type { Example } from '../../src/data/types';
import { acquireNodeGpu } from '../../src/gpu/node';
import { loadCheckpointSpecs } from '../../src/model/load';
import { gpuBackend } from '../../src/tensor/gpu-backend';
import { builtinReward, parseRewardSpec } from '../../src/train/rewards/builtin';
import { type DemoResult, demoDefaults, runRlDemo } from '../../src/train/rl/demo';
import { dataTokenizer } from '../../src/train/tokenizer-adapter';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    steps: { type: 'string' },
    lr: { type: 'string' },
    out: { type: 'string' },
    model: { type: 'string' },
    set: { type: 'string', multiple: true },
    reward: { type: 'string' },
  },
});
const algo = positionals[0];
if (algo !== 'ppo' && algo !== 'rs') throw new Error(`usage: run.ts ppo|rs [--seed S] (got "${algo}")`);

const md = await openModelDir(values.model ?? 'public/models/tiny-llama-brown');
const ctx = await acquireNodeGpu({ tune: true });
const be = gpuBackend(ctx);
const tok = dataTokenizer(md.tokenizer, md.config);
const o = demoDefaults(algo);
if (values.seed) o.seed = Number(values.seed);
if (values.steps) o.steps = Number(values.steps);
if (values.lr) o.lr = Number(values.lr);
// --reward SPEC (the CLI's syntax: sentiment, keywords:a,b, regex:P, length:N); 'regex:(?!)' scores every
// completion 0, the control that makes selection random (RS keeps the first of tied samples).
if (values.reward) o.reward = builtinReward(parseRewardSpec(values.reward));
// --set key=value overrides a runner field (PpoConfig / RsConfig), e.g. --set targetKl=2.
const over: Record<string, number | string | null> = {};
for (const kv of values.set ?? []) {
  const [k, v] = kv.split('=');
  over[k] = v === 'null' ? null : Number.isFinite(Number(v)) ? Number(v) : v;
}
if (algo === 'ppo') o.ppo = over;
else o.rs = over;
const outPath = values.out ?? `scripts/rl-demo/${algo}-seed${o.seed}.json`;
const partial: object[] = [];
const t0 = performance.now();
const elapsed = () => Number(((performance.now() - t0) / 1000).toFixed(1));
const res: DemoResult = await runRlDemo(
  be,
  {
    config: md.config,
    baseSpecs: await loadCheckpointSpecs(md.config, md.reader),
    encodePrompt: (text) =>
      tokenizePrompt(tok, { kind: 'prompt_only', prompt: text, source: { file: 'demo', row: 0 } } as Example)
        .promptIds,
    decode: (ids) => md.tokenizer.decode(ids, { skipSpecialTokens: true }),
    eosIds: md.tokenizer.eosId !== null ? [md.tokenizer.eosId] : [],
    padId: md.tokenizer.padId ?? md.tokenizer.eosId ?? 0,
  },
  {
    ...o,
    onStep: (m) => {
      partial.push({
        step: m.step,
        reward_mean: m.reward_mean,
        kl: m.kl,
        entropy: m.entropy,
        kl_coef: m.kl_coef,
        kept_reward_mean: m.kept_reward_mean,
        sample: m.samples?.[0],
        // Seconds since the start: a run cut short still says how long its steps took.
        seconds: elapsed(),
      });
      // A run cut short still leaves its curve so far.
      writeFileSync(`${outPath}.partial`, `${JSON.stringify(partial)}\n`);
      process.stderr.write(
        `${algo} step ${m.step} (${elapsed()} s): reward ${m.reward_mean?.toFixed(3)} kl ${m.kl?.toFixed(3)} entropy ${m.entropy?.toFixed(3)}${m.kl_coef !== undefined ? ` kl_coef ${m.kl_coef.toFixed(3)}` : ''} | ${m.samples?.[0]?.prompt}${m.samples?.[0]?.completion}\n`,
      );
    },
  },
);
ctx.destroy();
const r3 = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(4)));
const { algo: _a, ...rest } = res;
const slim = {
  algo: res.algo,
  reward: values.reward ?? 'sentiment',
  ...rest,
  curve: res.curve.map((p) => ({
    ...Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? r3(v) : v])),
  })),
  summary: Object.fromEntries(Object.entries(res.summary).map(([k, v]) => [k, r3(v)])),
};
writeFileSync(outPath, `${JSON.stringify(slim, null, 1)}\n`);
const head =
  algo === 'ppo'
    ? '| step | reward | KL | entropy | kl_coef |'
    : '| round | reward | kept reward | KL | entropy |';
const rows = res.curve.map((p) =>
  algo === 'ppo'
    ? `| ${p.step} | ${p.reward_mean.toFixed(3)} | ${p.kl.toFixed(3)} | ${p.entropy.toFixed(3)} | ${p.kl_coef?.toFixed(3)} |`
    : `| ${p.step} | ${p.reward_mean.toFixed(3)} | ${p.kept_reward_mean?.toFixed(3)} | ${p.kl.toFixed(3)} | ${p.entropy.toFixed(3)} |`,
);
process.stdout.write(`${JSON.stringify(slim.summary)}\n${head}\n|${'---|'.repeat(5)}\n${rows.join('\n')}\n`);
