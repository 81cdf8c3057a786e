#!/usr/bin/env bash
# GPU throughput check of the hf backend, in one command, on a machine with an NVIDIA GPU
# and no network: sequential (batch 1) vs batched generation on a randomly initialised
# model of the default model's architecture (no weights needed). See scripts/gpu_check.py.
#
#   scripts/gpu-check.sh                      # ~5 minutes on one GPU; JSON to $OUT if set
#   scripts/gpu-check.sh --batch-sizes 64     # extra options go to gpu_check.py
#
# LAST RUN ON A GPU: never yet. The session that wrote it (2026-12-04) was lent no GPU
# machine; only the CPU smoke run (--device cpu --prompts 4 --new-tokens 8 --layers 2) has
# run, in the tests. Put the figures here (prompts/hour and tokens/s, sequential vs
# batched, and the ratio) the first time it runs on a GPU.
#
# Needs python3 with torch, transformers and accelerate (bitsandbytes optional: 4-bit).
# The project itself is not pip-installed; src/ is put on sys.path. Its one runtime
# dependency on that path, pydantic, may be missing: then carry its wheels in .whl/
# (or $GPU_CHECK_WHEELS), made on a machine with network, e.g.
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#     pydantic pydantic-core annotated-types typing-inspection typing-extensions
# and they are installed into a temporary folder before the check runs.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c "import pydantic" >/dev/null 2>&1; then
    wheels="${GPU_CHECK_WHEELS:-.whl}"
    if compgen -G "$wheels/*.whl" >/dev/null; then
        site="$(mktemp -d /tmp/gpu-check-site.XXXXXX)"
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --upgrade --target "$site" "$wheels"/*.whl
        export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    else
        echo "gpu-check: pydantic is not importable by $PYTHON and there are no wheels in" \
             "$wheels/ to install it from (see the header of $0)" >&2
        exit 2
    fi
fi

for module in torch transformers accelerate; do
    if ! "$PYTHON" -c "import $module" >/dev/null 2>&1; then
        echo "gpu-check: $PYTHON cannot import $module; this check needs torch," \
             "transformers and accelerate" >&2
        exit 2
    fi
done

export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1
exec "$PYTHON" scripts/gpu_check.py "$@"
