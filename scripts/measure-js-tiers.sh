#!/usr/bin/env bash
# Times the UI's heaviest JavaScript (ui/bench/engine-tiers.mjs: Yjs typing and opening the
# editing trace, markdown rendering) in WebKitGTK's own JavaScriptCore, with each set of tiers
# the app could choose for its web process (src-tauri/src/engine.rs): all of them (WebKit's
# default), the app's (no DFG/FTL, memory-saving mode), and the interpreter alone.
# Figures and what they decided: docs/benchmarks.md, "Desktop app".
EXTRA_DEBIAN_PACKAGES=(libjavascriptcoregtk-4.0-bin)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_node_packages ui
trace="${PARLEY_TRACE:-../shared/data/automerge-paper.json.gz}"
out="$CARGO_TARGET_DIR/js-tiers"
mkdir -p "$out"
zcat "$trace" > "$out/trace.json"
(cd ui && node -e "
require('rolldown').build({
  input: 'bench/engine-tiers.mjs',
  output: { file: process.argv[1], format: 'iife' },
  platform: 'browser',
  logLevel: 'silent',
})" "$out/bundle.js")
# The jsc shell has neither crypto (Yjs asks it for client ids) nor the trace's path.
{
    echo 'var crypto = { getRandomValues(a) { for (let i = 0; i < a.length; i++) a[i] = (Math.random() * 4294967296) >>> 0; return a; } };'
    echo "var TRACE_PATH = '$out/trace.json';"
    cat "$out/bundle.js"
} > "$out/run.js"
for tiers in "all tiers (WebKit's default)|JSC_useJIT=true" \
    "the app's: no DFG/FTL, mini mode|JSC_useDFGJIT=false JSC_forceMiniVMMode=true" \
    "interpreter only|JSC_useJIT=false JSC_forceMiniVMMode=true"; do
    echo "${tiers%%|*}: $(env ${tiers#*|} jsc "$out/run.js")"
done
