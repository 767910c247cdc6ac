#!/usr/bin/env bash
# The Python SDK's tests: a virtual environment with the SDK and what its tests use (installed
# from the configured package index on first use), then pytest against a dev runtime the tests
# start themselves (sdk/python/tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ARX_PY_VENV:-.venv-python}"
PY="${ARX_PYTHON:-python3}"
export PIP_RETRIES="${PIP_RETRIES:-0}" PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip install --quiet "$@"; }
if ! "$VENV/bin/python" -c "import arx, httpx, pytest, hatchling, opentelemetry.trace, langchain_core.tools" >/dev/null 2>&1; then
  pip -e sdk/python pytest hatchling "opentelemetry-api>=1.20"
  if ! pip "langchain-core>=0.3" 2>/dev/null; then
    # langchain-core 1.6 requires langchain-protocol, which some package indexes lack; its tools
    # API never imports it, so install langchain-core without that one and its other deps by name.
    echo "test-python: installing langchain-core without langchain-protocol (not on this package index)" >&2
    pip --no-deps "langchain-core>=0.3"
    pip jsonpatch "langsmith<1" packaging "pydantic>=2.7.4,<3" pyyaml "tenacity!=8.4.0,<10" typing-extensions "uuid-utils>=0.12,<1"
  fi
fi
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider sdk/python/tests "$@"
