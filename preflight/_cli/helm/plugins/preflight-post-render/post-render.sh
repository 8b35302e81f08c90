#!/bin/sh
# Helm 4 post-renderer: manifests on stdin, `preflight helm post-render` decides (preflight/_cli/helm/postrender.py).
# Helm 4 drops this script's stderr, so a failure to start is also written where the report
# goes: $PREFLIGHT_REPORT_FILE, else ${TMPDIR:-/tmp}/kube-preflight-<uid>/post-render-report.txt.
preflight=${PREFLIGHT_BIN:-$(command -v preflight)}
if [ -z "$preflight" ] || [ ! -x "$preflight" ]; then
  msg="helm post-render: cannot find the preflight command${PREFLIGHT_BIN:+ at PREFLIGHT_BIN=$PREFLIGHT_BIN} (pip install kube-preflight, or set PREFLIGHT_BIN=/path/to/preflight)"
  echo "$msg" >&2
  report=${PREFLIGHT_REPORT_FILE:-${TMPDIR:-/tmp}/kube-preflight-$(id -u)/post-render-report.txt}
  mkdir -p -m 700 "$(dirname "$report")" 2>/dev/null && echo "$msg" > "$report" 2>/dev/null
  exit 2
fi
exec "$preflight" helm post-render "$@"
