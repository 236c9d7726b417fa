#!/usr/bin/env bash
# Install what is missing, then run the server. With no CHAT_DATABASE_URL / CHAT_REDIS_URL it starts an
# embedded Postgres and Redis under $CHAT_DATA_DIR (default ./.chatd-data) and prints the websocket URL.
# The web client (web/, served by the HTTP side) is built first when web/dist is missing and npm is there.
source "$(dirname "$0")/bootstrap.sh"
if [ ! -f web/dist/index.html ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "serve.sh: building the web client (web/dist)..."
        if ! (cd web && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build); then
            echo "serve.sh: note: the web client build failed; starting the server without it"
        fi
    else
        echo "serve.sh: note: npm is not installed, so the web client (web/) is not built;" \
             "the server starts anyway (see README, 'Web client')"
    fi
fi
exec .venv/bin/chatd "$@"
