#!/usr/bin/env bash
# Read and acknowledge your deliveries with curl alone (and jq).
#   GOVBUS_GATEWAY_URL=https://gateway.example GOVBUS_API_KEY=gbk_... examples/curl.sh
set -euo pipefail
: "${GOVBUS_GATEWAY_URL:?}" "${GOVBUS_API_KEY:?}"
auth=(-H "X-API-Key: ${GOVBUS_API_KEY}")

# One page after your last ack (long-poll up to 5 s).
page=$(curl -fsS "${auth[@]}" "${GOVBUS_GATEWAY_URL}/v1/events?limit=100&wait=5")
echo "${page}" | jq -c '.events[] | {id, type, govbuscorrects, govbusamendment, data}'

# Handled? Then acknowledge the page's cursor: the next pull starts after it.
if [ "$(echo "${page}" | jq '.events | length')" -gt 0 ]; then
  cursor=$(echo "${page}" | jq -r .cursor)
  curl -fsS "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"cursor\": \"${cursor}\"}" "${GOVBUS_GATEWAY_URL}/v1/events/ack"
  echo "acked ${cursor}"
fi

# Or follow them live (server-sent events; reconnect with Last-Event-ID to resume):
#   curl -N "${auth[@]}" "${GOVBUS_GATEWAY_URL}/v1/events/stream"
