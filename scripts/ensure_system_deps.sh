#!/usr/bin/env bash
# Install the system packages the test suite drives (Debian's chromium + chromium-driver for
# the HTML report checks, postgresql for the run-history test and the shared cache,
# redis-server for the shared cache) when they are missing.
# Idempotent and quiet: does nothing when everything is present. Usage:
#   scripts/ensure_system_deps.sh            # everything
#   scripts/ensure_system_deps.sh chromium   # only what one check needs
#                                            # (chromium | postgresql | redis)
set -euo pipefail

want="${1:-all}"
missing=()
if [[ "$want" == all || "$want" == chromium ]]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
if [[ "$want" == all || "$want" == postgresql ]]; then
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
fi
if [[ "$want" == all || "$want" == redis ]]; then
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_system_deps: apt-get not found; install ${missing[*]} yourself" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "ensure_system_deps: not root and no password-less sudo; install ${missing[*]} yourself" >&2
    exit 1
  fi
fi
# One installer at a time (parallel test workers may call this together).
exec 9>/tmp/.mleval-ensure-system-deps.lock
flock 9
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
