"""Local pytest setup for the offline infra checks.

Registers the ``infra`` marker here (rather than in the root conftest, which the infra tests do not own) so that
``-m infra`` / ``-m "not infra"`` work and ``--strict-markers`` does not reject the mark.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker every test under tests/infra carries."""
    config.addinivalue_line(
        "markers", "infra: offline checks of infra/ (Bicep syntax, checkov, role and Event Grid wiring)"
    )
