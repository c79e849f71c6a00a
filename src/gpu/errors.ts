// Errors the GPU layer raises. Each one says what happened and what to try, in words a user can act on;
// the UI and CLI show `message` as is.

/** A WGSL kernel failed to compile or a dispatch failed validation; names the kernel. */
export class GpuKernelError extends Error {
  constructor(
    readonly kernel: string,
    detail: string,
  ) {
    super(`GPU kernel "${kernel}" failed: ${detail}`);
    this.name = 'GpuKernelError';
  }
}

/** The GPU device is gone (driver reset, tab backgrounded too long, destroyed). */
export class GpuDeviceLostError extends Error {
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {
    super(
      `The GPU device was lost (${deviceLostWhy(reason, detail)}). ` +
        'Work finished before this point is kept; reload the page (or restart the command) to get a new device.',
    );
    this.name = 'GpuDeviceLostError';
  }
}

/** Why a device went, as the messages say it: the reason, then the driver's detail where there is one. */
export function deviceLostWhy(reason: string, detail: string): string {
  return `${reason}${detail ? `: ${detail}` : ''}`;
}

/** An allocation the device refused, or one that would pass the adapter's limits. */
export class GpuOutOfMemoryError extends Error {
  constructor(
    readonly label: string,
    readonly bytes: number,
    detail: string,
  ) {
    super(
      `Out of GPU memory allocating "${label}" (${formatBytes(bytes)}): ${detail}. ` +
        'Try a smaller batch or sequence length, a parameter-efficient method, or fewer concurrent runs.',
    );
    this.name = 'GpuOutOfMemoryError';
  }
}

/** No WebGPU at all: explains how to get it. */
export class NoWebGpuError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'NoWebGpuError';
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
