// The algorithm choice: SFT, or one of the RL algorithms (reward model, PPO, rejection sampling, DPO, GRPO)
// with its main options at TRL-like defaults (rl-spec.ts), and for the online ones the reward: a built-in
// one (sentiment, length target, regex, keywords, exact match), user JavaScript (a textarea; it runs in its
// own worker with a time limit), or a finished reward-model run of this session. Every method ticked below
// becomes one run of the chosen algorithm; the selected dataset's shape is checked against it here, before
// anything starts.
import { memo } from 'react';
import { rewardModelRuns } from '../app/rl';
import { useAppStore } from '../store';
import type { RlForm } from '../store/rl';
import { ALGORITHMS, type Algorithm, checkShape, ONLINE, type RewardForm } from '../worker/rl-spec';

const REWARDS: { value: RewardForm['kind']; label: string; arg?: string }[] = [
  { value: 'sentiment', label: 'positive sentiment (AFINN)' },
  { value: 'length', label: 'length target (words)', arg: 'words, e.g. 8' },
  { value: 'regex', label: 'regex matches', arg: 'pattern, e.g. good|fine' },
  { value: 'keywords', label: 'keywords', arg: 'comma-separated words' },
  { value: 'exact', label: 'exact match with the reference' },
  { value: 'js', label: 'JavaScript' },
  { value: 'model', label: 'reward model (a finished run)' },
];

/** A number field of the RL form; `nullable` fields are empty for null (e.g. "no target KL"). */
function Num<K extends 'ppo' | 'rs' | 'grpo' | 'dpo'>({
  group,
  field,
  label,
  title,
  nullable,
}: {
  group: K;
  field: keyof RlForm[K] & string;
  label: string;
  title?: string;
  nullable?: string;
}) {
  const current = useAppStore((s) => s.rlForm[group]);
  const value = current[field] as number | null;
  const setRlForm = useAppStore((s) => s.setRlForm);
  return (
    <label title={title}>
      {label}{' '}
      <input
        name={`rl-${group}-${field}`}
        type="number"
        step="any"
        placeholder={nullable}
        value={value ?? ''}
        onChange={(e) => {
          const v = e.target.value === '' && nullable ? null : Number(e.target.value);
          setRlForm({ [group]: { ...current, [field]: v } } as Partial<RlForm>);
        }}
      />
    </label>
  );
}

function AlgorithmOptions({ algo }: { algo: Algorithm }) {
  const kl = useAppStore((s) => s.rlForm.ppo.kl);
  const ppo = useAppStore((s) => s.rlForm.ppo);
  const setRlForm = useAppStore((s) => s.setRlForm);
  if (algo === 'ppo')
    return (
      <>
        <Num
          group="ppo"
          field="klCoef"
          label="KL coef"
          title="init_kl_coef: weight of the per-token KL penalty"
        />
        <Num
          group="ppo"
          field="targetKl"
          label="target KL"
          nullable="fixed coef"
          title="Adaptive KL controller's target (per sequence); empty: the coefficient stays fixed"
        />
        <label title="KL estimator: k1 = log-ratio, k3 = (r − 1) − log r (never negative)">
          KL estimator{' '}
          <select
            name="rl-ppo-kl"
            value={kl}
            onChange={(e) => setRlForm({ ppo: { ...ppo, kl: e.target.value as 'k1' | 'k3' } })}
          >
            <option value="k1">k1</option>
            <option value="k3">k3</option>
          </select>
        </label>
        <Num group="ppo" field="cliprange" label="clip" title="cliprange of the policy ratio" />
        <Num group="ppo" field="epochs" label="epochs" title="PPO epochs over each rollout batch" />
        <Num group="ppo" field="miniBatch" label="minibatch" title="the batch must be a multiple of it" />
      </>
    );
  if (algo === 'rs')
    return (
      <>
        <Num group="rs" field="n" label="n" title="samples per prompt" />
        <Num group="rs" field="keep" label="keep" title="best k per prompt kept for fine-tuning" />
        <Num
          group="rs"
          field="threshold"
          label="threshold"
          nullable="none"
          title="keep only samples scoring at least this"
        />
      </>
    );
  if (algo === 'grpo')
    return (
      <>
        <Num group="grpo" field="generations" label="generations" title="completions per prompt (a group)" />
        <Num group="grpo" field="beta" label="β" title="KL weight to the reference" />
      </>
    );
  if (algo === 'dpo') return <Num group="dpo" field="beta" label="β" title="DPO temperature β" />;
  return null;
}

function RewardFields() {
  const f = useAppStore((s) => s.rewardForm);
  const set = useAppStore((s) => s.setRewardForm);
  const models = useAppStore((s) =>
    rewardModelRuns(s.runs)
      .map((r) => `${r.spec.id}\t${r.spec.label}`)
      .join('\n'),
  );
  const arg = REWARDS.find((r) => r.value === f.kind)?.arg;
  return (
    <div className="reward" data-testid="reward-fields">
      <label>
        reward{' '}
        <select
          data-testid="reward-select"
          value={f.kind}
          onChange={(e) => set({ kind: e.target.value as RewardForm['kind'] })}
        >
          {REWARDS.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
      </label>{' '}
      {arg && (
        <input
          name="reward-arg"
          placeholder={arg}
          value={f.arg}
          size={18}
          onChange={(e) => set({ arg: e.target.value })}
        />
      )}
      {f.kind === 'model' && (
        <select
          data-testid="reward-model-select"
          value={f.modelRunId}
          onChange={(e) => set({ modelRunId: e.target.value })}
        >
          <option value="">
            {models ? 'choose a reward-model run' : 'no finished reward-model run yet'}
          </option>
          {(models ? models.split('\n') : []).map((l) => {
            const [id, label] = l.split('\t');
            return (
              <option key={id} value={id}>
                {label}
              </option>
            );
          })}
        </select>
      )}
      {f.kind === 'js' && (
        <div className="reward-code">
          <textarea
            data-testid="reward-code"
            rows={6}
            cols={80}
            spellCheck={false}
            value={f.code}
            onChange={(e) => set({ code: e.target.value })}
          />
          <label>
            time limit (ms){' '}
            <input
              name="reward-timeout"
              type="number"
              min={1}
              value={f.timeoutMs}
              onChange={(e) => set({ timeoutMs: Number(e.target.value) })}
            />
          </label>
        </div>
      )}
    </div>
  );
}

export const AlgorithmPanel = memo(function AlgorithmPanel() {
  const algo = useAppStore((s) => s.algorithm);
  const setAlgorithm = useAppStore((s) => s.setAlgorithm);
  const maxNewTokens = useAppStore((s) => s.rlForm.maxNewTokens);
  const temperature = useAppStore((s) => s.rlForm.temperature);
  const setRlForm = useAppStore((s) => s.setRlForm);
  const shape = useAppStore((s) => s.datasets.find((d) => d.id === s.selectedDatasetId)?.shape);
  const problem = shape ? checkShape(algo, shape) : null;
  return (
    <section className="panel" data-testid="algorithm-panel" data-algorithm={algo}>
      <h2>Algorithm</h2>
      <div className="hyper">
        <label>
          algorithm{' '}
          <select
            data-testid="algorithm-select"
            value={algo}
            onChange={(e) => setAlgorithm(e.target.value as Algorithm)}
          >
            {ALGORITHMS.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </label>
        {ONLINE.has(algo) && (
          <>
            <label title="tokens sampled per completion">
              max new tokens{' '}
              <input
                name="rl-maxNewTokens"
                type="number"
                min={1}
                value={maxNewTokens}
                onChange={(e) => setRlForm({ maxNewTokens: Number(e.target.value) })}
              />
            </label>
            <label title="sampling temperature of the rollouts">
              temperature{' '}
              <input
                name="rl-temperature"
                type="number"
                step="any"
                value={temperature}
                onChange={(e) => setRlForm({ temperature: Number(e.target.value) })}
              />
            </label>
          </>
        )}
        <AlgorithmOptions algo={algo} />
      </div>
      {ONLINE.has(algo) && <RewardFields />}
      <p className="note">
        {algo === 'sft'
          ? 'Supervised fine-tuning on the dataset.'
          : `Each method ticked below becomes one ${ALGORITHMS.find((a) => a.value === algo)?.label} run; steps, batch (prompts or pairs per step), lr and seed come from the hyperparameters.`}
      </p>
      {problem && (
        <p role="alert" className="error" data-testid="algorithm-shape">
          {problem}
        </p>
      )}
    </section>
  );
});
