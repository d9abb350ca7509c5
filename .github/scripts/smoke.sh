#!/usr/bin/env bash
# Smoke test of a running articlesd stack (docker compose up), through its public ports.
#
# Usage:
#   docker compose up -d --build --wait --wait-timeout 300
#   .github/scripts/smoke.sh             # the API round trip, then the observability stack
#   .github/scripts/smoke.sh --api-only  # only the API round trip (e.g. against `go run . serve`)
#
# The API round trip creates an article (201), reads it back (200, same title), finds it
# by a word of its title through /articles/search, deletes it (200) and reads it again
# (404). The stack checks: Prometheus reports its `articlesd` target up (polled up to
# PROMETHEUS_TIMEOUT seconds), and Grafana, Loki and Tempo answer their health endpoints
# (each polled up to STACK_TIMEOUT seconds).
#
# Addresses (defaults: the ports in .env on localhost):
#   API_URL=http://localhost:8080  PROMETHEUS_URL=http://localhost:9090
#   GRAFANA_URL=http://localhost:3001  LOKI_URL=http://localhost:3100
#   TEMPO_URL=http://localhost:3200
#   PROMETHEUS_TIMEOUT=60  STACK_TIMEOUT=120
#   API_TOKEN=...  (optional) sent as "Authorization: Bearer ..." with every API request,
#                  for a server whose writes need a token
#
# Needs bash, curl and jq. Exits 0 when every check passes; otherwise prints which check
# failed (with the response it got) and exits 1.
set -euo pipefail

API_URL=${API_URL:-http://localhost:8080}
PROMETHEUS_URL=${PROMETHEUS_URL:-http://localhost:9090}
GRAFANA_URL=${GRAFANA_URL:-http://localhost:3001}
LOKI_URL=${LOKI_URL:-http://localhost:3100}
TEMPO_URL=${TEMPO_URL:-http://localhost:3200}
PROMETHEUS_TIMEOUT=${PROMETHEUS_TIMEOUT:-60}
STACK_TIMEOUT=${STACK_TIMEOUT:-120}
API_TOKEN=${API_TOKEN:-}

api_only=false
case "${1:-}" in
  "") ;;
  --api-only) api_only=true ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
    ;;
  *)
    echo "usage: $0 [--api-only]" >&2
    exit 2
    ;;
esac

for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "smoke: $tool is required" >&2; exit 2; }
done

log() { printf '==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() {
  printf 'SMOKE TEST FAILED: %s\n' "$1" >&2
  if [ $# -gt 1 ] && [ -n "$2" ]; then
    printf '  response: %s\n' "$2" >&2
  fi
  exit 1
}

body_file=$(mktemp)
err_file=$(mktemp)
trap 'rm -f "$body_file" "$err_file"' EXIT

# request METHOD URL [JSON]: sets STATUS and BODY; never fails on an HTTP error status.
request() {
  local method=$1 url=$2 data=${3:-}
  local args=(-sS -o "$body_file" -w '%{http_code}' -X "$method" --max-time 10)
  if [ -n "$data" ]; then
    args+=(-H 'Content-Type: application/json' --data "$data")
  fi
  if [ -n "$API_TOKEN" ] && [[ "$url" == "$API_URL"/* ]]; then
    args+=(-H "Authorization: Bearer $API_TOKEN")
  fi
  : >"$body_file"
  local rc=0
  STATUS=$(curl "${args[@]}" "$url" 2>"$err_file") || rc=$?
  if [ "$rc" -ne 0 ]; then
    STATUS=000
    BODY="no answer from $method $url: $(tr '\n' ' ' <"$err_file")"
  else
    BODY=$(cat "$body_file")
  fi
}

expect_status() {
  local want=$1 what=$2
  [ "$STATUS" = "$want" ] || fail "$what: expected HTTP $want, got $STATUS" "$BODY"
  ok "$what ($STATUS)"
}

# A word no other article has, so that the search finds this very article.
word="smoke$(date +%s)$RANDOM"
title="Smoke test $word"

create_article() {
  log "create an article"
  local payload
  payload=$(jq -nc --arg title "$title" \
    '{title: $title, content: "Written by the deploy smoke test.", author: "CI", tags: ["smoke", "ci"]}')
  request POST "$API_URL/articles" "$payload"
  expect_status 201 "POST /articles"
  ARTICLE_ID=$(jq -er '.id' <<<"$BODY") || fail "POST /articles: no id in the answer" "$BODY"
  ok "created article $ARTICLE_ID"
}

read_article() {
  log "read it back"
  request GET "$API_URL/articles/$ARTICLE_ID"
  expect_status 200 "GET /articles/$ARTICLE_ID"
  local got
  got=$(jq -r '.title' <<<"$BODY")
  [ "$got" = "$title" ] || fail "GET /articles/$ARTICLE_ID: title is \"$got\", expected \"$title\"" "$BODY"
  ok "title matches"
}

search_article() {
  log "search for \"$word\""
  request GET "$API_URL/articles/search?query=$word"
  expect_status 200 "GET /articles/search"
  jq -e --arg id "$ARTICLE_ID" 'any(.[]; .id == $id)' <<<"$BODY" >/dev/null \
    || fail "GET /articles/search?query=$word: article $ARTICLE_ID is not in the results" "$BODY"
  ok "article $ARTICLE_ID found"
}

delete_article() {
  log "delete it"
  request DELETE "$API_URL/articles/$ARTICLE_ID"
  expect_status 200 "DELETE /articles/$ARTICLE_ID"
  request GET "$API_URL/articles/$ARTICLE_ID"
  expect_status 404 "GET /articles/$ARTICLE_ID after delete"
}

# poll WHAT TIMEOUT COMMAND...: runs COMMAND every 2 s until it succeeds or TIMEOUT
# seconds have passed.
poll() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "$what: not ready after ${timeout}s" "${BODY:-}"
    fi
    sleep 2
  done
  ok "$what"
}

articlesd_target_up() {
  request GET "$PROMETHEUS_URL/api/v1/targets"
  [ "$STATUS" = 200 ] || return 1
  jq -e '[.data.activeTargets[] | select(.labels.job == "articlesd")]
         | length > 0 and all(.health == "up")' <<<"$BODY" >/dev/null
}

answers_200() {
  request GET "$1"
  [ "$STATUS" = 200 ]
}

check_stack() {
  log "Prometheus scrapes articlesd"
  poll "Prometheus target job=articlesd is up" "$PROMETHEUS_TIMEOUT" articlesd_target_up
  log "Grafana, Loki and Tempo answer"
  poll "Grafana $GRAFANA_URL/api/health" "$STACK_TIMEOUT" answers_200 "$GRAFANA_URL/api/health"
  poll "Loki $LOKI_URL/ready" "$STACK_TIMEOUT" answers_200 "$LOKI_URL/ready"
  poll "Tempo $TEMPO_URL/ready" "$STACK_TIMEOUT" answers_200 "$TEMPO_URL/ready"
}

create_article
read_article
search_article
delete_article
if [ "$api_only" = false ]; then
  check_stack
fi
log "smoke test passed"
