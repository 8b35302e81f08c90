#!/bin/sh
# helm preflight ...: hand everything to `preflight helm ...` (preflight/_cli/helm/plugin.py).
# Helm has put its context in HELM_* variables and KUBECONFIG; they pass on in the environment.
preflight=${PREFLIGHT_BIN:-$(command -v preflight)}
if [ -z "$preflight" ] || [ ! -x "$preflight" ]; then
  echo "helm preflight: cannot find the preflight command${PREFLIGHT_BIN:+ at PREFLIGHT_BIN=$PREFLIGHT_BIN} (pip install kube-preflight, or set PREFLIGHT_BIN=/path/to/preflight)" >&2
  exit 2
fi
exec "$preflight" helm "$@"
