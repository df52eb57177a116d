#!/usr/bin/env bash
# Create a virtual environment and install prunebench (and the NNI pruner plugin) into it.
#   usage: bash scripts/setup.sh VENV_DIR [EXTRAS]      e.g. bash scripts/setup.sh .venv dev,ray
# torch is installed first, pinned, so that nothing pulls a multi-GB CUDA build: set PRUNEBENCH_TORCH to
# another requirement (e.g. "torch==2.5.1") or PIP_EXTRA_INDEX_URL to a CPU wheel index on other machines.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
extras="${2:-}"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "prunebench needs Python >= 3.10")'
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip
"${pip[@]}" "${PRUNEBENCH_TORCH:-torch==2.13.0}"
"${pip[@]}" -e ".${extras:+[$extras]}" -e plugins/prunebench-nni
echo "prunebench installed in $venv: $("$venv/bin/prunebench" --version)"
