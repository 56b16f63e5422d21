"""The azd prepackage hook ships poolkeeper's bytecode, and Python loads it from a read-only-like package.

On Flex Consumption the package is mounted read-only, so without shipped bytecode every cold start compiles
poolkeeper's sources (bench/storm.py ``cold_imports`` measures both). The hook must be wired in azure.yaml, write
hash-checked .pyc files (valid whatever the files' times after packaging), and a fresh interpreter that may not write
bytecode must load poolkeeper from them rather than compile the sources.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "infra" / "hooks" / "prepackage.sh"


def test_azure_yaml_runs_the_hook_before_packaging_the_app() -> None:
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text())["services"]["api"]["hooks"]
    assert (ROOT / hooks["prepackage"]["run"]).resolve() == HOOK
    assert os.access(HOOK, os.X_OK)
    ignored = {line.strip() for line in (ROOT / ".funcignore").read_text().splitlines()}
    assert "__pycache__/" not in ignored and "__pycache__" not in ignored  # the bytecode ships


def test_the_package_loads_poolkeeper_from_hash_checked_bytecode(tmp_path: Path) -> None:
    for name in ("function_app.py", "handlers", "poolkeeper"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, tmp_path / name)
    subprocess.run(["sh", str(HOOK), str(tmp_path)], check=True, env={**os.environ, "POOLKEEPER_BUILD_PYTHON":
                                                                       sys.executable})
    sources = sorted((tmp_path / "poolkeeper").rglob("*.py"))
    tag = sys.implementation.cache_tag
    for src in sources:
        pyc = src.parent / "__pycache__" / f"{src.stem}.{tag}.pyc"
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b11, f"{pyc}: not a hash-checked .pyc (PEP 552 flags {flags})"
    out = subprocess.run([sys.executable, "-v", "-c", "import poolkeeper.model"], cwd=tmp_path, check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "POOLKEEPER_CONFIG": "{}"})
    model_pyc = tmp_path / "poolkeeper" / "__pycache__" / f"model.{tag}.pyc"
    assert f"code object from '{model_pyc}'" in out.stderr
