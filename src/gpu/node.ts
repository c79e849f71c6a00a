// Node-only device discovery through Dawn (the `webgpu` package). On Linux with no Vulkan driver it
// retries with Chromium's SwiftShader ICD (Debian's `chromium` package ships it) and says so.
// Never imported by browser code.

import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autotune, fileCache } from './autotune';
import type { GpuContext } from './context';
import { acquireFromGpu, parseWithheldFeatures } from './device';
import { NoWebGpuError } from './errors';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

type DawnModule = { create(options: string[]): GPU; globals: object };

let dawn: DawnModule | null = null;
async function loadDawn(): Promise<DawnModule> {
  if (!dawn) {
    const mod = (await import('webgpu')) as unknown as DawnModule;
    Object.assign(globalThis, mod.globals);
    dawn = mod;
  }
  return dawn;
}

// Dawn instances are kept alive for the life of the process: letting one be collected while its
// threads run aborts the process (seen with Dawn 0.6.2 under vitest forks).
const instances: GPU[] = [];
function newInstance(mod: DawnModule): GPU {
  const gpu = mod.create([]);
  instances.push(gpu);
  return gpu;
}

/** True when the system has a Vulkan driver manifest of its own (a real GPU or Mesa). */
function hasSystemVulkanIcd(): boolean {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  return dirs.some((d) => {
    try {
      return readdirSync(d).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

/** Where Node keeps the autotune's choices between runs (one small JSON file per user). */
export const AUTOTUNE_CACHE_FILE = join(tmpdir(), 'peft-playground-autotune.json');

/**
 * Optional features named in PEFT_GPU_WITHOUT (comma-separated, e.g. `subgroups`), withheld from the device
 * so it runs as one without them would. The test suite sets `subgroups` (vitest.config.ts); unknown names are
 * an error rather than silently ignored.
 */
export function withheldFeatures(env: string | undefined = process.env.PEFT_GPU_WITHOUT): string[] {
  return parseWithheldFeatures(env, 'PEFT_GPU_WITHOUT');
}

/**
 * A Dawn device for Node (CLI, tests, benchmarks). `tune` runs the kernel-variant autotune, cached in
 * AUTOTUNE_CACHE_FILE, on a hardware adapter; a software one (SwiftShader) keeps the untuned defaults, the
 * measured best there, as the page does (device.ts). Tests leave it off and get the defaults.
 */
export async function acquireNodeGpu(
  options: { quiet?: boolean; tune?: boolean; withoutFeatures?: readonly string[] } = {},
): Promise<GpuContext> {
  const withoutFeatures = options.withoutFeatures ?? withheldFeatures();
  const mod = await loadDawn();
  const notes: string[] = [];
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  const swiftshader = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  const fallBack = () => {
    process.env.VK_ICD_FILENAMES = swiftshader;
    const note = `No GPU adapter found; falling back to SwiftShader (${swiftshader}).`;
    notes.push(note);
    if (!options.quiet) process.stderr.write(`${note}\n`);
  };
  const linuxNoIcd = process.platform === 'linux' && !process.env.VK_ICD_FILENAMES;
  // With no driver manifest at all, go straight to SwiftShader: a first failed instance is wasted work.
  if (linuxNoIcd && swiftshader && !hasSystemVulkanIcd()) fallBack();
  let adapter = await newInstance(mod).requestAdapter();
  if (!adapter && linuxNoIcd && swiftshader && !process.env.VK_ICD_FILENAMES) {
    fallBack();
    adapter = await newInstance(mod).requestAdapter();
  }
  if (!adapter) {
    throw new NoWebGpuError(
      'No WebGPU adapter in Node. On Linux install a Vulkan driver, or `apt-get install chromium libvulkan1` ' +
        'for the SwiftShader software fallback.',
    );
  }
  // Re-request through acquireFromGpu so limits and features are asked for the same way as in the browser.
  const ctx = await acquireFromGpu(newInstance(mod), { runtime: 'dawn', notes, withoutFeatures });
  if (options.tune && !ctx.adapter.software) await autotune(ctx, fileCache(AUTOTUNE_CACHE_FILE));
  return ctx;
}
