"""Where the published Azure examples live: ``tests/data/reference`` in this repository.

Each file is a byte-for-byte copy of public Azure material (REST API spec examples, Event Grid samples, ARM error
bodies); ``tests/data/reference/SOURCES.md`` names the origin and commit of every file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REFERENCE_DIR = Path(__file__).resolve().parent / "data" / "reference"


def load_reference(name: str) -> Any:
    """A reference file's JSON; a missing file is an error (the fidelity tests must not pass vacuously)."""
    path = REFERENCE_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: see tests/data/reference/SOURCES.md")
    return json.loads(path.read_text())
