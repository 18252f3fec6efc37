#!/bin/sh
# The production install, in one place: the Dockerfile runs it (/opt/nemobot) and .ci/run runs it
# into a fresh venv. A venv at VENV with the runtime dependencies from requirements.lock, every file
# checked against its sha256, then the project itself with no dependencies of its own: no extras,
# so no ffmpeg binary and no dev tools.
#   scripts/install.sh VENV           both steps
#   scripts/install.sh VENV deps      creates the venv, installs requirements.lock
#   scripts/install.sh VENV project   installs the project (the image runs the steps apart, so a
#                                     code change does not reinstall the dependencies)
# VENV is an absolute path; PYTHON picks the interpreter (python3); pip reads PIP_* (e.g. PIP_NO_CACHE_DIR).
set -eu
venv=${1:?usage: scripts/install.sh VENV [deps|project]}
step=${2:-all}
case $step in
all | deps | project) ;;
*)
  echo "scripts/install.sh: unknown step '$step' (deps or project)" >&2
  exit 2
  ;;
esac
cd "$(dirname "$0")/.."
if [ "$step" != project ]; then
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --require-hashes -r requirements.lock
fi
if [ "$step" != deps ]; then
  "$venv/bin/python" -m pip install --quiet --no-deps .
fi
