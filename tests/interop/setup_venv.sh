#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv at the repo root holding the reference
# implementation `cpex[grpc]==0.1.4`, used only by the interop test suite (tests/interop/).
#
# Idempotent: if .venv/bin/python already imports cpex 0.1.4, nothing is installed.
# Exits non-zero (with a message on stderr) on any failure.
set -euo pipefail

CPEX_VERSION="0.1.4"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"

installed_ok() {
  [ -x "$PY" ] && "$PY" - "$CPEX_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import cpex  # noqa: F401
import grpc  # noqa: F401  (the [grpc] extra)
from cpex.framework.external.grpc.proto import plugin_service_pb2  # noqa: F401
import prometheus_client.parser  # noqa: F401  (a cpex dependency; prometheus_text_test.ts)
sys.exit(0 if version("cpex") == sys.argv[1] else 1)
PYEOF
}

if installed_ok; then
  echo "setup_venv: $VENV already has cpex $CPEX_VERSION" >&2
  exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup_venv: '$PYTHON' not found; install Python 3.11+ or set PYTHON=/path/to/python3" >&2
  exit 1
fi

if [ ! -x "$PY" ]; then
  echo "setup_venv: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV" || { echo "setup_venv: python -m venv failed" >&2; exit 1; }
fi

echo "setup_venv: installing cpex[grpc]==$CPEX_VERSION into $VENV (may take a few minutes)" >&2
"$PY" -m pip install --quiet --disable-pip-version-check "cpex[grpc]==$CPEX_VERSION" || {
  echo "setup_venv: pip install cpex[grpc]==$CPEX_VERSION failed" >&2
  exit 1
}

if ! installed_ok; then
  echo "setup_venv: cpex $CPEX_VERSION still not importable from $PY after install" >&2
  exit 1
fi
echo "setup_venv: ready ($VENV, cpex $CPEX_VERSION)" >&2
