#!/usr/bin/env bash
# The real-GPU bundle's one command: finds the machine's Vulkan driver (a software GPU only when asked),
# runs bench.mjs on the bundle's own Node, and, where python3 can import torch, torch_ref.py on the same
# shapes and GPU. stdout: the bench's JSON lines (adapter first, the whole bench last), then PyTorch's
# lines, the ratios ours/torch last. Notes go to stderr. Every line is also kept in $RESULTS_DIR
# (default: results/ beside this file) as bench.jsonl and torch.jsonl.
#
#   ./run.sh [bench flags: --quick, --sizes 1024,2048, --no-gpt2, ...]
#   env: GPU_BUNDLE_SWIFTSHADER=1 (use a SwiftShader ICD found on the machine), VK_ICD_FILENAMES (yours
#        wins), PYTHON (default python3), GPU_BUNDLE_TORCH=0 (skip PyTorch), RESULTS_DIR.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_BIN="${NODE_BIN:-$HERE/bin/node}"
PYTHON="${PYTHON:-python3}"
RESULTS="${RESULTS_DIR:-$HERE/results}"
mkdir -p "$RESULTS"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
note() { echo "run.sh: $*" >&2; }

libs() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -F "$1" | head -n1; }
find_lib() { # a library by name: the linker cache, else the usual folders
  local hit
  hit="$(libs "$1 " | sed 's/.*=> //')"
  if [ -n "$hit" ]; then echo "$hit"; return; fi
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /lib64 /usr/local/nvidia/lib64; do
    if [ -e "$d/$1" ]; then echo "$d/$1"; return; fi
  done
}

if [ "${GPU_BUNDLE_SWIFTSHADER:-0}" = 1 ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/lib/chromium/vk_swiftshader_icd.json /usr/lib/chromium-browser/vk_swiftshader_icd.json \
    /opt/google/chrome/vk_swiftshader_icd.json; do
    if [ -f "$f" ]; then export VK_ICD_FILENAMES="$f"; break; fi
  done
  [ -n "${VK_ICD_FILENAMES:-}" ] || note "GPU_BUNDLE_SWIFTSHADER=1 but no SwiftShader ICD found"
fi

# Dawn loads the Vulkan loader (libvulkan.so.1) at run time; a GPU container may have none.
if [ -z "$(find_lib libvulkan.so.1)" ] && [ -f "$HERE/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  note "no system Vulkan loader: using the bundle's lib/libvulkan.so.1"
fi

# NVIDIA's Vulkan driver lives in libGLX_nvidia.so.0; a container given the driver's libraries but not
# its ICD manifest (nvidia_icd.json) gets one written here.
icd_dirs="/usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d"
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  has_nv_icd="$(grep -ls nvidia $(for d in $icd_dirs; do ls "$d"/*.json 2>/dev/null; done) /dev/null 2>/dev/null | head -n1)"
  glx_nv="$(find_lib libGLX_nvidia.so.0)"
  if [ -z "$has_nv_icd" ] && [ -n "$glx_nv" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx_nv" \
      >"$RESULTS/nvidia_icd.json"
    export VK_ICD_FILENAMES="$RESULTS/nvidia_icd.json"
    note "no NVIDIA ICD manifest: wrote $VK_ICD_FILENAMES for $glx_nv"
  elif [ -z "$has_nv_icd" ] && command -v nvidia-smi >/dev/null 2>&1; then
    note "an NVIDIA GPU but no libGLX_nvidia.so.0: this container has no Vulkan driver for it" \
      "(NVIDIA_DRIVER_CAPABILITIES must include 'graphics'); Dawn may find no adapter"
  fi
fi

if command -v nvidia-smi >/dev/null 2>&1; then
  note "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n1)"
fi
note "Vulkan ICD: ${VK_ICD_FILENAMES:-system default}; node: $("$NODE_BIN" --version 2>&1)"

"$NODE_BIN" "$HERE/bench.mjs" "$@" | tee "$RESULTS/bench.jsonl"
rc=${PIPESTATUS[0]}
# 3: the bench ran but a matmul output missed its float64 reference; the comparison is still worth having.
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
  note "bench.mjs failed (exit $rc)"
  exit "$rc"
fi

if [ "${GPU_BUNDLE_TORCH:-1}" != 0 ] && "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
  "$PYTHON" "$HERE/torch_ref.py" "$RESULTS/bench.jsonl" | tee "$RESULTS/torch.jsonl"
  trc=${PIPESTATUS[0]}
  [ "$trc" = 0 ] || { note "torch_ref.py failed (exit $trc)"; exit "$trc"; }
else
  note "no '$PYTHON' with torch: no PyTorch reference"
fi
exit "$rc"
