#!/usr/bin/env bash
# Makes sure a Docker engine answers: starts Debian's dockerd (as root) when none does.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null 2>&1; then
  echo "no Docker engine answers; start one (or install docker.io and run this as root)" >&2
  exit 1
fi
log=${SPRINTBOARD_DOCKERD_LOG:-/var/log/sprintboard-dockerd.log}
echo "starting dockerd (log: $log)" >&2
# setsid: the engine outlives this make run, so the next run finds it and its images.
setsid dockerd >>"$log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not answer within 60 s; see $log" >&2
exit 1
