// Every registered fine-tuning method as a `grads` method (docs/METHODS.md "The gradient dump"): plan the
// adapter from `--set` options as a training run plans it, and write the adapter through Adapter.save, so
// the dump's adapter files are exactly those `train --out` writes (sparse's and rows' indices included)
// and each gradient is keyed as its tensor is saved.

import { Adapter, planAdapter } from '../peft/adapter';
import { listMethods } from '../peft/registry';
import type { GradsMethod, GradsMethodInput, GradsMethodSetup } from './grads';

export function registryGradsMethods(): Map<string, GradsMethod> {
  const out = new Map<string, GradsMethod>();
  for (const m of listMethods()) {
    out.set(m.info.name, {
      name: m.info.name,
      setup<S, I>(input: GradsMethodInput): GradsMethodSetup<S, I> {
        const raw = Object.fromEntries(input.options);
        const ctx = { tokenizer: input.tokenizer, tokenizerName: input.modelName };
        const plan = planAdapter(m, raw, input.config, input.base, input.seed, ctx);
        // The dump is taken with dropout off (docs/METHODS.md) while adapter_config.json keeps the value asked
        // for: the hooks come from the same plan with lora_dropout 0 (same seed, so the same initial values).
        const passive =
          Number(raw.lora_dropout ?? 0) > 0
            ? planAdapter(m, { ...raw, lora_dropout: 0 }, input.config, input.base, input.seed, ctx)
            : plan;
        const keys = new Map(plan.saved.map((name) => [name, name]));
        return {
          specs: plan.specs,
          keys,
          adapterConfig: {
            ...m.adapterConfig(plan.options, input.config),
            base_model_name_or_path: input.modelName,
          },
          attach: (ps) => {
            const running = new Adapter(m, passive, input.config, ps);
            return {
              hooks: running.hooks,
              // Saved from the plan as asked (its dropout in adapter_config.json), as training saves it.
              save: async () => {
                const saving = passive === plan ? running : new Adapter(m, plan, input.config, ps);
                try {
                  return (await saving.save(input.modelName)).files;
                } finally {
                  if (saving !== running) saving.dispose();
                }
              },
              dispose: () => running.dispose(),
            };
          },
        };
      },
    });
  }
  return out;
}
