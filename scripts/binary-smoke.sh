#!/usr/bin/env bash
# Builds the single executable (npm run build:binary) and checks it the way a
# machine without Node would run it: an empty PATH and a fresh cache folder.
# Prints its size and its cold (first start: unpacking) and warm start times,
# then serves one chat completion from `./serval serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build:binary
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/empty"
run() { env -i HOME="$work" PATH="$work/empty" SERVAL_CACHE_DIR="$work/cache" ./serval "$@"; }
seconds() { local start=$EPOCHREALTIME; "$@" > /dev/null; awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $start }"; }
echo "size: $(du -m serval | cut -f1) MiB"
echo "cold start (--version, unpacking): $(seconds run --version) s"
echo "warm start (--version): $(seconds run --version) s"
run --version
serve_start=$EPOCHREALTIME
# Not through run(): a backgrounded function is a subshell, and $! would be its pid, not the server's.
env -i HOME="$work" PATH="$work/empty" SERVAL_CACHE_DIR="$work/cache" ./serval serve --port 0 --log-level info > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  grep -q '"msg":"ready"' "$work/log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
  sleep 0.5
done
grep -q '"msg":"ready"' "$work/log" || { cat "$work/log"; echo 'not ready after 120 s'; exit 1; }
echo "serve: ready after $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $serve_start }") s (includes generating the built-in models into the fresh cache)"
grep -m1 '"msg":"HTTP transport' "$work/log"
port=$(grep -m1 '"msg":"HTTP server listening"' "$work/log" | grep -o '"port":[0-9]*' | cut -d: -f2)
reply=$(curl -sf "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"serval-small-chat","messages":[{"role":"user","content":"Hello"}],"max_tokens":8}')
echo "$reply"
grep -q '"object":"chat.completion"' <<< "$reply"
grep -q '"completion_tokens":8' <<< "$reply"
echo 'binary smoke test passed'
