// Chart names tell runs apart, and the run key round-trips.
import { describe, expect, it } from 'vitest';
import { chartNames, parseRunKey, runKeyOf } from './run-names';

const run = (id: string, method: string, algo?: string) => ({
  spec: { id, ...(algo ? { rl: { algo } } : {}) },
  method,
});

describe('chart names', () => {
  it('put the RL algorithm in front and number repeats', () => {
    const runs = [
      run('a', 'lora'),
      run('b', 'lora', 'ppo'),
      run('c', 'lora'),
      run('d', 'ia3', 'grpo'),
      run('e', 'lora'),
    ];
    expect(chartNames(runs)).toEqual(['lora', 'ppo lora', 'lora (2)', 'grpo ia3', 'lora (3)']);
    expect(parseRunKey(runKeyOf({ runs }))).toEqual([
      { id: 'a', name: 'lora', index: 0, rl: false },
      { id: 'b', name: 'ppo lora', index: 1, rl: true },
      { id: 'c', name: 'lora (2)', index: 2, rl: false },
      { id: 'd', name: 'grpo ia3', index: 3, rl: true },
      { id: 'e', name: 'lora (3)', index: 4, rl: false },
    ]);
    expect(parseRunKey(runKeyOf({ runs: [] }))).toEqual([]);
  });
});
