#!/usr/bin/env bash
# Creates the secret files compose.yaml mounts (deploy/secrets/, git-ignored). Existing files
# are kept, so running it again never rotates a key by accident. The directory is private
# (0700); the files are 0644 because compose bind-mounts them into containers that run as
# the unprivileged user 10001.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
new() { [ -s "$dir/$1" ] || { umask 022; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/$1"; echo "created $1"; }; }
new pg_password
new pseudonym_key
new subject_key
new delivery_id_key
new api_key_pepper
# The federation bridge's key is issued by the peer province, not made here: an empty file
# until then (the bridge refuses to start without a key; nothing else reads it).
[ -e "$dir/peer_api_key" ] || { umask 022; : > "$dir/peer_api_key"; echo "created peer_api_key (empty)"; }
[ -s "$dir/pg_dsn" ] || { umask 022; printf 'postgresql://govbus:%s@postgres:5432/govbus' "$(cat "$dir/pg_password")" > "$dir/pg_dsn"; echo "created pg_dsn"; }
