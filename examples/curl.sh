#!/usr/bin/env bash
# Read, acknowledge, replay and follow your deliveries with curl alone (and jq).
#   GOVBUS_GATEWAY_URL=https://gateway.example GOVBUS_API_KEY=gbk_... examples/curl.sh
# Optional: REPLAY_FROM=2026-12-01T00:00:00Z also re-reads what was delivered since then;
# FOLLOW_S=60 follows the live stream for that long (unset: until you interrupt it).
set -euo pipefail
: "${GOVBUS_GATEWAY_URL:?}" "${GOVBUS_API_KEY:?}"
auth=(-H "X-API-Key: ${GOVBUS_API_KEY}")

# 1. One page after your last ack (long-poll up to 5 s): CloudEvents JSON, oldest first.
#    `id` is your own delivery id of the event; a correction or retraction names, in
#    `govbuscorrects`, your delivery id of the event it amends.
page=$(curl -fsS "${auth[@]}" "${GOVBUS_GATEWAY_URL}/v1/events?limit=100&wait=5")
echo "${page}" | jq -c '.events[] | {id, type, govbuscorrects, govbusamendment, data}'

# 2. Handled? Then acknowledge the page's cursor: the next pull starts after it.
if [ "$(echo "${page}" | jq '.events | length')" -gt 0 ]; then
  cursor=$(echo "${page}" | jq -r .cursor)
  curl -fsS "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"cursor\": \"${cursor}\"}" "${GOVBUS_GATEWAY_URL}/v1/events/ack"
  echo "acked ${cursor}"
fi

# 3. Replay: read again from a time (RFC 3339); your ack does not move.
if [ -n "${REPLAY_FROM:-}" ]; then
  curl -fsS -G "${auth[@]}" --data-urlencode "from_time=${REPLAY_FROM}" -d limit=100 \
    "${GOVBUS_GATEWAY_URL}/v1/events" | jq -c '.events[] | {replayed: .id, type}'
fi

# 4. Follow live: server-sent events after your last ack, each an `event: govbus.delivery`
#    whose `id:` is the cursor after it (ack it as in 2; to resume there after a
#    disconnect, reconnect with -H "Last-Event-ID: <that id>"). A revoked key ends the
#    stream with an `event: govbus.error`.
follow=()
if [ -n "${FOLLOW_S:-}" ]; then
  follow=(--max-time "${FOLLOW_S}")
fi
curl -fsSN "${auth[@]}" "${follow[@]}" "${GOVBUS_GATEWAY_URL}/v1/events/stream" \
  || [ $? -eq 28 ] # 28: FOLLOW_S ran out, as asked
