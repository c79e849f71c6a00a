// The page shell: header and the GPU adapter box. The playground's panels (datasets, method picker,
// runs, charts) are added here by their owners; this file only lays the page out.
import { useEffect } from 'react';
import { useAppStore } from '../store';
import { GpuStatusPanel } from './GpuStatusPanel';

export function App() {
  const acquireGpu = useAppStore((s) => s.acquireGpu);
  useEffect(() => {
    void acquireGpu();
  }, [acquireGpu]);
  return (
    <div className="app">
      <header>
        <h1>PEFT Playground</h1>
        <p className="tagline">
          Fine-tune language models in the browser on WebGPU and compare parameter-efficient methods side by
          side.
        </p>
      </header>
      <main>
        <GpuStatusPanel />
      </main>
    </div>
  );
}
