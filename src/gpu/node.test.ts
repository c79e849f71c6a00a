// Node device discovery: PEFT_GPU_WITHOUT parsing, and a withheld feature really absent from the device
// (the suite's own devices rely on it: vitest.config.ts withholds subgroups).
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu, withheldFeatures } from './node';

describe('PEFT_GPU_WITHOUT', () => {
  it('parses a comma-separated list and refuses names it does not know, naming them', () => {
    expect(withheldFeatures('')).toEqual([]);
    expect(withheldFeatures(' subgroups , shader-f16 ')).toEqual(['subgroups', 'shader-f16']);
    expect(() => withheldFeatures('subgroups,sub-groups')).toThrow(
      /"sub-groups".*shader-f16, subgroups, timestamp-query/,
    );
  });

  it('a withheld feature is absent from the device and named in its notes; without it, present again', async () => {
    const without = await acquireNodeGpu({ quiet: true, withoutFeatures: ['subgroups'] });
    const all = await acquireNodeGpu({ quiet: true, withoutFeatures: [] });
    try {
      // SwiftShader (this suite's adapter) has subgroups; on an adapter without them there is nothing to withhold.
      expect(all.features.subgroups).toBe(true);
      expect(all.device.features.has('subgroups')).toBe(true);
      expect(without.features.subgroups).toBe(false);
      expect(without.device.features.has('subgroups')).toBe(false);
      expect(without.adapter.notes.join(' ')).toMatch(/not asked for: subgroups/);
      expect(all.adapter.notes.join(' ')).not.toMatch(/not asked for/);
    } finally {
      without.destroy();
      all.destroy();
    }
  });
});
