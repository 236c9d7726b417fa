#!/bin/sh
# Write deploy/.env for compose.yaml: fresh secrets that both chatd processes share (the JWT secret, the VAPID
# key) and the Postgres and Redis passwords. Run once from anywhere; an existing deploy/.env is kept, since
# new secrets would sign every user out and orphan every push subscription. Needs docker (it builds the image
# and asks chatd itself for a valid VAPID key).
set -eu
cd "$(dirname "$0")/.."
if [ -e deploy/.env ]; then
    echo "deploy/.env exists; not replacing its secrets (delete it first to start over)" >&2
    exit 1
fi
docker build -f deploy/Dockerfile -t chatd:local .
umask 077
trap 'rm -f deploy/.env.tmp' EXIT
docker run --rm --network none chatd:local python -c '
import secrets
from chatd.runtime.config import new_vapid_key
print("# made by deploy/make-env.sh: keep this file private, and keep it (new secrets sign everyone out)")
print(f"CHAT_JWT_SECRET={secrets.token_urlsafe(48)}")
print(f"CHAT_PUSH_VAPID_KEY={new_vapid_key()}")
print(f"POSTGRES_PASSWORD={secrets.token_hex(24)}")
print(f"REDIS_PASSWORD={secrets.token_hex(24)}")
' > deploy/.env.tmp
mv deploy/.env.tmp deploy/.env
echo "wrote deploy/.env; now: docker compose -f deploy/compose.yaml up -d"
