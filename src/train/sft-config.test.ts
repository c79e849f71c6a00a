// sftRunConfig, the one builder of a run's configuration from the page's form or the CLI's flags: settings
// left out take SFT_DEFAULTS, a form's other fields (the eval fraction, a null learning rate already
// resolved) stay out of the config, and the loss is read about twenty times a run, at least every fifth step.
import { describe, expect, it } from 'vitest';
import { logEveryFor, SFT_DEFAULTS, sftRunConfig } from './sft-config';

describe('sftRunConfig', () => {
  it('fills what the settings leave out from SFT_DEFAULTS, logEvery from the step count', () => {
    expect(sftRunConfig({ method: 'lora', options: { r: 4 }, lr: 2e-3 })).toEqual({
      ...SFT_DEFAULTS,
      method: 'lora',
      options: { r: 4 },
      lr: 2e-3,
      logEvery: logEveryFor(SFT_DEFAULTS.steps),
    });
  });

  it('takes every setting given, and only the run settings from a wider form', () => {
    const form = {
      lr: 1e-3,
      schedule: 'linear' as const,
      batch: 2,
      seqLen: 32,
      steps: 400,
      gradAccum: 4,
      weightDecay: 0.1,
      maxGradNorm: 0,
      seed: 9,
      evalEvery: 0,
      evalFraction: 0.3,
      pack: true,
      checkpointing: true,
      baseDtype: 'nf4' as const,
    };
    const c = sftRunConfig({ ...form, method: 'ia3', options: {} });
    expect(c).toEqual({
      method: 'ia3',
      options: {},
      lr: 1e-3,
      schedule: 'linear',
      batch: 2,
      seqLen: 32,
      steps: 400,
      gradAccum: 4,
      weightDecay: 0.1,
      maxGradNorm: 0,
      seed: 9,
      evalEvery: 0,
      pack: true,
      checkpointing: true,
      baseDtype: 'nf4',
      logEvery: 5,
    });
    expect(sftRunConfig({ ...form, method: 'ia3', options: {}, logEvery: 7 }).logEvery).toBe(7);
  });

  it('defaults to no checkpointing on an f32 base, and names a wrong dtype or flag', () => {
    const c = sftRunConfig({ method: 'lora', options: {}, lr: 1e-3 });
    expect([c.checkpointing, c.baseDtype]).toEqual([false, 'f32']);
    const bad = { method: 'lora', options: {}, lr: 1e-3 };
    expect(() => sftRunConfig({ ...bad, baseDtype: 'fp8' as never })).toThrow(
      'baseDtype: "fp8" is not one of f32, f16, bf16, int8, nf4',
    );
    expect(() => sftRunConfig({ ...bad, checkpointing: 'yes' as never })).toThrow(
      'checkpointing: "yes" is not true or false',
    );
  });

  it('reads the loss back about twenty times a run, at least every fifth step', () => {
    expect([1, 19, 20, 40, 60, 100, 1000].map(logEveryFor)).toEqual([1, 1, 1, 2, 3, 5, 5]);
  });
});
