// Choosing the next token from one row of logits, on the CPU (generation reads back one row per sequence), with
// Hugging Face's semantics and order: repetition penalty, then temperature, top-k and top-p (the order in which
// transformers' generate applies its logits processors and warpers), then greedy argmax or a seeded draw. Every
// function works in float64 on a copy or in place as documented; nothing here touches the GPU. nextTokenFast
// gives nextToken's token, bit for bit and with the same draw, from the few highest logits only where it can
// prove the rest cannot matter (greedy, or top-k sampling), so a decode step does not sort all V of them.

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

/** Candidates nextTokenFast keeps: enough above the top-k that penalised ones rarely force the full path. */
export const fastCandidates = (p: SamplingParams): number =>
  (p.temperature ?? 0) > 0 ? 2 * (p.topK ?? 0) + 16 : 8;

/**
 * The value of the r-th largest of `xs` (r ≥ 1), in one pass keeping the r largest sorted; NaN if any value is
 * NaN (the caller then takes the full path).
 */
function rthLargest(xs: ArrayLike<number>, r: number): number {
  const top = new Float64Array(r).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (Number.isNaN(v)) return Number.NaN;
    if (v <= top[r - 1]) continue;
    let j = r - 1;
    while (j > 0 && top[j - 1] < v) {
      top[j] = top[j - 1];
      j--;
    }
    top[j] = v;
  }
  return top[r - 1];
}

/**
 * nextToken's result, computed from the logits ≥ τ (the r-th largest, r = fastCandidates) when that provably
 * gives the same token with the same draw, else by nextToken itself. Why it is exact: with a penalty ≥ 1 every
 * other token's processed score is ≤ its logit (÷ the temperature) < τ (÷ it). Greedy: if the best candidate
 * scores ≥ τ, no other token reaches it. Top-k: if the k-th best candidate scores > τ/t, every other token is
 * below the cut and gets −∞, i.e. probability exactly 0; the candidates kept in id order then go through the
 * same float64 steps (top-p's ascending order, softmax sums and the draw only ever add those zeros), so every
 * number matches. Anything else (top-p or temperature alone, a penalty < 1, NaN) takes the full path.
 */
export function nextTokenFast(
  logits: ArrayLike<number>,
  seen: ReadonlySet<number>,
  p: SamplingParams,
  rand: () => number,
): number {
  const V = logits.length;
  const t = p.temperature ?? 0;
  const k = p.topK ?? 0;
  const sampled = t > 0;
  const r = fastCandidates(p);
  const shortcut = (p.repetitionPenalty ?? 1) >= 1 && (!sampled || k > 0) && r < V;
  const tau = shortcut ? rthLargest(logits, r) : Number.NaN;
  if (Number.isNaN(tau)) return nextToken(logits, seen, p, rand);
  const ids: number[] = [];
  for (let i = 0; i < V; i++) if (logits[i] >= tau) ids.push(i);
  const compact = ids.map((i) => logits[i]);
  const seenAt: number[] = [];
  for (const [j, id] of ids.entries()) if (seen.has(id)) seenAt.push(j);
  const s = processScores(compact, seenAt, p);
  if (!sampled) {
    const best = argmax(s);
    return s[best] >= tau ? ids[best] : nextToken(logits, seen, p, rand);
  }
  // The k-th best candidate as applyTopK finds it (after the penalty and the temperature, before the cut); the
  // bound on every other token is divided as processScores divides (not at all when t is 1).
  const pre = Float64Array.from(compact);
  applyRepetitionPenalty(pre, seenAt, p.repetitionPenalty ?? 1);
  if (t !== 1) for (let i = 0; i < pre.length; i++) pre[i] /= t;
  const bound = t !== 1 ? tau / t : tau;
  if (ids.length <= k || !(pre.sort().at(ids.length - k)! > bound)) return nextToken(logits, seen, p, rand);
  return ids[drawFrom(softmax(s), rand())];
}
