// GpuContext: one device with its arena, pipeline cache, command batching, uniform ring, reads and writes,
// and error and device-loss reporting. Kernels call `dispatch`; nothing else in the engine touches the
// GPUDevice. Dispatches are recorded into one compute pass and submitted in batches, so a training step
// costs a handful of submits, not one per kernel. The per-dispatch CPU cost is kept small: uniforms are
// staged on the CPU and written to the ring once per submit, bound at a dynamic offset, so a bind group
// depends only on its storage buffers and is reused whenever the same buffers come back (every step,
// since the arena recycles them); a bind group is validated (one error scope, naming the kernel) only when
// it is created. `counters` counts what a step costs.

import { Arena, type GpuBuf, type GpuRegion, type MemoryCategory, regionParts } from './arena';
import { type BindShape, layoutEntries, readBindShape, shapeKey } from './bind-layouts';
import { GpuDeviceLostError, GpuKernelError } from './errors';
import { perBufferLimit } from './summary';

export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'browser' (navigator.gpu) or 'dawn' (the `webgpu` package in Node). */
  runtime: 'browser' | 'dawn';
  /** True on a software rasteriser (SwiftShader, lavapipe): slow, fine for tests. */
  software: boolean;
  /** Sentences worth telling the user (fallbacks taken, features missing). */
  notes: string[];
}

/** A kernel as the cache sees it: WGSL text and a label that names it in errors. */
export interface KernelSource {
  /** Unique per distinct WGSL text (op name plus its template parameters). */
  key: string;
  /** Human name used in labels and error messages, e.g. "matmul_nt". */
  label: string;
  code: string;
  entryPoint?: string;
}

export interface DispatchArgs {
  kernel: KernelSource;
  /** Storage buffers (or views) bound at @group(0) @binding(0..n-1), in order. */
  buffers: Array<GpuRegion | GPUBuffer>;
  /** Bound after the buffers, as a uniform at @group(0) @binding(n). At most 256 bytes. */
  uniforms?: ArrayBuffer | ArrayBufferView;
  workgroups: [number, number?, number?];
}

const UNIFORM_SLOT = 256;
const UNIFORM_SLOTS = 512;
/** Cached bind groups kept before the cache is dropped whole (stale entries name destroyed buffers). */
const BIND_GROUP_CACHE_MAX = 8192;

/** What recording has cost so far; subtract two snapshots for one step's share. */
export interface GpuCounters {
  dispatches: number;
  bindGroupsCreated: number;
  /** queue.writeBuffer calls for uniforms (one per submit that has any). */
  uniformWrites: number;
  errorScopes: number;
  /** Buffer-to-buffer copies and clears recorded (not readbacks). */
  copies: number;
  submits: number;
}

export const zeroCounters = (): GpuCounters => ({
  dispatches: 0,
  bindGroupsCreated: 0,
  uniformWrites: 0,
  errorScopes: 0,
  copies: 0,
  submits: 0,
});

/** b − a, field by field. */
export function counterDelta(a: GpuCounters, b: GpuCounters): GpuCounters {
  const out = zeroCounters();
  for (const k of Object.keys(out) as Array<keyof GpuCounters>) out[k] = b[k] - a[k];
  return out;
}

/** Packs a uniform struct field by field (each 4 bytes; pad vec types yourself). */
export class Uniforms {
  private readonly view = new DataView(new ArrayBuffer(UNIFORM_SLOT));
  private offset = 0;
  u32(v: number): this {
    this.view.setUint32(this.offset, v >>> 0, true);
    this.offset += 4;
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.offset, v | 0, true);
    this.offset += 4;
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(this.offset, v, true);
    this.offset += 4;
    return this;
  }
  get data(): ArrayBuffer {
    // WGSL uniform structs are 16-byte aligned in size.
    const size = Math.max(16, Math.ceil(this.offset / 16) * 16);
    return this.view.buffer.slice(0, size);
  }
}

export class GpuContext {
  readonly arena: Arena;
  /** Kernel variant per op family, chosen by the autotune (e.g. matmul: "regblock"). */
  readonly variants = new Map<string, string>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly pendingChecks: Array<Promise<void>> = [];
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchKernels = new Set<string>();
  private readonly uniformRing: GPUBuffer;
  /** The ring's contents for the batch being recorded, written to the GPU once at flush. */
  private readonly uniformStaging = new Uint8Array(UNIFORM_SLOT * UNIFORM_SLOTS);
  /** Queue operations held back by holdQueue, in order; null when the queue runs as recorded. */
  private held: (() => void)[] | null = null;
  private uniformSlot = 0;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private readonly lostPromise: Promise<never>;
  private uncaptured: string[] = [];
  private readonly count = zeroCounters();
  /** Explicit layouts by binding shape (shapeKey). */
  private readonly layouts = new Map<string, { bind: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  /** Each kernel's binding shape, or null for kernels left on 'auto' (by kernel key and call shape). */
  private readonly shapes = new Map<string, BindShape | null>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private readonly shapeKeys = new WeakMap<BindShape, string>();
  private nextBufferId = 1;
  /** Per kernel object (kernels are memoised), the binding shape and pipeline of its last dispatch. */
  private readonly lastUse = new WeakMap<
    KernelSource,
    { buffers: number; uniform: boolean; shape: BindShape | null; pipeline: GPUComputePipeline }
  >();
  /** Work a recorder holds back to batch it (tensor/matmul-queue.ts); recorded before anything else is. */
  private deferred: (() => void) | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: GpuAdapterSummary,
    readonly features: GpuFeatures,
  ) {
    this.arena = new Arena(device, perBufferLimit(device.limits));
    this.uniformRing = device.createBuffer({
      size: UNIFORM_SLOT * UNIFORM_SLOTS,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniform-ring',
    });
    this.lostPromise = device.lost.then((info) => {
      this.lostInfo = info;
      throw this.lostError();
    });
    // Keep the rejection from being reported as unhandled when nobody is waiting on it.
    this.lostPromise.catch(() => undefined);
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.uncaptured.push(e.message);
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get lost(): boolean {
    return this.lostInfo !== null;
  }

  /** Total dispatches recorded, for tests and benchmarks. */
  get dispatches(): number {
    return this.count.dispatches;
  }

  /** A snapshot of the recording counters (dispatches, bind groups, uniform writes, error scopes...). */
  counters(): GpuCounters {
    return { ...this.count };
  }

  private pushScope(filter: GPUErrorFilter): void {
    this.device.pushErrorScope(filter);
    this.count.errorScopes++;
  }

  private lostError(): GpuDeviceLostError {
    const info = this.lostInfo;
    return new GpuDeviceLostError(info?.reason ?? 'unknown', info?.message ?? '');
  }

  private assertAlive(): void {
    if (this.lostInfo) throw this.lostError();
  }

  /** The shared explicit layout for a binding shape. */
  private layoutFor(shape: BindShape): { bind: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    const key = shapeKey(shape);
    let l = this.layouts.get(key);
    if (!l) {
      const bind = this.device.createBindGroupLayout({
        entries: layoutEntries(shape, GPUShaderStage.COMPUTE),
        label: `layout ${key}`,
      });
      l = { bind, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [bind] }) };
      this.layouts.set(key, l);
    }
    return l;
  }

  /**
   * Compiles (once) and returns the pipeline for a kernel; compile errors surface at the next `sync`. With a
   * binding shape the pipeline uses the shared explicit layout for it, else the device's 'auto' one.
   */
  pipeline(kernel: KernelSource, shape: BindShape | null = null): GPUComputePipeline {
    const cacheKey = shape ? `${kernel.key}|${shapeKey(shape)}` : kernel.key;
    const cached = this.pipelines.get(cacheKey);
    if (cached) return cached;
    this.assertAlive();
    const device = this.device;
    this.pushScope('validation');
    const module = device.createShaderModule({ code: kernel.code, label: kernel.label });
    const pipeline = device.createComputePipeline({
      layout: shape ? this.layoutFor(shape).pipeline : 'auto',
      compute: { module, entryPoint: kernel.entryPoint ?? 'main' },
      label: kernel.label,
    });
    const scope = device.popErrorScope();
    this.pendingChecks.push(
      Promise.all([scope, module.getCompilationInfo()]).then(([err, info]) => {
        const msgs = info.messages
          .filter((m) => m.type === 'error')
          .map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`);
        if (err) msgs.push(err.message);
        if (msgs.length) {
          this.pipelines.delete(cacheKey);
          throw new GpuKernelError(kernel.label, msgs.join('; '));
        }
      }),
    );
    this.pipelines.set(cacheKey, pipeline);
    return pipeline;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private currentPass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    if (!this.pass) this.pass = this.encoder.beginComputePass({ label: 'kernels' });
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  /** The binding shape of a kernel as called (buffer count, uniform or not), read once per kernel. */
  private shapeOf(kernel: KernelSource, buffers: number, uniform: boolean): BindShape | null {
    // Kernels with several entry points share a module whose entry points may bind subsets: keep 'auto'.
    if (kernel.entryPoint && kernel.entryPoint !== 'main') return null;
    const key = `${kernel.key}|${buffers}${uniform ? 'u' : ''}`;
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      shape = readBindShape(kernel.code, buffers, uniform);
      this.shapes.set(key, shape);
    }
    return shape;
  }

  /** shapeKey once per binding shape (shapes are the cached objects shapeOf returns). */
  private shapeKeyOf(shape: BindShape): string {
    let k = this.shapeKeys.get(shape);
    if (k === undefined) {
      k = shapeKey(shape);
      this.shapeKeys.set(shape, k);
    }
    return k;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  /** Creates a bind group inside its own error scope, so a mismatch names the kernel. */
  private createBindGroup(kernel: KernelSource, layout: GPUBindGroupLayout, entries: GPUBindGroupEntry[]) {
    this.pushScope('validation');
    const bindGroup = this.device.createBindGroup({ layout, entries, label: kernel.label });
    const scope = this.device.popErrorScope();
    this.count.bindGroupsCreated++;
    this.pendingChecks.push(
      scope.then((err) => {
        if (err) throw new GpuKernelError(kernel.label, err.message);
      }),
    );
    return bindGroup;
  }

  /**
   * Holds `record` back until the next dispatch, copy, clear, submit or read, which records it first: a
   * caller batching work (matmul-queue.ts groups independent matmuls) keeps stream order whoever records
   * next. One at a time; `record` must record what it holds (it runs once, then the slot is empty).
   */
  defer(record: () => void): void {
    if (this.deferred && this.deferred !== record) this.drainDeferred();
    this.deferred = record;
  }

  /** Records held-back work now (see defer). */
  drainDeferred(): void {
    const f = this.deferred;
    if (!f) return;
    this.deferred = null;
    f();
  }

  /** Records one kernel dispatch. Buffers bind in order; uniforms (if any) bind last. */
  dispatch(args: DispatchArgs): void {
    this.assertAlive();
    if (this.deferred) this.drainDeferred();
    const { kernel } = args;
    const [x, y = 1, z = 1] = args.workgroups;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new GpuKernelError(kernel.label, `grid ${x}×${y}×${z} exceeds ${max} workgroups per dimension`);
    }
    const data = args.uniforms;
    if (data && data.byteLength > UNIFORM_SLOT)
      throw new GpuKernelError(kernel.label, `uniforms of ${data.byteLength} bytes exceed 256`);
    // The kernel object's last shape and pipeline: a steady step looks up no string keys for them.
    const nb = args.buffers.length;
    const withU = data !== undefined;
    let hit = this.lastUse.get(kernel);
    if (!hit || hit.buffers !== nb || hit.uniform !== withU) {
      const s = this.shapeOf(kernel, nb, withU);
      hit = { buffers: nb, uniform: withU, shape: s, pipeline: this.pipeline(kernel, s) };
      this.lastUse.set(kernel, hit);
    }
    const { shape, pipeline } = hit;
    if (data && this.uniformSlot >= UNIFORM_SLOTS) this.flush();
    let uniformOffset = -1;
    if (data) {
      uniformOffset = this.uniformSlot * UNIFORM_SLOT;
      const bytes = ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new Uint8Array(data);
      this.uniformStaging.set(bytes, uniformOffset);
      this.uniformSlot++;
    }
    const parts = args.buffers.map(regionParts);
    // The entries are built only when a group is created: a steady step finds every group cached.
    const storageEntries = (): GPUBindGroupEntry[] =>
      parts.map(({ buffer, offset, size }, i) => ({ binding: i, resource: { buffer, offset, size } }));
    let bindGroup: GPUBindGroup;
    if (shape) {
      // The uniform binds at offset 0 of the ring with a dynamic offset per dispatch: the group is the
      // same for the same storage buffers, whatever the uniforms hold.
      let key = this.shapeKeyOf(shape);
      for (const p of parts) key += `|${this.bufferId(p.buffer)}:${p.offset}:${p.size}`;
      const cached = this.bindGroups.get(key);
      if (cached) bindGroup = cached;
      else {
        const entries = storageEntries();
        if (data)
          entries.push({ binding: parts.length, resource: { buffer: this.uniformRing, size: UNIFORM_SLOT } });
        if (this.bindGroups.size >= BIND_GROUP_CACHE_MAX) this.bindGroups.clear();
        bindGroup = this.createBindGroup(kernel, this.layoutFor(shape).bind, entries);
        this.bindGroups.set(key, bindGroup);
      }
    } else {
      const entries = storageEntries();
      if (data)
        entries.push({
          binding: parts.length,
          resource: { buffer: this.uniformRing, offset: uniformOffset, size: data.byteLength },
        });
      bindGroup = this.createBindGroup(kernel, pipeline.getBindGroupLayout(0), entries);
    }
    const pass = this.currentPass();
    pass.setPipeline(pipeline);
    if (shape && data) pass.setBindGroup(0, bindGroup, [uniformOffset]);
    else pass.setBindGroup(0, bindGroup);
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    this.batchKernels.add(kernel.label);
    this.count.dispatches++;
  }

  /** Records a buffer-to-buffer copy in order with the dispatches around it. */
  copy(
    src: GpuRegion | GPUBuffer,
    srcOffset: number,
    dst: GpuRegion | GPUBuffer,
    dstOffset: number,
    bytes: number,
  ): void {
    this.assertAlive();
    this.drainDeferred();
    const s = regionParts(src);
    const d = regionParts(dst);
    this.endPass().copyBufferToBuffer(s.buffer, s.offset + srcOffset, d.buffer, d.offset + dstOffset, bytes);
    this.count.copies++;
  }

  /** Zero-fills a buffer (or a range of it) in order with the dispatches around it. */
  clear(buf: GpuRegion | GPUBuffer, offset = 0, bytes?: number): void {
    this.assertAlive();
    this.drainDeferred();
    const r = regionParts(buf);
    this.endPass().clearBuffer(r.buffer, r.offset + offset, bytes ?? r.size - offset);
    this.count.copies++;
  }

  /** Submits what has been recorded. Validation errors are collected for the next `sync`. */
  flush(): void {
    if (this.deferred && !this.lost) this.drainDeferred();
    if (!this.encoder) return;
    this.assertAlive();
    const enc = this.endPass();
    const kernels = [...this.batchKernels].join(', ');
    // Queue writes run before this submit's commands and after every earlier submit's: the ring's
    // slots are free to reuse from slot 0 in each batch.
    const uniforms = this.uniformSlot > 0 ? this.uniformBytes(this.uniformSlot * UNIFORM_SLOT) : null;
    if (uniforms) this.count.uniformWrites++;
    this.count.submits++;
    const writeUniforms = () => {
      if (uniforms) this.device.queue.writeBuffer(this.uniformRing, 0, uniforms, 0, uniforms.byteLength);
    };
    if (!this.held) {
      writeUniforms();
      this.scoped(kernels, () => this.device.queue.submit([enc.finish()]));
    } else {
      // Finishing is recording (and names its own errors); the submit waits with the rest.
      const commands = this.scoped(kernels, () => enc.finish());
      this.held.push(() => {
        writeUniforms();
        this.scoped(kernels, () => this.device.queue.submit([commands]));
      });
    }
    this.encoder = null;
    this.batchKernels = new Set();
    this.uniformSlot = 0;
  }

  /** Runs `f` inside validation and out-of-memory scopes whose errors name `kernels` at the next sync. */
  private scoped<T>(kernels: string, f: () => T): T {
    this.pushScope('out-of-memory');
    this.pushScope('validation');
    const out = f();
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    this.pendingChecks.push(
      Promise.all([validation, oom]).then(([v, o]) => {
        const err = v ?? o;
        if (err) throw new GpuKernelError(kernels || 'submit', err.message);
      }),
    );
    return out;
  }

  /** The staged uniforms' first `bytes`: the staging array itself, or a copy while the queue is held. */
  private uniformBytes(bytes: number): Uint8Array<ArrayBuffer> {
    const view = new Uint8Array(this.uniformStaging.buffer, this.uniformStaging.byteOffset, bytes);
    return this.held ? view.slice() : view;
  }

  /**
   * Holds every queue operation (uniform writes, submits, uploads) until releaseQueue, which runs them in
   * their order. For the bench's CPU recording figure: a software adapter executes submitted work on the
   * same cores as the thread recording the next, so a step's recording time there mixes both; with the
   * queue held it is the recording alone. A read, a sync or destroy releases first (a mapping must follow
   * the submit of its copy). Buffers the held work uses must outlive it: nothing trims the arena's pool
   * inside a step, which is all the bench holds.
   */
  holdQueue(): void {
    this.held ??= [];
  }

  releaseQueue(): void {
    const ops = this.held;
    this.held = null;
    for (const op of ops ?? []) op();
  }

  /** Uploads data into a buffer, ordered after every dispatch recorded so far. */
  write(buf: GpuRegion | GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.assertAlive();
    // queue.writeBuffer runs before any command buffer not yet submitted: submit first to keep order.
    this.flush();
    const r = regionParts(buf);
    if (this.held) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      this.held.push(() => this.device.queue.writeBuffer(r.buffer, r.offset + offset, bytes));
    } else {
      this.device.queue.writeBuffer(
        r.buffer,
        r.offset + offset,
        data.buffer,
        data.byteOffset,
        data.byteLength,
      );
    }
  }

  /** Waits for all submitted work, then throws the first kernel error or device loss seen. */
  async sync(): Promise<void> {
    this.flush();
    this.releaseQueue();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lostPromise]);
    await this.checkErrors();
  }

  private async checkErrors(): Promise<void> {
    const checks = this.pendingChecks.splice(0);
    const results = await Promise.race([Promise.allSettled(checks), this.lostPromise]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    if (this.uncaptured.length) {
      const msgs = this.uncaptured.splice(0);
      throw new GpuKernelError('device', msgs.join('; '));
    }
  }

  /** Reads bytes back to the CPU (the only GPU→CPU path), after everything recorded so far. */
  async readBytes(buf: GpuRegion | GPUBuffer, bytes?: number, offset = 0): Promise<ArrayBuffer> {
    this.assertAlive();
    this.drainDeferred();
    const r = regionParts(buf);
    const src = r.buffer;
    const size = Math.ceil((bytes ?? r.size - offset) / 4) * 4;
    offset += r.offset;
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'readback',
    });
    const enc = this.endPass();
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    this.flush();
    this.releaseQueue();
    try {
      await Promise.race([staging.mapAsync(GPUMapMode.READ), this.lostPromise]);
      const out = staging.getMappedRange().slice(0);
      staging.unmap();
      await this.checkErrors();
      return out;
    } finally {
      staging.destroy();
    }
  }

  async readF32(buf: GpuRegion | GPUBuffer, count?: number, offsetElems = 0): Promise<Float32Array> {
    const bytes = count === undefined ? undefined : count * 4;
    return new Float32Array(await this.readBytes(buf, bytes, offsetElems * 4));
  }

  /** Allocates a buffer in the arena and fills it from `data`. */
  upload(
    data: Float32Array | Int32Array | Uint32Array | Uint16Array,
    category: MemoryCategory,
    label: string,
  ): GpuBuf {
    const buf = this.arena.alloc(data.byteLength, category, label);
    // Uint16 (f16) data may be an odd count: pad to 4 bytes for writeBuffer.
    if (data.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.write(buf, padded);
    } else {
      this.write(buf, data);
    }
    return buf;
  }

  /**
   * Gives the arena's reuse pool back to the device (a run ended: the next may have other shapes), after
   * submitting recorded work, which may still name pooled buffers.
   */
  trimPool(): void {
    if (this.lost) return;
    this.flush();
    this.arena.trim();
  }

  destroy(): void {
    this.deferred = null;
    this.held = null;
    this.arena.destroyAll();
    this.uniformRing.destroy();
    this.device.destroy();
  }
}
