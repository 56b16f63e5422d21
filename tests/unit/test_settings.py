"""One settings module (issue 10): every environment variable is read by ``poolkeeper.settings`` and nowhere else,
and the composition root builds one set of SDK clients that the reconciler and the workflows share."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken

from poolkeeper.composition import build, load_configuration
from poolkeeper.config import ConfigError, parse_config
from poolkeeper.settings import DEFAULT_SCHEDULES, Settings, SettingsError
from poolkeeper.workflows.store import FileStore

ROOT = Path(__file__).resolve().parents[2]
SCOPE = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"


class StaticCredential:
    """A credential that is never asked for a token here (nothing below talks to ARM)."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        raise AssertionError("no ARM call expected")


def _env_reads(path: Path) -> list[int]:
    """Lines of ``path`` that read the environment: ``os.environ``, ``os.getenv``, ``os.environb``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")]


def test_only_the_settings_module_reads_the_environment() -> None:
    files = [ROOT / "function_app.py", *(ROOT / "poolkeeper").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]
    readers = {str(p.relative_to(ROOT)): lines for p in files if (lines := _env_reads(p))}
    assert set(readers) == {"poolkeeper/settings.py"}, readers


def test_settings_are_parsed_and_typed() -> None:
    s = Settings.from_env({"POOLKEEPER_ARM_ENDPOINT": " https://localhost:8443/ ", "POOLKEEPER_LOG_LEVEL": "debug",
                           "POOLKEEPER_WORKFLOW_WAIT_SECONDS": "7.5", "WEBSITE_INSTANCE_ID": "abc",
                           "COLUMNS": "wide"})
    assert s.arm_endpoint == "https://localhost:8443" and s.log_level == "DEBUG"
    assert s.workflow_wait == 7.5 and s.workflow_run == 200.0 and s.in_azure and s.columns == 100
    local = Settings.from_env({})
    assert local.workflow_wait == 5.0 and local.workflow_run is None and local.function_key is None
    with pytest.raises(SettingsError, match="POOLKEEPER_WORKFLOW_RUN_SECONDS"):
        Settings.from_env({"POOLKEEPER_WORKFLOW_RUN_SECONDS": "soon"})
    with pytest.raises(AttributeError):
        local.log_level = "INFO"  # type: ignore[misc]
    assert set(DEFAULT_SCHEDULES) == {"POOLKEEPER_SWEEP_SCHEDULE", "POOLKEEPER_RESUME_SCHEDULE"}


def test_configuration_comes_from_the_settings_with_the_endpoint_override() -> None:
    config = json.dumps({"scopes": [SCOPE], "bindings": []})
    loaded = load_configuration(Settings.from_env({"POOLKEEPER_CONFIG": config,
                                                   "POOLKEEPER_ARM_ENDPOINT": "https://localhost:9/"}))
    assert loaded.scopes == (SCOPE,) and loaded.arm_endpoint == "https://localhost:9"
    with pytest.raises(ConfigError, match="POOLKEEPER_CONFIG is not set"):
        load_configuration(Settings.from_env({}))


def test_the_root_builds_one_client_cache_for_reconciler_and_workflows(tmp_path: Path) -> None:
    config = parse_config({"scopes": [SCOPE], "bindings": [], "armEndpoint": "https://localhost:8443"})
    app = build(Settings.from_env({"POOLKEEPER_OPERATIONS_DIR": str(tmp_path)}), config=config,
                credential=StaticCredential())
    try:
        rec = app.require_reconciler()
        sub = "00000000-0000-0000-0000-000000000001"
        assert rec.clients(sub) is app.clients(sub)
        assert app.workflows.gateway_factory(sub, "cid").clients is app.clients(sub)
        assert app.workflows.scopes == (SCOPE,) and app.clients.arm_endpoint == "https://localhost:8443"
        assert isinstance(app.store, FileStore) and app.workflows.store is app.store
    finally:
        app.close()


def test_the_root_without_configuration_serves_the_operator_cli() -> None:
    app = build(Settings.from_env({"POOLKEEPER_ARM_ENDPOINT": "https://localhost:7/"}), configured=False,
                credential=StaticCredential())
    assert app.reconciler is None and app.workflows.scopes is None
    assert app.clients.arm_endpoint == "https://localhost:7"
    with pytest.raises(RuntimeError, match="without a configuration"):
        app.require_reconciler()
