"""The chaos run is shared by the invariant tests of a module: one seeded storm, each invariant its own test.

``CHAOS_SEED`` (default 20261201, so CI is repeatable) and ``CHAOS_SCALE`` (default 1: the CI-sized run inside
``make test``; ``make chaos`` runs a larger one) choose the storm. Every failure message starts with the seed, the
scale and the command that re-runs exactly that storm.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.storm import Outcome, Storm

DEFAULT_SEED = 20261201


def chaos_seed() -> int:
    return int(os.environ.get("CHAOS_SEED") or DEFAULT_SEED)


def chaos_scale() -> int:
    return max(1, int(os.environ.get("CHAOS_SCALE") or 1))


def rerun_hint() -> str:
    seed, scale = chaos_seed(), chaos_scale()
    return (f"[chaos seed={seed} scale={scale}; re-run: make chaos CHAOS_SEED={seed} CHAOS_SCALE={scale}]")


@pytest.fixture(scope="session")
def storm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    workdir: Path = tmp_path_factory.mktemp("chaos")
    try:
        outcome = Storm(chaos_seed(), chaos_scale(), workdir).run()
    except BaseException as err:
        raise RuntimeError(f"{rerun_hint()} the storm itself failed (logs in {workdir}): {err}") from err
    yield outcome


def pytest_report_header() -> str:
    return f"chaos: seed {chaos_seed()}, scale {chaos_scale()} (CHAOS_SEED / CHAOS_SCALE)"
