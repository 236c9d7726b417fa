#!/usr/bin/env bash
# Install what is missing, then run the whole test suite. With CHAT_TEST_DATABASE_URL / CHAT_TEST_REDIS_URL
# set it uses those servers; otherwise it starts an embedded Postgres and Redis for the run.
source "$(dirname "$0")/bootstrap.sh"
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
