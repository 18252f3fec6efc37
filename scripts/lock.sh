#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml with uv (not a project dependency: pip install uv):
#   requirements.lock      the runtime dependencies of `pip install .` (what the image installs)
#   requirements-dev.lock  the dev extra (with demo), held to requirements.lock's versions
# Universal (any OS and CPU) for Python 3.11+, with the sha256 of every file; the project itself
# is not in them. Pins already in the files are kept unless pyproject.toml needs others; extra
# arguments go to uv, e.g. `scripts/lock.sh --upgrade` or `scripts/lock.sh --upgrade-package aiohttp`.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v uv >/dev/null 2>&1; then
  uv=(uv)
elif .venv/bin/python -m uv --version >/dev/null 2>&1; then
  uv=(.venv/bin/python -m uv)
else
  echo "scripts/lock.sh: needs uv: .venv/bin/pip install uv" >&2
  exit 1
fi

compile() {  # compile OUTPUT WHAT USE UV-ARGUMENTS... (the script's own arguments are added, not recorded)
  local out=$1 what=$2 use=$3
  shift 3
  local command=(pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 "$@" -o "$out")
  "${uv[@]}" "${command[@]}" --quiet --no-header "${extra[@]}"
  {
    echo "# $what, pinned with sha256 hashes for Python 3.11+ on any OS and CPU (not the project itself)."
    echo "# $use"
    echo "# Regenerate (after editing pyproject.toml): scripts/lock.sh   Update every pin: scripts/lock.sh --upgrade"
    echo "# It runs: uv ${command[*]}"
    cat "$out"
  } >"$out.tmp"
  mv "$out.tmp" "$out"
}

extra=("$@")
compile requirements.lock "The runtime dependencies of \`pip install .\`" \
  "Installed by scripts/install.sh (the image's and CI's production install): pip install --require-hashes -r requirements.lock"
compile requirements-dev.lock "The dev extra's dependencies (with demo), at requirements.lock's versions" \
  "Installed by .ci/run and the README's test command: pip install --require-hashes -r requirements-dev.lock" \
  --extra dev -c requirements.lock
