#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml: run after changing a dependency there. Pins stay where they are
# unless a changed requirement moves them; `./scripts/lock.sh --upgrade` moves every pin to the newest release
# allowed (`--upgrade-package NAME` just one). Both files are resolved for every platform and Python >= 3.11
# (--universal) with each file's sha256 (--generate-hashes), from the package index pip and uv are set up with.
#   requirements/dev.txt     the core and every extra but bench: what serve.sh and test.sh install
#   requirements/server.txt  the core alone, at the same versions: the Docker image and a systemd install
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"  # .venv/bin/uv comes with the dev extra
common=(--universal --python-version 3.11 --generate-hashes --quiet
        --custom-compile-command ./scripts/lock.sh)
.venv/bin/uv pip compile pyproject.toml --extra dev --extra embedded --extra tui "${common[@]}" "$@" \
    --output-file requirements/dev.txt
.venv/bin/uv pip compile pyproject.toml --constraint requirements/dev.txt "${common[@]}" \
    --output-file requirements/server.txt
source scripts/bootstrap.sh  # and .venv now holds what the new lock says
