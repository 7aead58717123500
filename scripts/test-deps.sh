#!/usr/bin/env bash
# Installs, from Debian's packages and only when missing, the programs the test suite
# drives besides the databases (scripts/test-services.sh installs those): git for the
# repositories the tests create and chromium for the dashboard's browser tests.
# Needs root to install; without root it only says what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

want=()
command -v git >/dev/null || want+=(git)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || want+=(chromium)
[ ${#want[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "test-deps: missing ${want[*]}; install them (apt-get install ${want[*]}) or run as root" >&2
	exit 1
fi
echo "test-deps: apt-get install ${want[*]}" >&2
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${want[@]}" >&2
