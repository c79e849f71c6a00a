// The adapter box: which GPU the playground runs on (or why there is none), its optional features and the
// limits that bound model size. Reads the gpu slice only; the training worker acquires the devices.
import { formatBytes } from '../gpu/errors';
import { type GpuInfo, SHOWN_LIMITS, type ShownLimit } from '../gpu/summary';
import { useAppStore } from '../store';

const LIMIT_LABELS: Record<ShownLimit, string> = {
  maxBufferSize: 'max buffer',
  maxStorageBufferBindingSize: 'max storage binding',
  maxComputeWorkgroupStorageSize: 'workgroup memory',
  maxComputeInvocationsPerWorkgroup: 'invocations / workgroup',
  maxComputeWorkgroupsPerDimension: 'workgroups / dimension',
  maxStorageBuffersPerShaderStage: 'storage buffers / stage',
};

// Byte-sized limits read better as KiB/MiB/GiB; the rest are counts.
const BYTE_LIMITS = new Set<ShownLimit>([
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
]);

function Feature({ name, on }: { name: string; on: boolean }) {
  return (
    <li className={on ? 'feature on' : 'feature off'} data-feature={name} data-on={on}>
      {on ? '✓' : '✗'} {name}
    </li>
  );
}

function AdapterDetails({ info }: { info: GpuInfo }) {
  const { adapter, features, limits } = info;
  const vendorArch = [adapter.vendor, adapter.architecture].filter(Boolean).join(' / ');
  return (
    <>
      <h2 data-testid="gpu-description">{adapter.description}</h2>
      <dl className="kv">
        <dt>vendor / architecture</dt>
        <dd>{vendorArch || 'not reported'}</dd>
        <dt>kind</dt>
        <dd data-testid="gpu-kind">{adapter.software ? 'software (CPU emulation)' : 'hardware'}</dd>
        <dt>runtime</dt>
        <dd>{adapter.runtime}</dd>
      </dl>
      <ul className="features">
        <Feature name="shader-f16" on={features.shaderF16} />
        <Feature name="subgroups" on={features.subgroups} />
        <Feature name="timestamp-query" on={features.timestampQuery} />
      </ul>
      <dl className="kv limits">
        {SHOWN_LIMITS.map((name) => (
          <div key={name} title={name}>
            <dt>{LIMIT_LABELS[name]}</dt>
            <dd>{BYTE_LIMITS.has(name) ? formatBytes(limits[name]) : limits[name].toLocaleString('en')}</dd>
          </div>
        ))}
      </dl>
      {adapter.notes.length > 0 && (
        <ul className="notes">
          {adapter.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
    </>
  );
}

export function GpuStatusPanel() {
  const gpu = useAppStore((s) => s.gpu);
  return (
    <section className="panel gpu-status" data-testid="gpu-status" data-state={gpu.state}>
      {gpu.state === 'ready' && <AdapterDetails info={gpu.info} />}
      {gpu.state === 'idle' && <p>Looking for a WebGPU adapter…</p>}
      {gpu.state === 'error' && (
        <div role="alert">
          <h2>{gpu.name === 'NoWebGpuError' ? 'No WebGPU here' : 'The GPU could not be started'}</h2>
          <p data-testid="gpu-error">{gpu.message}</p>
        </div>
      )}
    </section>
  );
}
