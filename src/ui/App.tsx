// The page shell: header, the GPU adapter box and the playground's panels (model, dataset, methods,
// runs, charts, comparison, generation). It starts the engine (the training worker) once and lays the page out;
// it reads no fast-changing state itself, so metrics updates never re-render it.
import { useEffect } from 'react';
import { startEngine } from '../app/engine';
import { AlgorithmPanel } from './AlgorithmPanel';
import { LossChart, MemoryChart } from './Charts';
import { ComparisonTable } from './ComparisonTable';
import { DatasetPanel } from './DatasetPanel';
import { GeneratePanel } from './GeneratePanel';
import { GpuStatusPanel } from './GpuStatusPanel';
import { MethodPicker } from './MethodPicker';
import { ModelPanel } from './ModelPanel';
import { KlChart, RewardChart, RolloutsPanel } from './RlCharts';
import { RunCards } from './RunCards';
import './playground.css';

export function App() {
  useEffect(() => {
    startEngine();
  }, []);
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
        <ModelPanel />
        <DatasetPanel />
        <AlgorithmPanel />
        <MethodPicker />
        <RunCards />
        <LossChart />
        <RewardChart />
        <KlChart />
        <RolloutsPanel />
        <MemoryChart />
        <ComparisonTable />
        <GeneratePanel />
      </main>
    </div>
  );
}
