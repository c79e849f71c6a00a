// The strict flag parser: unknown and misspelt flags, missing and empty values, stray words and
// out-of-range numbers are errors naming the flag; the commands' own declarations (train, RL, generate,
// eval, merge) are checked the same way.
import { describe, expect, it } from 'vitest';
import { Args, baseDtypeFlag } from './args';
import { EVAL_FLAGS } from './eval';
import { GENERATE_FLAGS } from './generate';
import { MERGE_FLAGS } from './merge';
import { rlFlags } from './rl';
import { TRAIN_FLAGS } from './train';

const train = (...argv: string[]) => new Args(argv, TRAIN_FLAGS, 'train');

describe('strict flags', () => {
  it('a misspelt flag is an error naming it and the nearest known one', () => {
    expect(() => train('--model', 'm', '--stpes', '3')).toThrow(
      'unknown flag --stpes for train (did you mean --steps?)',
    );
    expect(() => train('--learning-rate', '3')).toThrow(
      /unknown flag --learning-rate for train; its flags: --algo/,
    );
    expect(() => train('-s', '3')).toThrow(/unknown flag -s for train/);
  });

  it('an empty value is an empty value, not "true"', () => {
    const g = new Args(['--model', 'm', '--prompt', '', '--prompt', 'x'], GENERATE_FLAGS);
    expect(g.all('prompt')).toEqual(['', 'x']);
    expect(train('--out', '').opt('out')).toBe('');
    expect(() => train('--out', '').nonEmpty('out')).toThrow('--out is empty');
    // The lenient reading (before a command declares its flags) agrees.
    expect(new Args(['--prompt', '']).opt('prompt')).toBe('');
  });

  it('a missing value is an error, also when the next word is a flag', () => {
    expect(() => train('--model', 'm', '--out')).toThrow('--out needs a value');
    expect(() => train('--out', '--steps', '3')).toThrow(
      '--out needs a value (got the flag --steps instead; a value starting with - is written --out=--steps)',
    );
  });

  it('a value starting with a dash is written with =', () => {
    const g = new Args(['--model', 'm', '--prompt=-hello', '--stop=-'], GENERATE_FLAGS);
    expect(g.all('prompt')).toEqual(['-hello']);
    expect(g.all('stop')).toEqual(['-']);
    expect(() => new Args(['--prompt', '-hello'], GENERATE_FLAGS)).toThrow(
      '--prompt needs a value (got the flag -hello instead; a value starting with - is written --prompt=-hello)',
    );
  });

  it('a stray word is an error', () => {
    expect(() => train('--pack', 'yes')).toThrow('unexpected argument "yes" after --pack');
    expect(() => train('runs/x')).toThrow('unexpected argument "runs/x"');
  });

  it('switches: alone, true or false', () => {
    expect(train('--pack').bool('pack')).toBe(true);
    expect(train('--pack', 'false', '--steps', '2').bool('pack')).toBe(false);
    expect(train('--pack=true').bool('pack')).toBe(true);
    expect(new Args(['--onnx', 'false'], MERGE_FLAGS).bool('onnx')).toBe(false);
  });

  it('numbers: non-finite and out-of-range values refused naming the flag; negative numbers parse', () => {
    expect(() => train('--lr', '-1').num('lr')).toThrow('--lr must be greater than 0, got -1');
    expect(() => train('--lr=-0.5').num('lr')).toThrow('--lr must be greater than 0, got -0.5');
    expect(() => train('--lr', 'Infinity').num('lr')).toThrow('--lr must be a finite number, got "Infinity"');
    expect(() => train('--lr', 'NaN').num('lr')).toThrow('--lr must be a finite number');
    expect(() => train('--lr', '').num('lr')).toThrow('--lr must be a finite number, got ""');
    expect(() => train('--weight-decay', '-0.1').num('weight-decay')).toThrow(
      '--weight-decay must be at least 0',
    );
    expect(() => train('--eval-fraction', '1').num('eval-fraction')).toThrow(
      '--eval-fraction must be less than 1',
    );
    expect(() => train('--steps', '-3').int('steps')).toThrow(
      '--steps must be a non-negative integer, got -3',
    );
    expect(() => new Args(['--top-p', '1.5'], GENERATE_FLAGS).num('top-p')).toThrow(
      '--top-p must be at most 1',
    );
    expect(train('--lr', '2e-4').num('lr')).toBe(2e-4);
  });

  it("each command's declaration: its own flags pass, another command's are refused", () => {
    expect(
      new Args(['--model', 'm', '--data', 'd', '--max-batches', '2'], EVAL_FLAGS).int('max-batches'),
    ).toBe(2);
    expect(() => new Args(['--model', 'm', '--prompt', 'x'], EVAL_FLAGS, 'eval')).toThrow(
      'unknown flag --prompt for eval',
    );
    const ppo = rlFlags('ppo');
    expect(
      new Args(['--algo', 'ppo', '--kl-coef', '0.1', '--set', 'r=2', '--set', 'a=1'], ppo).all('set'),
    ).toEqual(['r=2', 'a=1']);
    expect(() => new Args(['--algo', 'dpo', '--kl-coef', '0.1'], rlFlags('dpo'), 'train --algo dpo')).toThrow(
      'unknown flag --kl-coef for train --algo dpo',
    );
    expect(() => new Args(['--algo', 'grpo', '--genrations', '4'], rlFlags('grpo'))).toThrow(
      '(did you mean --generations?)',
    );
  });

  it('--base-dtype: on train, eval, generate and every RL algorithm; a wrong value lists the choices', () => {
    for (const [argv, flags] of [
      [['--model', 'm', '--base-dtype', 'nf4'], TRAIN_FLAGS],
      [['--model', 'm', '--base-dtype', 'nf4'], EVAL_FLAGS],
      [['--model', 'm', '--base-dtype', 'nf4'], GENERATE_FLAGS],
      [['--algo', 'grpo', '--base-dtype', 'nf4'], rlFlags('grpo')],
      [['--algo', 'dpo', '--base-dtype', 'nf4'], rlFlags('dpo')],
    ] as const)
      expect(baseDtypeFlag(new Args([...argv], flags))).toBe('nf4');
    for (const d of ['f32', 'f16', 'bf16', 'int8', 'nf4'])
      expect(baseDtypeFlag(train('--base-dtype', d))).toBe(d);
    expect(baseDtypeFlag(train('--model', 'm'))).toBeUndefined();
    expect(() => baseDtypeFlag(train('--base-dtype', 'fp16'))).toThrow(
      '--base-dtype must be one of f32, f16, bf16, int8, nf4, got "fp16": f32 (4 bytes per weight), f16 or bf16 (2), int8 (1, per-channel scales), nf4 (0.5, QLoRA 4-bit blocks of 64)',
    );
    expect(() => baseDtypeFlag(train('--base-dtype', 'NF4'))).toThrow(/got "NF4"/);
    expect(() => train('--base-dtype')).toThrow(/--base-dtype/);
  });
});
