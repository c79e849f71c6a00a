// Device acquisition from any `GPU` object (navigator.gpu in the browser, Dawn's in Node): asks for the
// limits the engine needs up to what the adapter offers, records features, and builds the GpuContext.
// Runtime-specific discovery (Node's SwiftShader fallback) lives in node.ts; this file imports no Node code.

import { type AutotuneCache, autotune, localStorageCache } from './autotune';
import { type GpuAdapterSummary, GpuContext, type GpuFeatures } from './context';
import { NoWebGpuError } from './errors';

/** Limits the engine asks for, capped by the adapter. Bigger buffers and groups than WebGPU's defaults. */
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface AcquireOptions {
  runtime: 'browser' | 'dawn';
  powerPreference?: GPUPowerPreference;
  /** Notes from discovery (e.g. "fell back to SwiftShader") to carry into the summary. */
  notes?: string[];
  /**
   * Optional features not to ask for even where the adapter has them, so the engine runs as it would on a
   * device without them (Node's PEFT_GPU_WITHOUT; e.g. 'subgroups': the portable kernels a browser without
   * subgroups gets, which also compile several times faster on SwiftShader).
   */
  withoutFeatures?: readonly string[];
}

/** The optional features the engine asks for where the adapter has them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/**
 * A comma-separated list of optional features to withhold (Node's PEFT_GPU_WITHOUT, the page's
 * `?gpu_without=`); `where` names the source in the error an unknown name gets.
 */
export function parseWithheldFeatures(text: string | null | undefined, where: string): string[] {
  const names = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known: readonly string[] = OPTIONAL_FEATURES;
  const bad = names.filter((n) => !known.includes(n));
  if (bad.length)
    throw new Error(
      `${where} names ${bad.map((b) => `"${b}"`).join(', ')}; it takes a comma-separated list of ` +
        `${OPTIONAL_FEATURES.join(', ')}.`,
    );
  return names;
}

const SOFTWARE_NAMES = /swiftshader|lavapipe|llvmpipe|software|microsoft basic render/i;

export async function acquireFromGpu(gpu: GPU | undefined, opts: AcquireOptions): Promise<GpuContext> {
  if (!gpu) {
    throw new NoWebGpuError(
      opts.runtime === 'browser'
        ? 'This browser has no WebGPU. Use a recent Chrome or Edge (113+); on Linux start Chrome with ' +
            '--enable-unsafe-webgpu (and --enable-features=Vulkan), or enable chrome://flags/#enable-unsafe-webgpu.'
        : 'The `webgpu` package did not load; run `npm ci` again.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new NoWebGpuError(
      opts.runtime === 'browser'
        ? 'WebGPU is present but no GPU adapter was found. Check chrome://gpu; on Linux try ' +
            '--enable-unsafe-webgpu --enable-features=Vulkan, or update the GPU driver.'
        : 'No WebGPU adapter was found.',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = adapter.limits[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  const withheld: string[] = [];
  for (const f of OPTIONAL_FEATURES) {
    if (!adapter.features.has(f)) continue;
    if (opts.withoutFeatures?.includes(f)) withheld.push(f);
    else requiredFeatures.push(f as GPUFeatureName);
  }
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'peft-playground' });
  const features: GpuFeatures = {
    shaderF16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    timestampQuery: device.features.has('timestamp-query'),
  };
  const info = adapter.info;
  const description =
    info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ');
  const notes = [...(opts.notes ?? [])];
  const software =
    SOFTWARE_NAMES.test(`${description} ${info.vendor} ${info.architecture} ${info.device}`) ||
    opts.notes?.some((n) => /swiftshader/i.test(n)) === true;
  if (software) notes.push('Running on a software GPU (SwiftShader): correct but slow; keep models tiny.');
  if (withheld.length) notes.push(`Features the adapter has but were not asked for: ${withheld.join(', ')}.`);
  if (!features.shaderF16)
    notes.push(
      'No shader-f16: kernels compute in f32 (16-bit weights stay packed, two to a word, widened as read).',
    );
  const summary: GpuAdapterSummary = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: description || 'unknown adapter',
    runtime: opts.runtime,
    software,
    notes,
  };
  return new GpuContext(device, summary, features);
}

/**
 * The browser's device (main thread or worker). With `tune`, kernel variants are chosen for this adapter
 * by a short timing run, cached (localStorage by default; a worker passes its IndexedDB cache) so later
 * visits skip it. 'hardware' tunes only a hardware adapter: on a software one (SwiftShader) the untuned
 * defaults are the measured best and the tune's compiles would cost seconds at every start.
 */
export async function acquireBrowserGpu(
  options: { tune?: boolean | 'hardware'; cache?: AutotuneCache; withoutFeatures?: readonly string[] } = {},
): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  const ctx = await acquireFromGpu(gpu, { runtime: 'browser', withoutFeatures: options.withoutFeatures });
  const tune = options.tune === 'hardware' ? !ctx.adapter.software : (options.tune ?? false);
  if (tune) await autotune(ctx, options.cache ?? localStorageCache());
  return ctx;
}
