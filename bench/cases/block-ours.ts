// Our side of the transformer-block case: the model's own GPT-2 block (src/model/transformer.ts `block`)
// on the autograd tape, forward and backward with gradients for the input and every weight of the block,
// the same work TF.js does in block.ts, timed the same way (wall clock around a full sync).
import { parseModelConfig } from '../../src/formats/model-config';
import { randomModelParams } from '../../src/model/init';
import { block } from '../../src/model/transformer';
import { gpuBackend } from '../../src/tensor/gpu-backend';
import { ParamSet } from '../../src/tensor/params';
import { Tape, Tensor } from '../../src/tensor/tape';
import { gflops, measure } from '../timing';
import type { BlockConfig } from '../types';
import { type BenchEnv, randomF32 } from './env';

export async function oursBlockGflops(env: BenchEnv, c: BlockConfig, flops: number): Promise<number> {
  const { ctx } = env;
  const config = parseModelConfig({
    model_type: 'gpt2',
    vocab_size: 8,
    n_embd: c.d,
    n_layer: 1,
    n_head: c.heads,
    n_positions: c.T,
  });
  const be = gpuBackend(ctx);
  const ps = new ParamSet(
    be,
    randomModelParams(config, 1, (n) => n.startsWith('transformer.h.0.')),
  );
  const N = c.B * c.T * c.d;
  const x = be.upload(randomF32(N, 10), 'activations', 'bench.x');
  const dy = be.upload(randomF32(N, 11), 'activations', 'bench.dy');
  try {
    const t = await measure(async () => {
      const tp = new Tape(be, true);
      ps.zeroGrads();
      // The input needs its gradient too, as in TF.js's tf.grads over x and the weights.
      const xin = new Tensor([c.B * c.T, c.d], x, true, 'x');
      const y = block(tp, config, ps, xin, 0, { B: c.B, T: c.T, positions: null });
      tp.seedGrad(y, dy);
      tp.backward();
      await ctx.sync();
      tp.dispose(); // frees the activations and dx (the tape allocated it)
    }, env.timing);
    return gflops(flops, t.medianMs);
  } finally {
    be.free(x);
    be.free(dy);
    ps.dispose();
  }
}
