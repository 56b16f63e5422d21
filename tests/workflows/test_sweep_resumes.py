"""The compliance sweep resumes a NAT-pool operation a crash left recorded on its load balancer (issue 12), and a
dry-run sweep only lists it."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.identity import ManagedIdentityCredential

from poolkeeper.config import parse_config
from poolkeeper.reconciler import Reconciler
from poolkeeper.settings import OPERATIONS_DIR_VAR as DIR_VAR
from poolkeeper.sweep import run_sweep
from poolkeeper.workflows import INTENT_TAG
from poolkeeper.workflows.runner import Hooks, SimulatedCrash
from tests.workflows.conftest import Estate


def test_sweep_resumes_a_crashed_migration(estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DIR_VAR, str(tmp_path / "operations"))  # the store the estate's workflows wrote
    intent = estate.workflows.parse("migrate-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool",
                                                        "backendPool": "create"})
    with pytest.raises(SimulatedCrash):
        estate.workflows.submit(intent, hooks=Hooks(crash_after_step=1))
    assert INTENT_TAG in (estate.lb().get("tags") or {})
    scope = f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/MyResourceGroup"
    rec = Reconciler(parse_config({"scopes": [scope], "armEndpoint": estate.sim.info.arm_endpoint}),
                     ManagedIdentityCredential())
    try:
        dry = run_sweep(rec, apply=False)
        assert [o["loadBalancer"] for o in dry.operations] == [estate.lb_id]
        assert estate.workflows.show(intent.id)["status"] == "running", "a dry run resumes nothing"
        applied = run_sweep(rec, apply=True)
    finally:
        rec.close()
    assert [(o["operation"], o["status"]) for o in applied.operations] == [(intent.id, "succeeded")]
    assert estate.workflows.show(intent.id)["status"] == "succeeded"
    assert INTENT_TAG not in (estate.lb().get("tags") or {})
