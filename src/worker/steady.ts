// Speed over steady-state steps, the definition SFT runs use (train/sft.ts) applied to RL runs too: the
// first logged step is the warm-up mark (its time includes compiling the run's pipelines, seconds on a
// software GPU), and tokens/s and ms/step count only what came after it; before a second step, the
// averages so far are all there is.

export interface SpeedMark {
  ms: number;
  tokens: number;
  step: number;
}

/** tokens/s and ms/step at (ms, tokens, step), steady-state from `warm` on. */
export function steadySpeed(warm: SpeedMark, now: SpeedMark): { tokensPerS: number; msPerStep: number } {
  const ms = now.ms - warm.ms;
  if (now.step > warm.step && ms > 0)
    return { tokensPerS: ((now.tokens - warm.tokens) * 1000) / ms, msPerStep: ms / (now.step - warm.step) };
  return {
    tokensPerS: (now.tokens * 1000) / Math.max(1, now.ms),
    msPerStep: now.step > 0 ? now.ms / now.step : 0,
  };
}
