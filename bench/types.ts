// Types shared by the benchmark's Node driver (run.ts) and its page (page.ts): the options the driver
// sends in, the results the page sends back. Plain data only, since both cross page.evaluate.

export interface TimingOptions {
  /** Untimed runs first: pipeline compilation, uploads, allocator warm-up. */
  warmup: number;
  /** At least this many timed runs… */
  minRuns: number;
  /** …and at most this many; */
  maxRuns: number;
  /** …stopping early once minRuns are done and this much time has gone into timed runs. */
  budgetMs: number;
}

export interface BlockConfig {
  B: number;
  T: number;
  d: number;
  heads: number;
}

export interface BenchOptions {
  /** Which case families to run: matmul, block, lora_mlp, attention. */
  cases: string[];
  /** Square matmul sizes; empty = the page's default for the adapter. */
  sizes: number[];
  /** Our matmul variants to time beside the autotuned choice. */
  variants: string[];
  blocks: BlockConfig[];
  timing: TimingOptions;
}

/** One case's outcome: the name is the key in the final ratio JSON (e.g. "matmul_512"). */
export interface CaseResult {
  name: string;
  /** Our best configuration as shipped (for matmul: the autotuned variant); null when ours is not written yet. */
  ours_gflops: number | null;
  tfjs_gflops: number;
  /** jax-js (jit) on the same work; null when its WebGPU backend did not start. */
  jaxjs_gflops: number | null;
  /** Median milliseconds per run on each side, for the training-step cases that the issue states in ms. */
  ms?: { ours: number | null; tfjs: number; jaxjs: number | null };
  /** Further columns for the table (e.g. each matmul variant), GFLOP/s. */
  extra?: Record<string, number>;
  /** Free-form remarks printed under the table (e.g. which variant the autotune chose). */
  notes?: string[];
}

export interface BenchReport {
  adapter: string;
  software: boolean;
  tfjsAdapter: string;
  /** jax-js's version and whether its WebGPU backend ran. */
  jaxjs: string;
  results: CaseResult[];
}

export interface BenchApi {
  run(options: BenchOptions): Promise<BenchReport>;
}

declare global {
  interface Window {
    peftBench?: BenchApi;
  }
}
