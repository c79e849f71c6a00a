// The GPU core: exact arena accounting by category with peaks and reuse, the pipeline cache, kernel errors
// that name the kernel, and device loss reported as an error rather than a hang.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { counterDelta, Uniforms } from './context';
import { GpuDeviceLostError, GpuKernelError, GpuOutOfMemoryError } from './errors';
import { add } from './kernels/add';
import { acquireNodeGpu } from './node';

describe('arena', () => {
  it('accounts bytes by category, current and peak, and reuses freed buffers', async () => {
    const ctx = await testGpu();
    const a = ctx.arena;
    a.resetPeak();
    const base = a.stats();
    const w = a.alloc(1000, 'frozen', 'w'); // rounds up to 1008 (16-byte multiple)
    const g = a.alloc(64, 'gradients', 'g');
    const act = a.alloc(4096, 'activations', 'act');
    let s = a.stats();
    expect(s.current.frozen - base.current.frozen).toBe(1008);
    expect(s.current.gradients - base.current.gradients).toBe(64);
    expect(s.current.activations - base.current.activations).toBe(4096);
    expect(s.currentTotal - base.currentTotal).toBe(1008 + 64 + 4096);
    a.free(act);
    s = a.stats();
    expect(s.current.activations).toBe(base.current.activations);
    expect(s.peak.activations - base.current.activations).toBe(4096);
    expect(s.peakTotal - base.currentTotal).toBe(1008 + 64 + 4096);
    expect(s.atPeak.activations - base.current.activations).toBe(4096);
    expect(s.pooledBytes).toBeGreaterThanOrEqual(4096);
    // Same size comes back from the pool: the GPUBuffer is the one freed.
    const again = a.alloc(4096, 'workspace', 'again');
    expect(again.buffer).toBe(act.buffer);
    expect(a.stats().current.workspace - base.current.workspace).toBe(4096);
    expect(() => a.free(act)).toThrow(/freed twice/);
    for (const b of [w, g, again]) a.free(b);
    expect(a.stats().currentTotal).toBe(base.currentTotal);
  });

  it('refuses a buffer larger than the adapter allows, naming it', async () => {
    const ctx = await testGpu();
    const max = Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);
    expect(() => ctx.arena.alloc(max + 1024, 'activations', 'huge.logits')).toThrow(GpuOutOfMemoryError);
    expect(() => ctx.arena.alloc(max + 1024, 'activations', 'huge.logits')).toThrow(/huge\.logits/);
  });
});

describe('pipelines and errors', () => {
  it('compiles each kernel once', async () => {
    const ctx = await testGpu();
    const a = ctx.upload(new Float32Array([1, 2]), 'workspace', 'a');
    const b = ctx.upload(new Float32Array([3, 4]), 'workspace', 'b');
    const o = ctx.arena.alloc(8, 'workspace', 'o');
    const before = ctx.pipelineCount;
    add(ctx, { out: o, a, b, n: 2 });
    const once = ctx.pipelineCount;
    add(ctx, { out: o, a, b, n: 2 });
    expect(ctx.pipelineCount).toBe(once);
    expect(once - before).toBeLessThanOrEqual(1);
    expect(Array.from(await ctx.readF32(o, 2))).toEqual([4, 6]);
    for (const x of [a, b, o]) ctx.arena.free(x);
  });

  it('names the kernel when one buffer is bound both writable and read-only', async () => {
    const ctx = await testGpu();
    const a = ctx.upload(new Float32Array([1, 2]), 'workspace', 'aliased');
    add(ctx, { out: a, a, b: a, n: 2 });
    await expect(ctx.sync()).rejects.toThrow(/add.*aliased|aliased.*add/s);
    ctx.arena.free(a);
  });

  it('reports a WGSL compile error with the kernel name', async () => {
    const ctx = await testGpu();
    const buf = ctx.arena.alloc(16, 'workspace', 'x');
    const broken = {
      key: 'broken_test',
      label: 'broken_kernel',
      code: '@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(1) fn main() { x[0] = undefined_thing; }',
    };
    ctx.dispatch({ kernel: broken, buffers: [buf], workgroups: [1] });
    const err = await ctx.sync().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GpuKernelError);
    expect((err as Error).message).toMatch(/broken_kernel/);
    // The context stays usable afterwards.
    const ok = ctx.upload(new Float32Array([3]), 'workspace', 'ok');
    expect(Array.from(await ctx.readF32(ok, 1))).toEqual([3]);
    ctx.arena.free(ok);
    ctx.arena.free(buf);
  });

  it('reports a dispatch that fails validation with the kernel name', async () => {
    const ctx = await testGpu();
    const buf = ctx.arena.alloc(16, 'workspace', 'x');
    const kernel = {
      key: 'needs_uniform_test',
      label: 'needs_uniform',
      code:
        'struct P { n: u32 };\n@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@group(0) @binding(1) var<uniform> p: P;\n' +
        '@compute @workgroup_size(1) fn main() { x[0] = f32(p.n); }',
    };
    // Missing the uniform binding: the bind group does not match the layout.
    let thrown: unknown = null;
    try {
      ctx.dispatch({ kernel, buffers: [buf], workgroups: [1] });
      await ctx.sync();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(GpuKernelError);
    expect((thrown as Error).message).toMatch(/needs_uniform/);
    ctx.dispatch({ kernel, buffers: [buf], uniforms: new Uniforms().u32(7).data, workgroups: [1] });
    expect(Array.from(await ctx.readF32(buf, 1))).toEqual([7]);
    ctx.arena.free(buf);
  });
});

describe('lean recording', () => {
  const affine = {
    key: 'affine_test',
    label: 'affine',
    code:
      'struct P { a: f32, b: f32 };\n@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n' +
      '@group(0) @binding(1) var<uniform> p: P;\n' +
      '@compute @workgroup_size(1) fn main() { x[0] = x[0] * p.a + p.b; }',
  };
  const step = (a: number, b: number) => new Uniforms().f32(a).f32(b).data;

  it('binds each dispatch its own uniforms at a dynamic offset, reusing one bind group per buffer set', async () => {
    const ctx = await testGpu();
    // Sizes no other test here uses: buffers fresh from the device, never bound before (bind groups are
    // cached by binding shape and buffers, whichever kernel asks).
    const x = ctx.upload(new Float32Array(13).fill(1), 'workspace', 'x');
    const y = ctx.upload(new Float32Array(17).fill(1), 'workspace', 'y');
    await ctx.sync();
    const c0 = ctx.counters();
    // One batch, five dispatches over two buffers, each with different uniforms: ((1·2+1)·3+2)·1−4 = 7 and
    // (1·5+0)·0.5 = 2.5 only if every dispatch read its own slot.
    ctx.dispatch({ kernel: affine, buffers: [x], uniforms: step(2, 1), workgroups: [1] });
    ctx.dispatch({ kernel: affine, buffers: [y], uniforms: step(5, 0), workgroups: [1] });
    ctx.dispatch({ kernel: affine, buffers: [x], uniforms: step(3, 2), workgroups: [1] });
    ctx.dispatch({ kernel: affine, buffers: [x], uniforms: step(1, -4), workgroups: [1] });
    ctx.dispatch({ kernel: affine, buffers: [y], uniforms: step(0.5, 0), workgroups: [1] });
    expect(Array.from(await ctx.readF32(x, 1))).toEqual([7]);
    expect(Array.from(await ctx.readF32(y, 1))).toEqual([2.5]);
    const c = counterDelta(c0, ctx.counters());
    expect(c.dispatches).toBe(5);
    // Before: a bind group, a uniform write and an error scope per dispatch.
    expect(c.bindGroupsCreated).toBe(2);
    expect(c.uniformWrites).toBe(1);
    // The kernel's compilation, the two creations, then validation and out-of-memory around each submit.
    expect(c.errorScopes).toBe(1 + 2 + 2 * c.submits);
    // The next batch over the same buffers creates nothing.
    const c1 = ctx.counters();
    ctx.dispatch({ kernel: affine, buffers: [x], uniforms: step(1, 1), workgroups: [1] });
    expect(Array.from(await ctx.readF32(x, 1))).toEqual([8]);
    expect(counterDelta(c1, ctx.counters()).bindGroupsCreated).toBe(0);
    for (const b of [x, y]) ctx.arena.free(b);
  });

  it('holds queue work while asked, then runs it in order, each submit with its own uniforms', async () => {
    const ctx = await testGpu();
    const x = ctx.upload(new Float32Array(19).fill(1), 'workspace', 'x');
    const y = ctx.upload(new Float32Array(23).fill(1), 'workspace', 'y');
    await ctx.sync();
    const queue = ctx.device.queue;
    const submit = queue.submit.bind(queue);
    const writeBuffer = queue.writeBuffer.bind(queue);
    let calls = 0;
    queue.submit = (...a: Parameters<GPUQueue['submit']>) => {
      calls++;
      return submit(...a);
    };
    queue.writeBuffer = (...a: Parameters<GPUQueue['writeBuffer']>) => {
      calls++;
      return writeBuffer(...a);
    };
    try {
      ctx.holdQueue();
      ctx.dispatch({ kernel: affine, buffers: [x], uniforms: step(2, 1), workgroups: [1] });
      ctx.flush();
      ctx.write(y, new Float32Array([10]));
      ctx.dispatch({ kernel: affine, buffers: [x], uniforms: step(5, -1), workgroups: [1] });
      ctx.dispatch({ kernel: affine, buffers: [y], uniforms: step(0.5, 0), workgroups: [1] });
      ctx.flush();
      expect(calls, 'nothing reached the queue while held').toBe(0);
      ctx.releaseQueue();
      // Two submits, each after its uniform write, and the upload between them.
      expect(calls).toBe(5);
    } finally {
      queue.submit = submit;
      queue.writeBuffer = writeBuffer;
    }
    // (1·2+1)·5−1 = 14 only if the first submit kept its own uniforms (the staging slots are reused by the
    // second batch: with them, x would be (1·5−1)·5−1 = 19); y = 10·0.5 only if the upload ran in order.
    expect(Array.from(await ctx.readF32(x, 1))).toEqual([14]);
    expect(Array.from(await ctx.readF32(y, 1))).toEqual([5]);
    // A read while held releases first instead of waiting for work never submitted.
    ctx.holdQueue();
    ctx.dispatch({ kernel: affine, buffers: [y], uniforms: step(2, 0), workgroups: [1] });
    expect(Array.from(await ctx.readF32(y, 1))).toEqual([10]);
    for (const b of [x, y]) ctx.arena.free(b);
  });

  it('still names the kernel when a cached-layout bind group fails validation', async () => {
    const ctx = await testGpu();
    // A 16-byte buffer bound where the kernel's layout wants a storage buffer is fine; a uniform-usage
    // buffer is not a storage buffer at all.
    const bad = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM, label: 'not_storage' });
    ctx.dispatch({ kernel: affine, buffers: [bad], uniforms: step(1, 0), workgroups: [1] });
    await expect(ctx.sync()).rejects.toThrow(/affine/);
    bad.destroy();
  });
});

describe('device loss', () => {
  it('surfaces as GpuDeviceLostError on the next use and on pending reads, not a hang', async () => {
    const ctx = await acquireNodeGpu({ quiet: true });
    const buf = ctx.upload(new Float32Array([1, 2, 3, 4]), 'workspace', 'x');
    expect(Array.from(await ctx.readF32(buf, 4))).toEqual([1, 2, 3, 4]);
    ctx.device.destroy();
    const pending = ctx.readF32(buf, 4).then(
      () => null,
      (e: unknown) => e,
    );
    const err = await Promise.race([pending, new Promise((r) => setTimeout(() => r('hang'), 10_000))]);
    expect(err).toBeInstanceOf(GpuDeviceLostError);
    expect((err as Error).message).toMatch(/device was lost/);
    expect(() => add(ctx, { out: buf, a: buf, b: buf, n: 4 })).toThrow(GpuDeviceLostError);
  });
});
