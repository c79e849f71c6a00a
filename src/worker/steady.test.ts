// Steady-state speed: the first logged step (compiling) is left out of tokens/s and ms/step.
import { describe, expect, it } from 'vitest';
import { steadySpeed } from './steady';

describe('steadySpeed', () => {
  it('leaves the warm-up step out, and falls back to the averages before a second step', () => {
    // Step 1 took 5 s (compiling) for 100 tokens; steps 2-4 took 200 ms each for 100 tokens each.
    const warm = { ms: 5000, tokens: 100, step: 1 };
    expect(steadySpeed(warm, { ms: 5600, tokens: 400, step: 4 })).toEqual({
      tokensPerS: 500,
      msPerStep: 200,
    });
    expect(steadySpeed(warm, warm)).toEqual({ tokensPerS: 20, msPerStep: 5000 });
  });
});
