# Sourced by serve.sh and test.sh: make sure .venv exists and holds this project and its dev tools.
# The packages come from the lock file (requirements/dev.txt: exact versions, sha256-checked), then the
# project itself is installed on top with --no-deps, so every machine gets the same set. Re-installs only
# when pyproject.toml or the lock changed since the last install. Refresh the lock: ./scripts/lock.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
LOCK=requirements/dev.txt
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
STAMP=.venv/.chatd-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ "$LOCK" -nt "$STAMP" ]; then
    .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r "$LOCK"
    .venv/bin/python -m pip install --quiet --no-deps -e .
    touch "$STAMP"
fi
