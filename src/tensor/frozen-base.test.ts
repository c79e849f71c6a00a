// The shared frozen base: streaming (one tensor read, uploaded, then the next: the loader never holds two
// tensors' host copies), per-tensor counting across leases (a tensor two sets borrow is held once, freed
// with the last lease; the GPU arena's frozen bytes are checked exactly), ParamSets borrowing it (the same
// storage, writes refused, a merge's private copy leaving the shared tensor as it was), null specs (zeros,
// and none on the host), a 16-bit tensor's exact bytes, and a tensor above the buffer limit held in row parts.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { alignBytes } from '../gpu/arena';
import type { Backend } from './backend';
import { cpuBackend } from './cpu-backend';
import { type BaseSource, FrozenBase } from './frozen-base';
import { gpuBackend } from './gpu-backend';
import { ParamSet, type ParamSpec } from './params';
import { splitOf } from './split-weight';

const SHAPES: Record<string, number[]> = { a: [3, 4], b: [5], c: [2, 6], d: [7, 3] };
const valuesOf = (name: string) => {
  const n = SHAPES[name].reduce((x, y) => x * y, 1);
  return Float32Array.from({ length: n }, (_, i) => (name.charCodeAt(0) - 96) * 10 + i / 8);
};

/** A checkpoint double that logs each read, and how many reads have been handed out but not yet uploaded. */
function recordingSource(log: string[], live: { now: number; max: number }): BaseSource {
  return {
    tensors: Object.entries(SHAPES).map(([name, shape]) => ({ name, shape, dtype: 'f32', layout: 'out_in' })),
    read: async (name) => {
      live.now++;
      live.max = Math.max(live.max, live.now);
      log.push(`read ${name}`);
      return valuesOf(name);
    },
  };
}

/** A backend that logs each upload and counts it as the end of a read's host copy's life. */
function recordingBackend<S, I>(be: Backend<S, I>, log: string[], live: { now: number }): Backend<S, I> {
  return {
    ...be,
    upload: (data, category, label) => {
      log.push(`upload ${label}`);
      live.now--;
      return be.upload(data, category, label);
    },
    uploadWeight: (data, shape, dtype, layout, category, label) => {
      log.push(`upload ${label}`);
      live.now--;
      return be.uploadWeight(data, shape, dtype, layout, category, label);
    },
  };
}

const specsOf = (names: string[], trainable: (n: string) => boolean = () => false): ParamSpec[] =>
  names.map((name) => ({ name, shape: SHAPES[name], trainable: trainable(name), data: null }));

describe('FrozenBase', () => {
  it('streams: each tensor is read, uploaded, then the next read; never two host copies at once', async () => {
    const log: string[] = [];
    const live = { now: 0, max: 0 };
    const be = recordingBackend(cpuBackend(), log, live);
    const base = new FrozenBase(be, recordingSource(log, live), 'f32');
    // Two leases asking at once for overlapping tensors still read each tensor once, one at a time.
    const [l1, l2] = await Promise.all([base.lease(['a', 'b', 'c']), base.lease(['c', 'd', 'a'])]);
    expect(live.max).toBe(1);
    expect(live.now).toBe(0);
    const reads = log.filter((e) => e.startsWith('read')).map((e) => e.slice(5));
    expect(new Set(reads).size).toBe(reads.length);
    expect(reads.sort()).toEqual(['a', 'b', 'c', 'd']);
    // Strictly alternating: read x, upload x, read y, upload y, ...
    for (let i = 0; i < log.length; i += 2) {
      expect(log[i].startsWith('read ')).toBe(true);
      expect(log[i + 1]).toBe(`upload ${log[i].slice(5)}`);
    }
    const ps = new ParamSet(be, specsOf(['a', 'b']), { base: l1 });
    expect([...(await ps.read('a'))]).toEqual([...valuesOf('a')]);
    ps.dispose();
    l2.release();
  });

  it('holds a tensor two sets borrow once, frees it with the last lease (GPU arena bytes exact)', async () => {
    const ctx = await testGpu();
    const be = gpuBackend(ctx);
    const frozen0 = ctx.arena.stats().current.frozen;
    const frozen = () => ctx.arena.stats().current.frozen - frozen0;
    const bytes = (...names: string[]) =>
      names.reduce((a, n) => a + alignBytes(SHAPES[n].reduce((x, y) => x * y, 1) * 4), 0);
    const base = new FrozenBase(be, recordingSource([], { now: 0, max: 0 }), 'f32');
    const first = new ParamSet(be, specsOf(['a', 'b', 'c']), { base: await base.lease(['a', 'b', 'c']) });
    // The second set trains c (its own f32 copy, written with the base's values) and borrows a and d.
    const secondSpecs = specsOf(['a', 'c', 'd'], (n) => n === 'c');
    const second = new ParamSet(be, secondSpecs, { base: await base.lease(['a', 'd']) });
    second.write('c', await base.values('c'));
    expect(base.heldNames().sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(frozen()).toBe(bytes('a', 'b', 'c', 'd'));
    expect(base.users).toBe(2);
    // Borrowed: the very same storage; the trained one is the set's own.
    expect(second.get('a').store).toBe(first.get('a').store);
    expect(second.get('c').store).not.toBe(first.get('c').store);
    expect([...(await second.read('c'))]).toEqual([...valuesOf('c')]);
    expect(() => second.write('a', valuesOf('a'))).toThrow(/shared base/);
    // A merge's private copy: the set's tensor changes, the shared one (and the other set's view) does not.
    const sharedD = second.get('d').store;
    second.writing(() => second.get('d'));
    expect(second.get('d').store).not.toBe(sharedD);
    expect(frozen()).toBe(bytes('a', 'b', 'c', 'd', 'd'));
    second.write('d', new Float32Array(21).fill(1));
    expect(Array.from(await base.values('d'))).toEqual([...valuesOf('d')]);
    second.unprivatize();
    expect([...(await second.read('d'))]).toEqual([...valuesOf('d')]);
    expect(frozen()).toBe(bytes('a', 'b', 'c', 'd'));

    first.dispose();
    // b and c went with the first set's lease; a and d stay for the second.
    expect(base.heldNames().sort()).toEqual(['a', 'd']);
    expect(frozen()).toBe(bytes('a', 'd'));
    expect([...(await second.read('a'))]).toEqual([...valuesOf('a')]);
    second.dispose();
    expect(base.heldNames()).toEqual([]);
    expect(base.users).toBe(0);
    expect(frozen()).toBe(0);
  });

  it('null specs: zeros on a real backend; an f16 frozen tensor takes half the words', async () => {
    const ctx = await testGpu();
    const be = gpuBackend(ctx);
    const f0 = ctx.arena.stats().current.frozen;
    const t0 = ctx.arena.stats().current.trainable;
    const ps = new ParamSet(be, [
      { name: 'w', shape: [64, 8], trainable: false, data: null, dtype: 'f16' },
      { name: 'z', shape: [5], trainable: false, data: null },
      { name: 't', shape: [3], trainable: true, data: null },
      { name: 'u', shape: [2], trainable: true, data: [4, 5] },
    ]);
    expect(ps.get('w').format?.dtype).toBe('f16');
    expect(ctx.arena.stats().current.frozen - f0).toBe(alignBytes(64 * 8 * 2) + alignBytes(5 * 4));
    // One flat buffer: t at 0, u at the next 64-element view boundary.
    expect(ctx.arena.stats().current.trainable - t0).toBe(alignBytes(128 * 4));
    expect([...(await ps.read('w'))].every((v) => v === 0)).toBe(true);
    expect([...(await ps.read('z'))]).toEqual([0, 0, 0, 0, 0]);
    expect([...(await ps.read('t'))]).toEqual([0, 0, 0]);
    expect([...(await ps.read('u'))]).toEqual([4, 5]);
    ps.dispose();
    ps.dispose(); // a second dispose does nothing (no double free)
    expect(ctx.arena.stats().current.frozen).toBe(f0);
  });

  it('refuses a trainable tensor held in a 16-bit or quantized dtype', () => {
    expect(
      () =>
        new ParamSet(cpuBackend(), [{ name: 'w', shape: [4], trainable: true, data: null, dtype: 'nf4' }]),
    ).toThrow(/held as nf4 and cannot be trained/);
  });

  it('holds a tensor above the buffer limit in row parts: values read back, parts counted and freed (GPU)', async () => {
    const ctx = await testGpu();
    const log: string[] = [];
    // d [7, 3] is 84 bytes in f32: a 48-byte limit holds it as 4 + 3 rows (48 + 36 → 48 + 48 aligned).
    const be = recordingBackend(gpuBackend(ctx), log, { now: 0 });
    const f0 = ctx.arena.stats().current.frozen;
    const base = new FrozenBase(be, recordingSource([], { now: 0, max: 0 }), 'f32', undefined, {
      maxBufferBytes: 48,
    });
    const lease = await base.lease(['a', 'd']);
    expect(log).toEqual(['upload a', 'upload d[0:4]', 'upload d[4:7]']);
    const d = lease.get('d');
    expect(d.shape).toEqual([7, 3]);
    expect(splitOf(d)?.parts.map((p) => [p.row0, p.rows])).toEqual([
      [0, 4],
      [4, 3],
    ]);
    expect(splitOf(lease.get('a'))).toBeNull();
    expect(ctx.arena.stats().current.frozen - f0).toBe(alignBytes(48) + 2 * alignBytes(48));
    expect(Array.from(await base.values('d'))).toEqual([...valuesOf('d')]);
    lease.release();
    expect(ctx.arena.stats().current.frozen).toBe(f0);
    expect(splitOf(d)).toBeNull();
    // A tensor no row block of which fits is refused by name, nothing left uploaded.
    const tight = new FrozenBase(be, recordingSource([], { now: 0, max: 0 }), 'f32', undefined, {
      maxBufferBytes: 8,
    });
    await expect(tight.lease(['d'])).rejects.toThrow(
      /d \[7,3\] \(f32\) exceeds the 8-byte buffer limit: 1 row/,
    );
    expect(ctx.arena.stats().current.frozen).toBe(f0);
  });

  it("takes the backend's stated per-buffer limit when given none", () => {
    const be = { ...cpuBackend(), maxBufferBytes: 1024 };
    expect(new FrozenBase(be, recordingSource([], { now: 0, max: 0 }), 'f32').maxBufferBytes).toBe(1024);
    expect(new FrozenBase(cpuBackend(), recordingSource([], { now: 0, max: 0 }), 'f32').maxBufferBytes).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});
