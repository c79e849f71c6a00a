// The page shell, laid out as one screen (the TensorFlow Playground's "data, model and output side by
// side", an experiment tracker's "runs table beside overlaid curves"): a setup column on the left with
// Start at its top (model, data, algorithm, methods and settings scroll inside it), and the results on the
// right: run cards, the loss and memory charts side by side and the comparison table, which fit one
// 1280×720 viewport together while runs train; RL charts, rollouts, generation and the adapter box follow.
// DOM order is reading order, so Tab walks the setup column (Start first) and then the results. It starts
// the engine (the training worker) once and reads no fast-changing state itself, so metrics updates never
// re-render it.
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
import { ImportAdapter, RunCards } from './RunCards';
import { StartBar } from './StartBar';
import './playground.css';
import './layout.css';

export function App() {
  useEffect(() => {
    startEngine();
  }, []);
  return (
    <div className="app">
      <header className="topbar">
        <h1>PEFT Playground</h1>
        <p className="tagline">
          Fine-tune language models in the browser on WebGPU and compare parameter-efficient methods side by
          side.
        </p>
      </header>
      <div className="layout">
        {/* data-testid: the name predates this column (specs find the method rows and Start's refusal in it). */}
        <aside className="setup" aria-label="Setup" data-testid="method-picker">
          <StartBar />
          <ModelPanel />
          <DatasetPanel />
          <AlgorithmPanel />
          <MethodPicker />
          <ImportAdapter />
        </aside>
        <main className="results">
          <RunCards />
          <div className="charts-row">
            <LossChart />
            <MemoryChart />
          </div>
          <ComparisonTable />
          <div className="charts-row">
            <RewardChart />
            <KlChart />
          </div>
          <RolloutsPanel />
          <GeneratePanel />
          <GpuStatusPanel />
        </main>
      </div>
    </div>
  );
}
