"""The guardrails configuration section (refused with field paths at load) and the Finding's JSON shape."""

from __future__ import annotations

import pytest

from poolkeeper.config import ConfigError
from poolkeeper.findings import Finding
from poolkeeper.guardrails.settings import effective
from tests.unit.builders import config


@pytest.mark.parametrize("section, message", [
    ({"PK999": {}}, "guardrails.PK999: unknown guardrail"),
    ({"PK006": {"ports": ["x"]}}, "guardrails.PK006.ports[0]: 'x' is not of type 'integer'"),
    ({"PK006": {"ports": [70000]}}, "guardrails.PK006.ports[0]: 70000 is greater than the maximum of 65535"),
    ({"PK006": {"port": [22]}}, "guardrails.PK006.port: unknown parameter of PK006; its parameters are ports"),
    ({"PK001": {"mode": "block"}}, "guardrails.PK001.mode: 'block' is not a mode of PK001"),
    ({"PK014": {"mode": "enforce"}}, "guardrails.PK014.mode: 'enforce' is not a mode of PK014; use one of audit, off"),
    ({"PK002": {"threshold": 1}}, "guardrails.PK002.threshold: unknown parameter of PK002; it takes none"),
    ({"PK003": []}, "guardrails.PK003: must be a JSON object"),
])
def test_bad_guardrail_settings_are_refused_with_their_path(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config(guardrails=section)
    assert any(e.startswith(message) for e in err.value.errors), err.value.errors


def test_defaults_and_overrides() -> None:
    s = effective(config(guardrails={"PK006": {"mode": "enforce", "ports": [2222]}}).guardrails)
    assert s["PK006"].mode == "enforce" and s["PK006"].params == {"ports": [2222]}
    assert s["PK001"].mode == "audit" and s["PK001"].params == {"allPools": False}
    assert len(s) == 15


def test_finding_json_keys() -> None:
    f = Finding(guardrail="PK001", severity="high", mode="enforce", resource_id="/x/nic", message="m",
                evidence={"a": 1}, fix="do this")
    assert list(f.to_dict()) == ["guardrail", "severity", "mode", "resourceId", "message", "evidence", "fix"]
    assert Finding.from_dict(f.to_dict()) == f
    assert f.at_least("high") and not f.at_least("critical") and f.at_least("low")
    with pytest.raises(ValueError, match="unknown severity"):
        f.at_least("severe")
