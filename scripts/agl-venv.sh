#!/usr/bin/env bash
# Installs Agent Lightning 0.3.0 (the version lightprompt is tested against) into a virtual
# environment under build/agl for the interop tests; does nothing when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=build/agl
VERSION=0.3.0
# litellm (a dependency) fetches a price list at start unless told to use its own copy.
export LITELLM_LOCAL_MODEL_COST_MAP=True
if [ -x "$VENV/bin/agl" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('agentlightning') != '$VERSION')" 2>/dev/null; then
  exit 0
fi
echo "agl-venv: installing agentlightning==$VERSION into $VENV (about 150 packages, a few minutes, once)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "agentlightning==$VERSION" opentelemetry-proto
