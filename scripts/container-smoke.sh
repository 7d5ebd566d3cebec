#!/usr/bin/env bash
# Builds the container image from the Dockerfile with podman and checks it for
# real: /health, one chat completion, the HEALTHCHECK, the non-root user owning
# /models, tini as PID 1, and SIGTERM draining to exit 0. Not part of npm test.
#
# No registry image can be pulled where this was written, so the base is made
# from Debian packages: debootstrap (minbase trixie, the apt mirror this machine
# uses) imported with `podman import`, and the Dockerfile run with
# BASE=<that image> NODE_FROM=npm (Node 24 and npm from the npm registry).
# Elsewhere: `podman build -t serval .` uses node:24-trixie-slim.
#
# Needs root, podman, debootstrap, curl (Debian: apt-get install podman debootstrap runc).
# SERVAL_SMOKE_FRESH_BASE=1 rebuilds the base image even if it exists;
# SERVAL_SMOKE_CACHE=1 lets the build reuse cached layers (default: --no-cache, so the
# printed build time is a full build's).
set -euo pipefail
cd "$(dirname "$0")/.."

base=localhost/serval-base:trixie
image=localhost/serval:cpu
name=serval-smoke
volume=serval-smoke-models
port=18000
now() { echo "$EPOCHREALTIME"; }
since() { awk "BEGIN { printf \"%.1f\", $(now) - $1 }"; }

mirror=$(grep -hoE '^URIs: *http[^ ]*/debian$|^deb +http[^ ]*/debian ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
  | grep -oE 'http[^ ]*/debian' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

cleanup() {
  podman rm -f "$name" > /dev/null 2>&1 || true
  podman volume rm -f "$volume" > /dev/null 2>&1 || true
  [ -z "${rootfs:-}" ] || rm -rf "$rootfs"
}
trap cleanup EXIT
cleanup

echo "== podman $(podman --version | awk '{print $3}'), base from $mirror"
if [ "${SERVAL_SMOKE_FRESH_BASE:-0}" = 1 ] || ! podman image exists "$base"; then
  start=$(now)
  rootfs=$(mktemp -d /var/tmp/serval-rootfs.XXXXXX)
  debootstrap --variant=minbase trixie "$rootfs" "$mirror" > /dev/null
  tar -C "$rootfs" -c . | podman import -q - "$base" > /dev/null
  rm -rf "$rootfs"; rootfs=
  echo "base $base: debootstrap + import in $(since "$start") s"
else
  echo "base $base: exists (SERVAL_SMOKE_FRESH_BASE=1 rebuilds it)"
fi

# podman's defaults need what a sandbox may lack: raising RLIMIT_NOFILE/NPROC
# needs CAP_SYS_RESOURCE, and crun refuses a cgroup v1/v2 hybrid. Try the
# defaults first and show the exact error, then retry with runc and limits no
# higher than this shell's.
flags=()
if ! err=$(podman run --rm "$base" true 2>&1); then
  echo "podman run with defaults fails: $err"
  flags=(--runtime runc --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
  echo "retrying with: ${flags[*]}"
  podman run --rm "${flags[@]}" "$base" true
fi

echo "base: Debian $(podman run --rm "${flags[@]}" "$base" cat /etc/debian_version)"

echo "== build"
# Behind a TLS-intercepting proxy (NODE_EXTRA_CA_CERTS set here), npm in the build needs its CA.
build_ca=()
[ -z "${NODE_EXTRA_CA_CERTS:-}" ] || build_ca=(-v "$NODE_EXTRA_CA_CERTS:/run/build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt)
start=$(now)
build_log=/var/tmp/serval-container-build.log
cache=(--no-cache)
[ "${SERVAL_SMOKE_CACHE:-0}" = 0 ] || cache=()
podman build --format docker "${cache[@]}" "${flags[@]}" "${build_ca[@]}" \
  --build-arg BASE="$base" --build-arg NODE_FROM=npm -t "$image" . > "$build_log" 2>&1 \
  || { tail -40 "$build_log"; exit 1; }
echo "build: $(since "$start") s (log: $build_log)"
echo "image size: $(podman image inspect "$image" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }')"
podman image inspect "$image" --format 'user={{.Config.User}} entrypoint={{.Config.Entrypoint}} volumes={{.Config.Volumes}} healthcheck={{.Config.Healthcheck.Test}}'

echo "== run"
start=$(now)
podman run -d --name "$name" "${flags[@]}" -p "127.0.0.1:$port:8000" -v "$volume:/models" "$image" > /dev/null
for _ in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
  [ "$(podman inspect "$name" --format '{{.State.Running}}')" = true ] || { podman logs "$name"; exit 1; }
  sleep 0.5
done
echo "GET /health after $(since "$start") s (first start: built-in models generated into /models):"
curl -sf "http://127.0.0.1:$port/health"; echo
podman logs "$name" 2>&1 | grep -m1 '"msg":"HTTP transport' || true
echo "in the container: $(podman exec "$name" node --version), $(podman exec "$name" id), PID 1: $(podman exec "$name" cat /proc/1/cmdline | tr '\0' ' ')"
podman exec "$name" sh -c 'ls -lnd /models /models/*'
podman healthcheck run "$name" && echo 'HEALTHCHECK: healthy'

echo "== chat completion"
reply=$(curl -sf "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"serval-small-chat","messages":[{"role":"user","content":"Hello"}],"max_tokens":8}')
echo "$reply"
grep -q '"object":"chat.completion"' <<< "$reply"
grep -q '"completion_tokens":8' <<< "$reply"

echo "== SIGTERM with a request in flight"
curl -sN "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"serval-small-chat","messages":[{"role":"user","content":"Hello"}],"max_tokens":200,"stream":true}' > /tmp/serval-smoke-stream.txt &
client=$!
sleep 0.3
start=$(now)
podman stop -t 30 "$name" > /dev/null
wait "$client" || true
echo "podman stop: $(since "$start") s, exit code $(podman inspect "$name" --format '{{.State.ExitCode}}')"
podman logs "$name" 2>&1 | grep -E 'shutting down|drain|stopped' | cut -c1-300 || true
echo "streamed request ended with: $(grep -v '^$' /tmp/serval-smoke-stream.txt | tail -1 | cut -c1-200)"
rm -f /tmp/serval-smoke-stream.txt
[ "$(podman inspect "$name" --format '{{.State.ExitCode}}')" = 0 ]
echo 'container smoke test passed'
