// accelerate/: one config per way of spreading the run (one GPU, DDP, FSDP, DeepSpeed ZeRO-2 and ZeRO-3) and
// launch.sh, which runs `accelerate launch` with the chosen one and the node/rank variables for several nodes.
// The values are Accelerate's config-file keys; GPUs per node and nodes come from the environment at launch.
import type { RecipeFile } from './types';

const COMMON = `compute_environment: LOCAL_MACHINE
debug: false
downcast_bf16: 'no'
machine_rank: 0
main_training_function: main
mixed_precision: 'no'
num_machines: 1
rdzv_backend: static
same_network: true
tpu_env: []
tpu_use_cluster: false
tpu_use_sudo: false
use_cpu: false
`;

export function accelerateFiles(): RecipeFile[] {
  return [
    {
      path: 'accelerate/single_gpu.yaml',
      text: `# One GPU, no distribution.\n${COMMON}distributed_type: 'NO'\ngpu_ids: '0'\nnum_processes: 1\n`,
    },
    {
      path: 'accelerate/multi_gpu.yaml',
      text: `# Data parallel (DDP): one process per GPU; launch.sh sets the process count.\n${COMMON}distributed_type: MULTI_GPU\ngpu_ids: all\nnum_processes: 8\n`,
    },
    {
      path: 'accelerate/fsdp.yaml',
      text: `# Fully sharded data parallel: parameters, gradients and optimizer state sharded over the GPUs.\n${COMMON}distributed_type: FSDP\nnum_processes: 8\nfsdp_config:\n  fsdp_version: 2\n  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP\n  fsdp_cpu_ram_efficient_loading: true\n  fsdp_offload_params: false\n  fsdp_reshard_after_forward: true\n  fsdp_state_dict_type: FULL_STATE_DICT\n  fsdp_activation_checkpointing: false\n`,
    },
    {
      path: 'accelerate/deepspeed_zero2.yaml',
      text: `# DeepSpeed ZeRO stage 2: optimizer state and gradients sharded.\n${COMMON}distributed_type: DEEPSPEED\nnum_processes: 8\ndeepspeed_config:\n  deepspeed_multinode_launcher: standard\n  offload_optimizer_device: none\n  offload_param_device: none\n  zero3_init_flag: false\n  zero_stage: 2\n`,
    },
    {
      path: 'accelerate/deepspeed_zero3.yaml',
      text: `# DeepSpeed ZeRO stage 3: parameters sharded too.\n${COMMON}distributed_type: DEEPSPEED\nnum_processes: 8\ndeepspeed_config:\n  deepspeed_multinode_launcher: standard\n  offload_optimizer_device: none\n  offload_param_device: none\n  zero3_init_flag: true\n  zero3_save_16bit_model: true\n  zero_stage: 3\n`,
    },
    {
      path: 'accelerate/launch.sh',
      text: `#!/usr/bin/env bash
# Runs train.py with one of the accelerate configs beside this file.
#   accelerate/launch.sh [single_gpu|multi_gpu|fsdp|deepspeed_zero2|deepspeed_zero3]
# Several nodes: run it on every node with the same MAIN_ADDR/MAIN_PORT and NNODES, and NODE_RANK 0..NNODES-1
# (under Slurm these default to the job's values).
set -euo pipefail
HERE="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
CONFIG="\${1:-single_gpu}"
NNODES="\${NNODES:-\${SLURM_NNODES:-1}}"
NODE_RANK="\${NODE_RANK:-\${SLURM_NODEID:-0}}"
GPUS_PER_NODE="\${GPUS_PER_NODE:-$(python3 -c 'import torch; print(max(1, torch.cuda.device_count()))')}"
MAIN_ADDR="\${MAIN_ADDR:-127.0.0.1}"
MAIN_PORT="\${MAIN_PORT:-29500}"
if [ "$CONFIG" = single_gpu ]; then NNODES=1; GPUS_PER_NODE=1; fi
exec accelerate launch \\
  --config_file "$HERE/$CONFIG.yaml" \\
  --num_machines "$NNODES" \\
  --machine_rank "$NODE_RANK" \\
  --num_processes "$((NNODES * GPUS_PER_NODE))" \\
  --main_process_ip "$MAIN_ADDR" \\
  --main_process_port "$MAIN_PORT" \\
  "$HERE/../train.py"
`,
    },
  ];
}
