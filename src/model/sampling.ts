// Choosing the next token from one row of logits, on the CPU (generation reads back one row per sequence), with
// Hugging Face's semantics and order: repetition penalty, then temperature, top-k and top-p (the order in which
// transformers' generate applies its logits processors and warpers), then greedy argmax or a seeded draw. Every
// function works in float64 on a copy or in place as documented; nothing here touches the GPU.

export interface SamplingParams {
  /** ≤ 0 or absent: greedy (argmax). Otherwise scores are divided by it and a token is drawn. */
  temperature?: number;
  /** Keep the k highest scores (ties with the k-th kept, as HF); 0 or absent: off. */
  topK?: number;
  /** Keep the smallest top set whose probability reaches p (HF's ascending-cumsum rule); 1 or absent: off. */
  topP?: number;
  /** HF's CTRL-style penalty over tokens already seen: score/θ if positive, score·θ if negative; 1: off. */
  repetitionPenalty?: number;
}

/** Checks sampling parameters, naming the bad one. */
export function checkSamplingParams(p: SamplingParams): void {
  const t = p.temperature ?? 0;
  if (!Number.isFinite(t) || t < 0) throw new Error(`temperature ${p.temperature} must be ≥ 0`);
  if (p.topK !== undefined && (!Number.isInteger(p.topK) || p.topK < 0))
    throw new Error(`top-k ${p.topK} must be a non-negative integer`);
  if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1))
    throw new Error(`top-p ${p.topP} must be in (0, 1]`);
  if (p.repetitionPenalty !== undefined && !(p.repetitionPenalty > 0))
    throw new Error(`repetition penalty ${p.repetitionPenalty} must be > 0`);
}

/** In place: HF RepetitionPenaltyLogitsProcessor over every token id in `seen` (each once). */
export function applyRepetitionPenalty(scores: Float64Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    if (id < 0 || id >= scores.length) continue;
    const s = scores[id];
    scores[id] = s < 0 ? s * penalty : s / penalty;
  }
}

/** In place: scores below the k-th largest become −∞ (HF TopKLogitsWarper; ties with the k-th survive). */
export function applyTopK(scores: Float64Array, k: number): void {
  if (k <= 0 || k >= scores.length) return;
  const kth = Float64Array.from(scores)
    .sort()
    .at(scores.length - k)!;
  for (let i = 0; i < scores.length; i++) if (scores[i] < kth) scores[i] = Number.NEGATIVE_INFINITY;
}

/**
 * In place: HF TopPLogitsWarper. Sort ascending, take the softmax's running sum, and remove every token whose
 * running sum is ≤ 1 − p, always keeping the largest. Ties sort by index (torch's sort order is unspecified).
 */
export function applyTopP(scores: Float64Array, p: number): void {
  if (p >= 1) return;
  const order = Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b] || a - b);
  const probs = softmax(scores);
  let cum = 0;
  for (let r = 0; r < order.length - 1; r++) {
    cum += probs[order[r]];
    if (cum <= 1 - p) scores[order[r]] = Number.NEGATIVE_INFINITY;
  }
}

/** softmax of scores (−∞ entries get 0). */
export function softmax(scores: ArrayLike<number>): Float64Array {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i++) if (scores[i] > m) m = scores[i];
  const out = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    out[i] = Math.exp(scores[i] - m);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Index of the largest score; the first one on ties (as torch.argmax). */
export function argmax(scores: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}

/** The processed scores HF would sample from (or take the argmax of): penalty, temperature, top-k, top-p. */
export function processScores(
  logits: ArrayLike<number>,
  seen: Iterable<number>,
  p: SamplingParams,
): Float64Array {
  const s = Float64Array.from(logits);
  applyRepetitionPenalty(s, seen, p.repetitionPenalty ?? 1);
  const t = p.temperature ?? 0;
  if (t > 0) {
    if (t !== 1) for (let i = 0; i < s.length; i++) s[i] /= t;
    applyTopK(s, p.topK ?? 0);
    applyTopP(s, p.topP ?? 1);
  }
  return s;
}

/** The distribution a sampling step draws from (tests compare it with hand-computed ones). */
export function samplingDistribution(
  logits: ArrayLike<number>,
  seen: Iterable<number>,
  p: SamplingParams,
): Float64Array {
  return softmax(processScores(logits, seen, p));
}

/** Inverse-CDF draw from probabilities with u in [0, 1); never returns a zero-probability token. */
export function drawFrom(probs: ArrayLike<number>, u: number): number {
  let cum = 0;
  let lastPositive = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    lastPositive = i;
    if (u < cum) return i;
  }
  // Rounding left the running sum just under u: the last token with any probability.
  return lastPositive;
}

/** The next token: greedy when temperature ≤ 0, else a draw with `rand()` from the processed distribution. */
export function nextToken(
  logits: ArrayLike<number>,
  seen: Iterable<number>,
  p: SamplingParams,
  rand: () => number,
): number {
  const s = processScores(logits, seen, p);
  if ((p.temperature ?? 0) <= 0) return argmax(s);
  return drawFrom(softmax(s), rand());
}
