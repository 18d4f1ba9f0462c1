#!/usr/bin/env bash
# check_report.sh REPORT.html SCREENSHOT.png — opens a report in headless Chromium (no sandbox, no GPU, a
# fresh profile), fails if the page logs anything to the console or fails to load a resource, and writes a
# screenshot. Chromium's own complaints about the machine (no D-Bus, no GPU) are not the page's and are ignored.
set -u
html=$1 shot=$2
command -v chromium > /dev/null || { echo "FAIL: chromium is not installed (tools/setup.sh installs it)"; exit 1; }
profile=$(mktemp -d)
log=$(mktemp)
timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile" --enable-logging=stderr --v=0 \
  --window-size=1200,2600 --screenshot="$shot" "file://$(realpath "$html")" > "$log" 2>&1
rc=$?
rm -rf "$profile"
if [ "$rc" -ne 0 ]; then cat "$log"; echo "FAIL: chromium exited $rc"; exit 1; fi
if grep -E "CONSOLE|net::ERR|Uncaught" "$log"; then echo "FAIL: the page logged errors (above)"; exit 1; fi
[ -s "$shot" ] || { echo "FAIL: no screenshot written"; exit 1; }
echo "ok: $html opened in headless Chromium without console errors; screenshot $shot ($(stat -c %s "$shot") bytes)"
