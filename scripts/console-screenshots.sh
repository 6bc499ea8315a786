#!/usr/bin/env bash
# Refreshes docs/console/*.png: runs the console's browser test (Tests/browser/console_test.py), which saves a
# screenshot of each page on its way. Needs chromium, chromium-driver and selenium (as .ci/run installs them).
# Usage: scripts/console-screenshots.sh [PATH_TO_KEYWAY_BINARY]   (default: a fresh debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-}
if [ -z "$binary" ]; then
  swift build --product keyway
  binary=.build/debug/keyway
fi
rm -f docs/console/*.png
KEYWAY_SCREENSHOTS=docs/console python3 Tests/browser/console_test.py "$binary"
ls docs/console
