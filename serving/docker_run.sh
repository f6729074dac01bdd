#!/usr/bin/env bash
# Serve the exports under MODELS_DIR with the official TF Serving image, pinned to the TF
# minor of the export (2.21): an older server fails with "Op type not registered".
# REST on 8501, gRPC on 8500. Usage: serving/docker_run.sh /path/to/models
# Stop it with `docker stop` (SIGKILL after 10 s: the image's entrypoint, a bash script
# running as PID 1, ignores SIGTERM and Ctrl-C; serving#1853).
set -euo pipefail
MODELS_DIR="${1:?usage: $0 MODELS_DIR (holding models.config, batching_parameters.txt and one dir per model)}"
# The files the flags below name, checked here: a missing one failed only inside the container
# (TF Serving's startup error in its log). The directory is made absolute: Docker before 23.0
# refuses a relative bind source ("mount path must be absolute").
for file in models.config batching_parameters.txt; do
  if [[ ! -f "${MODELS_DIR}/${file}" ]]; then
    echo "$0: ${MODELS_DIR}/${file}: no such file (copy it from serving/ and adjust it)" >&2
    exit 2
  fi
done
MODELS_DIR="$(cd "${MODELS_DIR}" && pwd -P)"
docker run --rm \
  -p 8501:8501 -p 8500:8500 \
  --mount "type=bind,source=${MODELS_DIR},target=/models,readonly" \
  tensorflow/serving:2.21.0 \
  --model_config_file=/models/models.config \
  --model_config_file_poll_wait_seconds=60 \
  --file_system_poll_wait_seconds=1 \
  --enable_batching=true \
  --batching_parameters_file=/models/batching_parameters.txt \
  --rest_api_num_threads=16 \
  --rest_api_timeout_in_ms=30000
