// The algorithm choice: SFT, or one of the RL algorithms (reward model, PPO, rejection sampling, DPO, GRPO)
// with its options as form fields generated from train/rl/options.ts (the table the CLI's flags come from:
// defaults, ranges, help), and for the online ones the reward: a built-in one (sentiment, length target,
// regex, keywords, exact match), user JavaScript (a textarea; it runs in its own worker with a time limit),
// or a finished reward-model run of this session. Every method ticked below
// becomes one run of the chosen algorithm; the selected dataset's shape is checked against it here, before
// anything starts.
import { memo } from 'react';
import { rewardModelRuns } from '../app/rl';
import { useAppStore } from '../store';
import { getRlOption, type RlOptionSpec, rlFieldName, rlOptionSpecs, setRlOption } from '../train/rl/options';
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

/**
 * One option of the RL form, generated from its entry in train/rl/options.ts: a select for a choice, else a
 * number input with the option's step and range; an option that may be null is empty for null (its
 * placeholder says what that means, e.g. "fixed coef").
 */
function OptionField({ o }: { o: RlOptionSpec }) {
  const value = useAppStore((s) => getRlOption(s.rlForm, o));
  const setRlForm = useAppStore((s) => s.setRlForm);
  const set = (v: number | string | null) => setRlForm(setRlOption(useAppStore.getState().rlForm, o, v));
  if (o.kind === 'enum')
    return (
      <label title={o.help}>
        {o.label}{' '}
        <select name={rlFieldName(o)} value={String(value)} onChange={(e) => set(e.target.value)}>
          {o.choices?.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
    );
  return (
    <label title={o.help}>
      {o.label}{' '}
      <input
        name={rlFieldName(o)}
        type="number"
        step={o.kind === 'int' ? 1 : 'any'}
        min={o.min}
        max={o.max}
        placeholder={o.nullable}
        value={value ?? ''}
        onChange={(e) => set(e.target.value === '' && o.nullable ? null : Number(e.target.value))}
      />
    </label>
  );
}

/** The chosen algorithm's options, in the table's order (sampling first for the online ones). */
function AlgorithmOptions({ algo }: { algo: Algorithm }) {
  if (algo === 'sft') return null;
  return (
    <>
      {rlOptionSpecs(algo).map((o) => (
        <OptionField key={`${o.group}.${o.key}`} o={o} />
      ))}
    </>
  );
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
        <AlgorithmOptions algo={algo} />
      </div>
      {ONLINE.has(algo) && <RewardFields />}
      <p className="note">
        {algo === 'sft'
          ? 'Supervised fine-tuning on the dataset.'
          : `Each method ticked below becomes one ${ALGORITHMS.find((a) => a.value === algo)?.label} run; steps, batch (prompts or pairs per step), lr and seed come from the hyperparameters.`}
      </p>
      {problem && (
        // A status, not an alert: it is a warning about the form; Start's refusal is the alert.
        <p role="status" className="error" data-testid="algorithm-shape">
          {problem}
        </p>
      )}
    </section>
  );
});
