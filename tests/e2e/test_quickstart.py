"""The README quickstart "CLI against armsim" works copy-pasted: its shell block is run verbatim by bash.

The block runs in a scratch directory that holds only what a clone provides beside it (`.venv` and `examples/`,
linked), so the env file it writes lands there; PYTHONPATH stands in for the clone's root being the current
directory.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def quickstart_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### CLI against armsim (quickstart)"):]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the quickstart has no sh block"
    return match.group(1)


def test_readme_quickstart_runs_verbatim(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = "set -e\ntrap 'kill $ARMSIM_PID 2>/dev/null || true' EXIT\n" + quickstart_block()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "POOLKEEPER_"))}
    env.update({"PYTHONPATH": str(ROOT), "COLUMNS": "100"})
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = re.split(r"^(?=plan \(dry run\) — subscription |apply — subscription )", out.stdout, flags=re.M)[1:]
    # plan, apply, plan: three CreateNatRule first, then writes, then nothing left
    assert len(runs) == 3, out.stdout
    assert runs[0].startswith("plan (dry run)") and runs[0].count("CreateNatRule") == 3
    assert runs[1].startswith("apply") and "4 write(s)" in runs[1] and "0 refused" in runs[1]
    assert runs[2].startswith("plan (dry run)") and "nothing to do" in runs[2]
    exports = (tmp_path / "armsim.env").read_text()
    assert "export AZURE_CLIENT_ID=operator" in exports and "ARMSIM_POOLKEEPER_CLIENT_ID=poolkeeper" in exports
