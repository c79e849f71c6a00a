// Every registered fine-tuning method as a `grads` method (METHODS.md "The gradient dump"): plan the
// adapter from `--set` options, save each trainable tensor under its PEFT key (base tensors a selective
// method trains keep the checkpoint's own spelling), and write the method's adapter_config.json.

import { Adapter, planAdapter } from '../peft/adapter';
import { listMethods } from '../peft/registry';
import type { GradsMethod, GradsMethodInput, GradsMethodSetup } from './grads';

export function registryGradsMethods(): Map<string, GradsMethod> {
  const out = new Map<string, GradsMethod>();
  for (const m of listMethods()) {
    if (m.info.name === 'full') continue; // grads.ts's own `full` keeps the checkpoint's keys and config
    out.set(m.info.name, {
      name: m.info.name,
      setup<S, I>(input: GradsMethodInput): GradsMethodSetup<S, I> {
        const raw = Object.fromEntries(input.options);
        const ctx = { tokenizer: input.tokenizer, tokenizerName: input.modelName };
        const plan = planAdapter(m, raw, input.config, input.base, input.seed, ctx);
        // The dump is taken with dropout off (METHODS.md) while adapter_config.json keeps the value asked
        // for: the hooks come from the same plan with lora_dropout 0 (same seed, so the same initial values).
        const passive =
          Number(raw.lora_dropout ?? 0) > 0
            ? planAdapter(m, { ...raw, lora_dropout: 0 }, input.config, input.base, input.seed, ctx)
            : plan;
        const keys = new Map<string, string>();
        for (const name of plan.saved)
          keys.set(name, plan.baseNames.has(name) ? (input.checkpointKeys.get(name) ?? name) : name);
        return {
          specs: plan.specs,
          keys,
          adapterConfig: {
            ...m.adapterConfig(plan.options, input.config),
            base_model_name_or_path: input.modelName,
          },
          hooks: (ps) => new Adapter(m, passive, input.config, ps).hooks,
        };
      },
    });
  }
  return out;
}
