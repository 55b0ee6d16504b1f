#!/usr/bin/env bash
# Tools the CI-contract tests validate with, from Debian's packages:
#   xmllint  (libxml2-utils)  JUnit XML against the Ant and Jenkins xunit XSDs
#   promtool (prometheus)     the Prometheus textfile; only the binary is needed, so it is
#                             extracted from the .deb (apt-get download + dpkg-deb -x) into
#                             $KVMDOCTOR_TOOLS (default ~/.cache/kvmdoctor-test-tools) instead of
#                             installing the server and its web assets.
# Idempotent and best effort: without root, apt or the network it says what is missing and
# exits 0; the tests that need a missing tool skip with a message naming it.
set -uo pipefail
TOOLS="${KVMDOCTOR_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/kvmdoctor-test-tools}"
mkdir -p "$TOOLS/bin"
apt_ok() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
lists_fresh=0
apt_update_once() { [ "$lists_fresh" = 1 ] || { timeout 180 apt-get update -qq >/dev/null 2>&1 || true; lists_fresh=1; }; }

if ! command -v xmllint >/dev/null 2>&1; then
  if apt_ok; then
    install() { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends libxml2-utils >/dev/null 2>&1; }
    install || { apt_update_once; install; } || echo "install-tools: could not install libxml2-utils (xmllint)" >&2
  else
    echo "install-tools: xmllint missing and apt-get not usable here (need root): apt-get install libxml2-utils" >&2
  fi
fi

if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$TOOLS/bin/promtool" ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
    work="$(mktemp -d)"
    fetch() { (cd "$work" && timeout 300 apt-get download -qq prometheus >/dev/null 2>&1); }
    if fetch || { apt_ok && apt_update_once && fetch; }; then
      dpkg-deb -x "$work"/prometheus_*.deb "$work/root" && install -m 0755 "$work/root/usr/bin/promtool" "$TOOLS/bin/promtool" \
        || echo "install-tools: the prometheus package holds no usr/bin/promtool" >&2
    else
      echo "install-tools: could not download Debian's prometheus package (promtool)" >&2
    fi
    rm -rf "$work"
  else
    echo "install-tools: promtool missing and apt-get/dpkg-deb not available" >&2
  fi
fi
exit 0
