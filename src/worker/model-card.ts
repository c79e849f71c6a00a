// The README.md model card that goes with an exported adapter: what the Hub shows for a PEFT adapter folder
// (base model and library in the YAML front matter), then how it was trained (method and its options, the
// dataset, the steps) and what it measured (last train and eval loss, exact match), so the folder alone says
// where it came from.
import type { ExportFacts, RunSpec } from './protocol';

const fmt = (x: number | null | undefined, digits = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? 'not measured' : x.toFixed(digits);

/** The model card's Markdown for an adapter of `spec`'s run on `baseModel`. */
export function adapterModelCard(baseModel: string, spec: RunSpec, facts: ExportFacts | undefined): string {
  const c = spec.config;
  const options = Object.entries(c.options ?? {})
    .map(([k, v]) => `| ${k} | ${JSON.stringify(v)} |`)
    .join('\n');
  const em = facts?.exactMatch;
  return [
    '---',
    `base_model: ${JSON.stringify(baseModel)}`,
    'library_name: peft',
    '---',
    '',
    `# ${facts?.name ?? spec.label}`,
    '',
    `A ${c.method} adapter of \`${baseModel}\`, trained in the PEFT playground${spec.rl ? ` (${spec.rl.algo})` : ''}.`,
    '',
    '## Training',
    '',
    `- Base model: \`${baseModel}\``,
    `- Method: ${c.method}`,
    `- Dataset: ${facts?.dataset ?? spec.datasetId}`,
    `- Steps: ${facts?.steps ?? c.steps}`,
    `- Learning rate: ${c.lr}, batch ${c.batch}, sequence length ${c.seqLen}, seed ${c.seed}`,
    '',
    '| option | value |',
    '| --- | --- |',
    options || '| (defaults) | |',
    '',
    '## Results',
    '',
    `- Final train loss: ${fmt(facts?.trainLoss)}`,
    `- Final eval loss: ${fmt(facts?.evalLoss)}`,
    `- Exact match (eval split): ${em === null || em === undefined ? 'not measured' : `${(em * 100).toFixed(1)}%`}`,
    '',
    '## Use',
    '',
    '```python',
    'from peft import PeftModel',
    'from transformers import AutoModelForCausalLM',
    '',
    `base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(baseModel)})`,
    `model = PeftModel.from_pretrained(base, ${JSON.stringify(`./${facts?.name ?? spec.label}`)})`,
    '```',
    '',
  ].join('\n');
}
