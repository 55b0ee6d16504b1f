#!/bin/sh
# What the screenshot and terminal-capture tests need, from Debian: headless
# Chromium (with a monospace font for the SVG) and tmux. Run as root; the tests
# skip with a message when these are missing.
set -eu
export DEBIAN_FRONTEND=noninteractive
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing="$missing fonts-dejavu-core"
if [ -n "$missing" ]; then
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi
chromium --version
tmux -V
