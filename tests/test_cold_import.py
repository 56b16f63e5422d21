"""Indexing the Functions app loads no SDK client and no reconciler: those load at the first invocation.

The Functions host imports ``function_app`` to index the functions before any invocation (cold start); what it does
not need there is imported lazily by the handlers (bench/storm.py measures the time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DEFERRED = ("azure.mgmt.network", "azure.mgmt.compute", "azure.identity", "azure.eventgrid", "jsonschema",
            "opentelemetry", "poolkeeper.reconciler", "poolkeeper.composition", "poolkeeper.gateway",
            "poolkeeper.workflows")


def test_importing_function_app_loads_none_of_the_first_use_modules() -> None:
    code = ("import json, sys, function_app; "
            f"print(json.dumps([m for m in {list(DEFERRED)!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                         env={**os.environ, "POOLKEEPER_CONFIG": "{}"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []

