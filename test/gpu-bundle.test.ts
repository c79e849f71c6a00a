// The real-GPU bundle (scripts/gpu-bundle) built and run as a GPU machine would run it: packed into a
// temporary folder, unpacked elsewhere, run.sh --quick with a bare environment (no PATH to this checkout's
// Node or node_modules) on SwiftShader, and its cli.mjs info. Checks: under 64 MiB packed; matmul outputs within f32 accumulation
// error of the float64 reference (the bench's own check, its figure bounded here); the trainable counts
// of PEFT's default LoRA targets in closed form; and the built-in model's first-step loss equal to the
// same loss computed by the unbundled engine on the CPU float64 twin (so the bundled engine computes what
// the checkout does). bin/node is the registry's Node when dist-gpu/cache holds it (after one
// `npm run gpu-bundle`), otherwise the Node running this test: the test never downloads.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, cachedNodeTarball, MAX_PACKED_BYTES } from '../scripts/gpu-bundle/build';
import { benchIds } from '../scripts/gpu-bundle/measure';
import { gpt2ConfigJson } from '../scripts/gpu-bundle/models';
import { openModelDir } from '../src/cli/model-dir';
import { parseModelConfig } from '../src/formats/model-config';
import { loadCheckpointSpecs } from '../src/model/load';
import { causalLmLoss } from '../src/model/loss';
import { cpuBackend } from '../src/tensor/cpu-backend';
import { ParamSet } from '../src/tensor/params';
import { Tape } from '../src/tensor/tape';

const BUILTIN = join(
  fileURLToPath(new URL('.', import.meta.url)),
  '..',
  'public',
  'models',
  'tiny-llama-brown',
);
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface Line {
  bench: string;
  [k: string]: unknown;
}

let work: string;
let packedBytes: number | null = null;
let lines: Line[] = [];
let stderr = '';
let cliInfo: { adapter: { runtime: string }; features: unknown } | null = null;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gpu-bundle-test-'));
  const built = await buildBundle({
    out: join(work, 'out'),
    node: cachedNodeTarball() ? undefined : process.execPath,
  });
  packedBytes = built.packedBytes;
  const unpacked = join(work, 'unpacked');
  execFileSync('mkdir', ['-p', unpacked]);
  execFileSync('tar', ['xzf', built.tarball!, '-C', unpacked]);
  const r = spawnSync(join(unpacked, 'peft-gpu-bench', 'run.sh'), ['--quick'], {
    cwd: work,
    encoding: 'utf8',
    env: {
      PATH: '/usr/bin:/bin',
      HOME: work,
      VK_ICD_FILENAMES: SWIFTSHADER,
      GPU_BUNDLE_TORCH: '0',
    },
    timeout: 400_000,
  });
  stderr = r.stderr;
  if (r.status !== 0) throw new Error(`run.sh exited ${r.status}: ${r.stderr.slice(-2000)}`);
  lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
  const dir = join(unpacked, 'peft-gpu-bench');
  const info = spawnSync(join(dir, 'bin', 'node'), [join(dir, 'cli.mjs'), 'info'], {
    cwd: work,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: work, VK_ICD_FILENAMES: SWIFTSHADER },
    timeout: 120_000,
  });
  if (info.status !== 0) throw new Error(`cli.mjs info exited ${info.status}: ${info.stderr.slice(-2000)}`);
  cliInfo = JSON.parse(info.stdout.trim().split('\n').pop()!);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The built-in model's loss on the bench's first batch, on the CPU float64 twin (LoRA's B is zero at step 1). */
async function referenceFirstLoss(B: number, T: number): Promise<number> {
  const md = await openModelDir(BUILTIN);
  const be = cpuBackend();
  const ps = new ParamSet(be, await loadCheckpointSpecs(md.config, md.reader));
  const ids = Int32Array.from(benchIds(md.config.vocabSize, B, T).flat());
  const tp = new Tape(be, false);
  const { loss } = causalLmLoss(tp, md.config, ps, { ids, labels: ids, B, T });
  const v = (await be.read(loss.store, 1))[0];
  tp.dispose();
  ps.dispose();
  return v;
}

describe('gpu bundle', () => {
  it('packs under the 64 MiB a carry may hold', () => {
    expect(packedBytes).not.toBeNull();
    expect(packedBytes!).toBeLessThanOrEqual(MAX_PACKED_BYTES);
  });

  it('prints the adapter first and the whole bench last', () => {
    expect(lines[0].bench).toBe('adapter');
    expect(lines[0].runtime).toBe('dawn');
    expect(lines[lines.length - 1].bench).toBe('gpu-bundle');
    expect(stderr).toContain('no PyTorch reference');
  });

  it('ships the CLI as one file too, seeing the same device as the bench', () => {
    expect(cliInfo?.adapter.runtime).toBe('dawn');
    expect(cliInfo?.features).toEqual(lines[0].features);
  });

  it('matmul outputs match the float64 reference within f32 accumulation error', () => {
    const last = lines[lines.length - 1];
    const mm = last.matmul as { size: number; checked: number; max_rel_err: number; gflops: number }[];
    expect(mm.map((m) => m.size)).toEqual([64, 96]);
    for (const m of mm) {
      expect(m.checked).toBe(m.size * m.size);
      // f32 products summed in f32 over K ≤ 96 terms: a few ulps of Σ|a·b| (measured ~7e-8).
      expect(m.max_rel_err).toBeLessThan(1e-6);
      expect(m.gflops).toBeGreaterThan(0);
    }
    expect(last.matmul_ok).toBe(true);
  });

  it('trains LoRA on the built-in model and on the GPT-2-shaped one, with the reference first loss', async () => {
    const last = lines[lines.length - 1];
    const train = last.train as {
      model: string;
      batch: number;
      seq: number;
      trainable_params: number;
      tokens_per_s: number;
      first_loss: number;
    }[];
    expect(train.map((t) => t.model)).toEqual(['builtin', 'gpt2-quick']);
    // PEFT's default targets: q_proj, v_proj on Llama (hidden 256, 2 KV heads of 64); c_attn on GPT-2.
    const md = await openModelDir(BUILTIN);
    const c = md.config;
    const r = 8;
    const kv = c.numKvHeads * c.headDim;
    const q = c.numHeads * c.headDim;
    expect(train[0].trainable_params).toBe(c.numLayers * r * (c.hiddenSize + q + c.hiddenSize + kv));
    const g = parseModelConfig(gpt2ConfigJson(true));
    expect(train[1].trainable_params).toBe(g.numLayers * r * (g.hiddenSize + 3 * g.hiddenSize));
    for (const t of train) expect(t.tokens_per_s).toBeGreaterThan(0);
    const ref = await referenceFirstLoss(train[0].batch, train[0].seq);
    // f32 on the GPU against float64: measured 2e-6 apart on SwiftShader.
    expect(Math.abs(train[0].first_loss - ref)).toBeLessThan(1e-4);
  });

  it('decodes on both models', () => {
    const decode = (lines[lines.length - 1].decode ?? []) as { model: string; ms_per_token: number }[];
    expect(decode.map((d) => d.model)).toEqual(['builtin', 'gpt2-quick']);
    for (const d of decode) expect(d.ms_per_token).toBeGreaterThan(0);
  });
});
