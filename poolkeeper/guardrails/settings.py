"""The ``guardrails`` section of the configuration: ``{"PK006": {"mode": "enforce", "ports": [22, 3389, 5985]}}``.

Validated when the configuration is loaded, like the rest of it: an unknown id, an unknown parameter, a mode the
guardrail does not have, or a value its JSON schema refuses is an error naming the field
(``guardrails.PK006.ports[0]: ...``). Guardrails not mentioned run in their default mode with default parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from poolkeeper.guardrails import catalog
from poolkeeper.guardrails.registry import REGISTRY, Guardrail


@dataclass(frozen=True)
class GuardrailSetting:
    guardrail: Guardrail
    mode: str
    params: Mapping[str, Any]

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


def _path(base: str, parts: Any) -> str:
    out = base
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def validate(raw: object) -> list[str]:
    """Every problem in a ``guardrails`` section, each prefixed with its field path."""
    catalog.load()
    if not isinstance(raw, Mapping):
        return ["guardrails: must be a JSON object of guardrail id to settings, e.g. {\"PK001\": {\"mode\": "
                "\"enforce\"}}"]
    errors: list[str] = []
    known = ", ".join(sorted(REGISTRY))
    for gid, entry in raw.items():
        path = f"guardrails.{gid}"
        g = REGISTRY.get(str(gid))
        if g is None:
            errors.append(f"{path}: unknown guardrail; known ids are {known}")
            continue
        if not isinstance(entry, Mapping):
            errors.append(f"{path}: must be a JSON object such as {{\"mode\": \"{g.default_mode}\"}}")
            continue
        if "mode" in entry and entry["mode"] not in g.modes:
            errors.append(f"{path}.mode: {entry['mode']!r} is not a mode of {gid}; use one of "
                          f"{', '.join(g.modes)}")
        params = {k: v for k, v in entry.items() if k != "mode"}
        allowed = sorted(g.params_schema.get("properties") or {})
        for key in sorted(set(params) - set(allowed)):
            errors.append(f"{path}.{key}: unknown parameter of {gid}; "
                          f"{'its parameters are ' + ', '.join(allowed) if allowed else 'it takes none'}")
        params = {k: v for k, v in params.items() if k in allowed}
        # Imported here: jsonschema (and referencing, rpds, attrs) costs ~30 ms of cold start, needed only once a
        # configuration names guardrail parameters.
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(dict(g.params_schema))
        for err in sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path)):
            errors.append(f"{_path(path, err.absolute_path)}: {err.message}")
    return errors


def effective(raw: Mapping[str, Any] | None) -> dict[str, GuardrailSetting]:
    """Mode and parameters (defaults filled in) of every registered guardrail. ``raw`` must have validated."""
    catalog.load()
    out: dict[str, GuardrailSetting] = {}
    for gid, g in sorted(REGISTRY.items()):
        entry = dict((raw or {}).get(gid) or {})
        mode = str(entry.pop("mode", g.default_mode))
        out[gid] = GuardrailSetting(guardrail=g, mode=mode, params={**g.defaults(), **entry})
    return out
