"""Where the published Azure examples live: ``shared/reference`` beside the repository (as CI checks it out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


def load_reference(name: str) -> Any:
    """A reference file's JSON; a missing file is an error (the fidelity tests must not pass vacuously)."""
    path = REFERENCE_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the shared/ folder must sit beside the repository")
    return json.loads(path.read_text())
