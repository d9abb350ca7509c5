#!/usr/bin/env bash
# GET by id on the embedded database against PocketBase's record view, on the same
# 100,000 articles, 32 connections, with wrk (Debian's wrk and sqlite3 packages).
# articlesd runs with every signal on: metrics, a log file, traces sampled at 10% to an
# OTLP receiver (../otlpsink). Three rounds, alternating. From the repository root:
#
#   bash cmd/bench/testdata/pocketbase/compare.sh
#
# PocketBase v0.36.8 is the newest that builds with Go 1.26. Its collection `articles`
# has the same fields; the rows are copied from articlesd's database into its table
# (ids: the article's, as 15 digits).
set -euo pipefail
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
repo=$(pwd)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

(cd "$repo" && go build -o "$work/articlesd" .)
(cd "$repo/cmd/bench/testdata/otlpsink" && go build -o "$work/otlpsink" .)
GOBIN="$work" go install github.com/pocketbase/pocketbase/examples/base@v0.36.8

./articlesd seed --count "$N" --database-url "sqlite://$work/articles.db" | tail -n 1

./base superuser upsert admin@example.com bench-password-1 --dir pb_data >/dev/null
./base serve --dev=false --http 127.0.0.1:18090 --dir pb_data >pb.log 2>&1 &
pb=$!
until curl -sf http://127.0.0.1:18090/api/health >/dev/null; do sleep 0.2; done
token=$(curl -sf -X POST http://127.0.0.1:18090/api/collections/_superusers/auth-with-password \
  -H 'Content-Type: application/json' -d '{"identity":"admin@example.com","password":"bench-password-1"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
curl -sf -X POST http://127.0.0.1:18090/api/collections -H "Authorization: $token" -H 'Content-Type: application/json' -d '{
  "name": "articles", "type": "base", "listRule": "", "viewRule": "",
  "fields": [{"name": "title", "type": "text", "required": true, "max": 300}, {"name": "content", "type": "text", "max": 100000},
    {"name": "author", "type": "text", "max": 200}, {"name": "tags", "type": "json"}, {"name": "views", "type": "number"},
    {"name": "version", "type": "number"},
    {"name": "created", "type": "autodate", "onCreate": true}, {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}]}' >/dev/null
kill "$pb"; wait "$pb" || true
sqlite3 pb_data/data.db "ATTACH 'articles.db' AS a;
  INSERT INTO articles (id, title, content, author, tags, views, version, created, updated)
  SELECT printf('%015d', id), title, content, author, tags, 0, version,
    strftime('%Y-%m-%d %H:%M:%fZ', created_at), strftime('%Y-%m-%d %H:%M:%fZ', updated_at) FROM a.articles;"

./base serve --dev=false --http 127.0.0.1:18090 --dir pb_data >pb.log 2>&1 &
pids+=($!)
./otlpsink -addr 127.0.0.1:14317 >sink.log 2>&1 &
pids+=($!)
./articlesd serve --addr 127.0.0.1:18081 --database-url "sqlite://$work/articles.db" --log-file "$work/articlesd.log" \
  --otlp-endpoint 127.0.0.1:14317 --otlp-insecure --trace-sample-ratio 0.1 >articlesd.out 2>&1 &
pids+=($!)
until curl -sf http://127.0.0.1:18081/readyz >/dev/null && curl -sf http://127.0.0.1:18090/api/health >/dev/null; do sleep 0.2; done
# seed marked the search heads stale: articlesd rebuilds them as it starts (about 20 s of
# a core at 100,000 articles); measure the steady state after it.
for _ in $(seq 600); do grep -q 'search heads rebuilt' articlesd.log 2>/dev/null && break; sleep 0.2; done

printf 'math.randomseed(1)\nrequest = function() return wrk.format("GET", string.format("/api/collections/articles/records/%%015d", math.random(1, %d))) end\n' "$N" >pocketbase.lua
printf 'math.randomseed(1)\nrequest = function() return wrk.format("GET", string.format("/articles/%%d", math.random(1, %d))) end\n' "$N" >articlesd.lua
for round in $(seq "$ROUNDS"); do
  for target in pocketbase articlesd; do
    url=http://127.0.0.1:18081
    [ "$target" = pocketbase ] && url=http://127.0.0.1:18090
    wrk -t2 -c32 -d3s -s "$target.lua" "$url" >/dev/null
    echo "round $round $target: $(wrk -t2 -c32 -d15s --latency -s "$target.lua" "$url" | grep -E 'Requests/sec|99%|Non-2xx' | tr -s ' ' | tr '\n' ' ')"
  done
done
tail -n 1 sink.log
