#!/usr/bin/env bash
# Stand-ins for the third-party images on a machine that reaches no image registry (see README.md here).
# Prints the compose variables that point at them (`SPRINTBOARD_POSTGRES_IMAGE=...`), one a line, and
# nothing for an upstream image that is present or can be pulled. SPRINTBOARD_STANDINS: auto (default),
# always (stand-ins even where a registry answers), never (upstream only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
mode=${SPRINTBOARD_STANDINS:-auto}
base_packages=python3,python3-venv,ca-certificates

log() { echo "standins: $*" >&2; }

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# auto: the upstream image when the engine has it or can pull it.
upstream_usable() {
  case "$mode" in
    never) return 0 ;;
    always) return 1 ;;
  esac
  exists "$1" || docker pull --quiet "$1" >/dev/null 2>&1
}

# The binary the uv wheel installed: the first candidate that is an executable (ELF), not a script such
# as a pyenv shim.
uv_binary() {
  local candidate
  for candidate in \
    "$(python3 -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null)" \
    "$(pyenv which uv 2>/dev/null)" \
    "$(command -v uv)"; do
    if [ -n "$candidate" ] && [ "$(head -c 4 "$candidate" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then
      echo "$candidate"
      return
    fi
  done
  echo "standins: no uv binary found (install the uv wheel: python3 -m pip install uv)" >&2
  exit 1
}

# Debian bookworm's Python 3.11 as the python image: debootstrap, then `docker import`.
python_base() {
  local ca=${SSL_CERT_FILE:-}
  local tag
  # The recipe is this function itself, its packages and the CA bundle it copies in.
  tag="sprintboard-standin/python:$({ declare -f python_base; echo "$base_packages"; [ -z "$ca" ] || cat "$ca"; } \
    | sha256sum | cut -c1-12)"
  if ! exists "$tag"; then
    local root
    root=$(mktemp -d)
    log "debootstrap bookworm into $root (about a minute)"
    debootstrap --variant=minbase --include="$base_packages" bookworm "$root" >"$root.log" 2>&1 \
      || { tail -20 "$root.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    local changes=(--change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]'
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    if [ -n "$ca" ]; then
      # This workplace re-signs TLS: package installs inside builds trust the machine's CA bundle.
      cp "$ca" "$root/etc/ssl/certs/sprintboard-host-ca.pem"
      changes+=(--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/sprintboard-host-ca.pem')
    fi
    tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
    rm -rf "$root" "$root.log"
  fi
  echo "$tag"
}

# A stand-in built from standins/NAME/ (plus extra files copied into its context) on the base image, tagged
# by a hash of all of them: a changed recipe builds anew, an unchanged one is reused.
built() {
  local name=$1 base=$2
  shift 2
  local recipe=("$here/standins/$name"/*)
  local tag
  tag="sprintboard-standin/$name:$(echo "$base" | cat - "${recipe[@]}" "$@" | sha256sum | cut -c1-12)"
  if ! exists "$tag"; then
    local context
    context=$(mktemp -d)
    cp "${recipe[@]}" "$context/"
    [ $# -gt 0 ] && cp "$@" "$context/"
    log "building $tag"
    docker build --quiet --build-arg "BASE=$base" -t "$tag" "$context" >/dev/null
    rm -rf "$context"
  fi
  echo "$tag"
}

base=""
need_base() { [ -n "$base" ] || base=$(python_base); }

if ! upstream_usable python:3.11-slim-bookworm; then
  need_base
  echo "SPRINTBOARD_PYTHON_IMAGE=$base"
fi
if ! upstream_usable ghcr.io/astral-sh/uv:0.13; then
  uv=$(uv_binary)
  echo "SPRINTBOARD_UV_IMAGE=$(built uv scratch "$uv")"
fi
if ! upstream_usable postgres:17-alpine; then
  need_base
  echo "SPRINTBOARD_POSTGRES_IMAGE=$(built postgres "$base")"
fi
if ! upstream_usable nats:2-alpine; then
  need_base
  echo "SPRINTBOARD_NATS_IMAGE=$(built nats "$base" "$repo/.venv/bin/nats-server")"
fi
if ! upstream_usable caddy:2-alpine; then
  need_base
  echo "SPRINTBOARD_CADDY_IMAGE=$(built caddy "$base")"
fi
