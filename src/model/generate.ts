// Generation with a KV cache: several prompts in one batch (left-padded so they end together), one prefill
// forward over all of them, then one forward per new token that feeds each sequence's last token and reads back
// only the last logits row per sequence. Sampling (sampling.ts) runs on the CPU: greedy, temperature, top-k,
// top-p and repetition penalty with HF semantics, each row from its own seeded stream. Each row stops on EOS or
// a stop string (finished rows ride along on padding until the batch is done); text is streamed per token as
// deltas that never split a multi-byte character or show a possible start of a stop string. Fine-tuning methods
// apply through the same ModelHooks as in training. The cache lives in the arena's 'kvcache' category for the
// call and is freed before it returns. The fast decode path (the default) runs the steps' matmuls through the
// device's GEMV (DecodeAccel) and picks tokens from the top candidates (nextTokenFast: the same token).

import type { ModelConfig } from '../formats/model-config';
import type { GemvMultiArgs } from '../gpu/kernels/gemv-multi';
import type { Backend } from '../tensor/backend';
import type { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { rng } from '../util/rng';
import { KvCache } from './kvcache';
import { checkSamplingParams, nextToken, nextTokenFast, type SamplingParams } from './sampling';
import { forward, type ModelHooks } from './transformer';

export interface TokenEvent {
  /** Which prompt of the batch. */
  row: number;
  /** 0 for the first new token. */
  step: number;
  token: number;
  /** New text since the last event of this row; may be empty (held back: a partial character or stop string). */
  text: string;
}

/**
 * 'fast' (default): the decode step's few-row matmuls run as GEMV (the GPU's matmul() routes them) and each token is
 * picked from the top candidates (nextTokenFast: nextToken's token and draw, without sorting all V); the forward
 * runs transformer.ts's lean step (keys/values projected into the cache, q/k RoPE in one dispatch, residuals
 * accumulated in the output projections). 'reference': the general matmuls, the training path's kernels and
 * nextToken over all V, as before; kept so the bench and the tests can
 * compare the two.
 */
export type DecodePath = 'reference' | 'fast';

/**
 * Device kernels the fast decode path uses where the backend has them (the GPU: gpuDecodeAccel in
 * gpu/decode-accel.ts). Few-row matmuls need no hook: the GPU's matmul() hands them to GEMV itself.
 */
export interface DecodeAccel<S> {
  /** Several single-row projections of one input in one dispatch (gemv-multi.ts); true when it took the call. */
  linears?(p: GemvMultiArgs<S>): boolean;
}

export interface GenerateOptions<S, I> extends SamplingParams {
  maxNewTokens: number;
  /** Seed of the sampling streams; row b draws from its own stream derived from (seed, b). Default 0. */
  seed?: number;
  /** A row ends when its text contains one of these; the returned text stops before it. Needs `decode`. */
  stop?: readonly string[];
  /** A row ends when it emits one of these ids (kept as its last token, not shown in its text). */
  eosIds?: readonly number[];
  /** The id fed as left padding and to finished rows (never attended). Default: the first EOS id, else 0. */
  padId?: number;
  /** A fine-tuning method's hooks: adapters, prefixes and virtual tokens apply during generation. */
  hooks?: ModelHooks<S, I>;
  /** Token ids → text (skipping special tokens); without it there is no text, streaming or stop strings. */
  decode?: (ids: readonly number[]) => string;
  /** Called once per new token of each live row, in row order within a step. */
  onToken?: (e: TokenEvent) => void;
  /** Called with each step's raw logits [B·V] (before any processing), e.g. to compare with a recompute. */
  onLogits?: (step: number, logits: Float64Array) => void;
  /** Added to every position (methods whose real tokens start after n positions). Default 0. */
  positionOffset?: number;
  /** Which decode path runs (see DecodePath); default 'fast'. */
  decodePath?: DecodePath;
  /** The device's decode kernels for the fast path. */
  accel?: DecodeAccel<S>;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GeneratedRow {
  /** New token ids (an EOS that ended the row included). */
  tokens: number[];
  /** Decoded new text, cut before a stop string ('' without `decode`). */
  text: string;
  finish: FinishReason;
}

export interface GenerateResult {
  rows: GeneratedRow[];
  /** Forward calls made (1 prefill + decode steps). */
  forwards: number;
  /** Rows per item of the KV cache, and its K+V bytes while it lived. */
  cacheCapacity: number;
  cacheBytes: number;
  prefillMs: number;
  decodeMs: number;
}

/**
 * Turns one row's growing token list into text deltas: holds back a trailing U+FFFD (bytes of a character not
 * yet complete) and any tail that could be the start of a stop string, and finds stop strings.
 */
export class TextStream {
  private tokens: number[] = [];
  private emitted = 0;
  private full = '';
  /** Set when a stop string appeared: the text up to it. */
  stopped: string | null = null;

  constructor(
    private readonly decode: (ids: readonly number[]) => string,
    private readonly stops: readonly string[] = [],
  ) {
    for (const s of stops) if (s.length === 0) throw new Error('stop strings must not be empty');
  }

  /** Adds a token; returns the text that is now safe to show. */
  push(token: number): string {
    this.tokens.push(token);
    this.full = this.decode(this.tokens);
    let cut = -1;
    for (const s of this.stops) {
      // A stop string can only newly appear in the text after what was already shown.
      const at = this.full.indexOf(s, Math.max(0, this.emitted - s.length + 1));
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = this.full.slice(0, cut);
      return this.take(cut);
    }
    let end = this.full.length;
    while (end > this.emitted && this.full.charCodeAt(end - 1) === 0xfffd) end--;
    end -= this.stopPrefixAt(end);
    return this.take(end);
  }

  /** Everything not yet shown (at the end of a row, partial characters and stop prefixes included). */
  flush(): string {
    return this.take(this.stopped !== null ? this.stopped.length : this.full.length);
  }

  get text(): string {
    return this.stopped ?? this.full;
  }

  /** Length of the longest tail of full[0, end) that is a proper prefix of a stop string. */
  private stopPrefixAt(end: number): number {
    let hold = 0;
    for (const s of this.stops)
      for (let n = Math.min(s.length - 1, end - this.emitted); n > hold; n--)
        if (this.full.startsWith(s.slice(0, n), end - n)) {
          hold = n;
          break;
        }
    return hold;
  }

  private take(end: number): string {
    if (end <= this.emitted) return '';
    const out = this.full.slice(this.emitted, end);
    this.emitted = end;
    return out;
  }
}

/** The backend with `first` tried before its own matmul (an object delegating everything else to `be`). */
/** Row b's sampling stream: mulberry32 seeded from (seed, b), so a row's draws don't depend on the others. */
const rowStream = (seed: number, b: number) => rng((seed ^ Math.imul(b + 1, 0x9e3779b1)) >>> 0);

export async function generate<S, I>(
  be: Backend<S, I>,
  config: ModelConfig,
  ps: ParamSet<S, I>,
  prompts: readonly (readonly number[])[],
  opts: GenerateOptions<S, I>,
): Promise<GenerateResult> {
  const B = prompts.length;
  const V = config.vocabSize;
  const { maxNewTokens } = opts;
  if (B === 0) throw new Error('generate: no prompts');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)
    throw new Error(`generate: max new tokens ${maxNewTokens} must be a positive integer`);
  checkSamplingParams(opts);
  const stops = opts.stop ?? [];
  if (stops.length && !opts.decode) throw new Error('generate: stop strings need a decode function');
  for (const [b, p] of prompts.entries()) {
    if (p.length === 0) throw new Error(`generate: prompt ${b} is empty`);
    for (const [i, id] of p.entries())
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new Error(`generate: prompt ${b}, token ${i}: id ${id} is outside the vocabulary of ${V}`);
  }
  const eos = new Set(opts.eosIds ?? []);
  const padId = opts.padId ?? opts.eosIds?.[0] ?? 0;
  if (!Number.isInteger(padId) || padId < 0 || padId >= V)
    throw new Error(`generate: pad id ${padId} is outside the vocabulary of ${V}`);
  const hooks = opts.hooks ?? {};

  // Virtual tokens (prompt tuning) take cache rows too: ask the hook how many, on a throwaway tape.
  let nv = 0;
  if (hooks.virtualTokens) {
    const probe = new Tape(be, false);
    nv = hooks.virtualTokens(probe)?.shape[0] ?? 0;
    probe.dispose();
  }
  const lens = prompts.map((p) => p.length);
  const Lmax = Math.max(...lens);
  // Prefix tuning's hook says where real positions start unless the caller does.
  const offset = opts.positionOffset ?? hooks.positionOffset?.() ?? 0;
  // The last token is never fed back: the longest row's last fed position is Lmax + nv + maxNewTokens − 2.
  const capacity = Lmax + nv + maxNewTokens - 1;
  if (capacity + offset > config.maxPositions)
    throw new Error(
      `generate: ${Lmax} prompt tokens${nv ? ` + ${nv} virtual` : ''} + ${maxNewTokens} new tokens need ` +
        `${capacity + offset + 1} positions; the model has ${config.maxPositions}`,
    );

  const rows = prompts.map((p, b) => ({
    tokens: [] as number[],
    seen: new Set<number>(p),
    stream: opts.decode ? new TextStream(opts.decode, stops) : null,
    rand: rowStream(opts.seed ?? 0, b),
    finish: null as FinishReason | null,
  }));
  const emit = (b: number, step: number, token: number, text: string) =>
    opts.onToken?.({ row: b, step, token, text });

  const cache = new KvCache(be, config, {
    B,
    capacity,
    start: lens.map((n) => Lmax - n),
    positionOffset: offset,
  });
  let forwards = 0;
  const fast = (opts.decodePath ?? 'fast') === 'fast';
  const accel = fast ? opts.accel : undefined;
  // The same token either way (sampling.ts proves when the top candidates decide it); fast skips sorting V.
  const pick = fast ? nextTokenFast : nextToken;
  const linears = accel?.linears?.bind(accel);
  const step1 = async (ids: Int32Array, T: number): Promise<Float64Array> => {
    const tp = new Tape(be, false);
    try {
      // The reference path also keeps the training path's kernels (transformer.ts's `plain`).
      const input = { ids, B, T, cache, lastOnly: true, plain: !fast, linears };
      const { logits } = forward(tp, config, ps, input, hooks);
      forwards++;
      return await be.read(logits.store, B * V);
    } finally {
      tp.dispose();
    }
  };
  let prefillMs = 0;
  const t0 = performance.now();
  try {
    const ids = new Int32Array(B * Lmax).fill(padId);
    for (const [b, p] of prompts.entries()) ids.set(p, b * Lmax + Lmax - p.length);
    let logits = await step1(ids, Lmax);
    prefillMs = performance.now() - t0;
    for (let step = 0; step < maxNewTokens; step++) {
      opts.onLogits?.(step, logits);
      const feed = new Int32Array(B).fill(padId);
      for (const [b, r] of rows.entries()) {
        if (r.finish) continue;
        const tok = pick(logits.subarray(b * V, (b + 1) * V), r.seen, opts, r.rand);
        r.tokens.push(tok);
        r.seen.add(tok);
        feed[b] = tok;
        if (eos.has(tok)) {
          r.finish = 'eos';
          emit(b, step, tok, r.stream?.flush() ?? '');
          continue;
        }
        let text = r.stream?.push(tok) ?? '';
        if (r.stream?.stopped != null) r.finish = 'stop';
        else if (step === maxNewTokens - 1) {
          r.finish = 'length';
          text += r.stream?.flush() ?? '';
        }
        emit(b, step, tok, text);
      }
      if (rows.every((r) => r.finish)) break;
      logits = await step1(feed, 1);
    }
  } finally {
    cache.dispose();
  }
  return {
    rows: rows.map((r) => ({ tokens: r.tokens, text: r.stream?.text ?? '', finish: r.finish ?? 'length' })),
    forwards,
    cacheCapacity: capacity,
    cacheBytes: cache.bytes,
    prefillMs,
    decodeMs: performance.now() - t0 - prefillMs,
  };
}
