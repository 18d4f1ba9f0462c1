#!/usr/bin/env bash
# run.sh — the README's main job: sets up and builds oess if needed (tools/setup.sh), then runs the study.
# Until the experiments capability lands (issue #8) the "study" is the map of the tool: `oess --help`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OESS_BUILD_DIR:-$root/build}
bash "$root/tools/setup.sh"
echo
echo "oess: the one-command study run (paper_4class_inception.yaml on synthetic data) arrives with issue #8;"
echo "      until then, here is what the tool offers:"
echo
exec "$build/oess" --help
