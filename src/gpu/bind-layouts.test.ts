// readBindShape: the binding shape a kernel's WGSL declares, and the cases left on the 'auto' layout
// (gaps, a uniform not last, a count that does not match the dispatch).
import { describe, expect, it } from 'vitest';
import { readBindShape, shapeKey } from './bind-layouts';

const decl = (i: number, kind: string) => `@group(0) @binding(${i}) var<${kind}> b${i}: array<f32>;`;

describe('readBindShape', () => {
  it('reads storage access modes in binding order and a trailing uniform', () => {
    const code = [
      decl(1, 'storage, read'),
      decl(0, 'storage, read_write'),
      decl(2, 'storage'),
      decl(3, 'uniform'),
    ];
    const s = readBindShape(code.join('\n'), 3, true);
    expect(s).toEqual({ storage: 'wrr', uniform: true });
    expect(shapeKey(s!)).toBe('wrru');
    expect(readBindShape(decl(0, 'storage, read_write'), 1, false)).toEqual({ storage: 'w', uniform: false });
  });

  it("leaves what it cannot map one-to-one to the dispatch on 'auto'", () => {
    // Uniform declared, none passed (the dispatch is wrong: 'auto' validation names the kernel).
    expect(readBindShape([decl(0, 'storage, read'), decl(1, 'uniform')].join('\n'), 1, false)).toBeNull();
    // A gap in the bindings.
    expect(readBindShape([decl(0, 'storage, read'), decl(2, 'uniform')].join('\n'), 1, true)).toBeNull();
    // The uniform not last.
    expect(readBindShape([decl(0, 'uniform'), decl(1, 'storage, read')].join('\n'), 1, true)).toBeNull();
    // More buffers passed than declared.
    expect(readBindShape(decl(0, 'storage, read'), 2, false)).toBeNull();
    // The same binding twice.
    expect(
      readBindShape([decl(0, 'storage, read'), decl(0, 'storage, read')].join('\n'), 1, false),
    ).toBeNull();
  });
});
