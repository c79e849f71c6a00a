// The page's handle on the training worker: starts it, types what goes in and out, and moves
// dataset ArrayBuffers instead of copying them. Holds no state; the store applies what comes back.
import type { FromWorker, ToWorker } from './protocol';

export class TrainingClient {
  private readonly worker: Worker;

  constructor(onMessage: (m: FromWorker) => void, onCrash: (message: string) => void) {
    this.worker = new Worker(new URL('./train.worker.ts', import.meta.url), {
      type: 'module',
      name: 'training',
    });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
    this.worker.onerror = (e) => onCrash(e.message || 'the training worker failed to start');
  }

  send(m: ToWorker): void {
    const transfer: Transferable[] = [];
    if (m.type === 'addDataset') transfer.push(m.bytes);
    // Dropped model files go as File objects: cloned by reference, read in the worker only.
    this.worker.postMessage(m, transfer);
  }

  terminate(): void {
    this.worker.terminate();
  }
}
