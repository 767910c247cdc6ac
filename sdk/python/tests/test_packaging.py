"""The SDK builds to a wheel offline and requires nothing but httpx."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

SDK = Path(__file__).resolve().parents[1]


def test_builds_a_wheel_offline_with_httpx_as_its_only_requirement(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path), str(SDK)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    [wheel] = list(tmp_path.glob("arx_sdk-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"arx/__init__.py", "arx/_client.py", "arx/langchain.py", "arx/tools.py"} <= set(names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    required = [l for l in meta.splitlines() if l.startswith("Requires-Dist:") and "extra ==" not in l]
    assert required == ["Requires-Dist: httpx>=0.27"]
    assert "Requires-Python: >=3.10" in meta
