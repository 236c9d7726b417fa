#!/usr/bin/env bash
# Install what is missing, then run the server. With no CHAT_DATABASE_URL / CHAT_REDIS_URL it starts an
# embedded Postgres and Redis under $CHAT_DATA_DIR (default ./.chatd-data) and prints the websocket URL.
source "$(dirname "$0")/bootstrap.sh"
exec .venv/bin/chatd "$@"
