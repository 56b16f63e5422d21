"""Microsoft's Azure CLI against armsim, unchanged: the seeds' own ``az`` commands, run verbatim.

``azure-cli`` (pinned) is installed once into ``.cache/azcli-venv`` (gitignored) and reused while it reports the pinned
version. A failed install fails these tests: they exist to prove the CLI works. Each test starts its own simulator,
gives az its own ``AZURE_CONFIG_DIR`` and points it at armsim the way docs/azcli.md tells a person to:
``az cloud register --endpoint-resource-manager``, ``az cloud set``, ``az login --identity``. The resulting state is
checked through the SDK, not through az's own output.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SimHandle

pytestmark = pytest.mark.azcli

AZ_VERSION = "2.91.0"
ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "azcli-venv"
AZ = VENV / "bin" / "az"
SCALE = 0.05  # az follows armsim's retry-after-ms, so a 10 s scale-set PUT is polled for half a second

# az reads these; none may leak in from the machine running the tests.
_FOREIGN_ENV = ("AZURE_", "IDENTITY_", "MSI_", "ARM_", "PYTHONPATH", "PYTHONHOME", "REQUESTS_CA_BUNDLE", "SSL_CERT_")

# --- the seeds' commands, as written there ------------------------------------------------------------------------
# Seed 003 (tutorial), step 2 and step 5. Backslash continuations are joined, nothing else is changed.
SEED003_PROBE_CREATE = """az network lb probe create \
    --resource-group myTutorial8 \
    --lb-name myLoadBalancer \
    --name myHealthProbe \
    --protocol tcp \
    --port 80"""
SEED003_RULE_CREATE = """az network lb rule create \
    --resource-group myTutorial8 \
    --lb-name myLoadBalancer \
    --name myLoadBalancerRule \
    --protocol tcp \
    --frontend-port 80 \
    --backend-port 80 \
    --frontend-ip-name myFrontEndPool \
    --backend-pool-name myBackEndPool \
    --probe-name myHealthProbe"""
SEED003_POOL_REMOVE = """az network nic ip-config address-pool remove \
    --resource-group myTutorial8 \
    --nic-name myNic2 \
    --ip-config-name ipConfig1 \
    --lb-name myLoadBalancer \
    --address-pool myBackEndPool """
SEED003_POOL_ADD = """az network nic ip-config address-pool add \
    --resource-group myTutorial8 \
    --nic-name myNic2 \
    --ip-config-name ipConfig1 \
    --lb-name myLoadBalancer \
    --address-pool myBackEndPool"""

# Seed 001: one command per paragraph, its lines unjoined by backslashes, and three "-–" (hyphen, en dash) typing
# slips, written here as "--". ``*`` is passed to az as the literal "*" (a shell would need '*').
SEED001_VMSS_UPDATE = """az vmss update
     --resource-group MyResourceGroup
     --name MyVMSS
     --remove virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0].ipConfigurations[0].loadBalancerInboundNatPools"""  # noqa: E501
SEED001_UPDATE_INSTANCES = """az vmss update-instances
     --instance-ids *
     --resource-group MyResourceGroup
     --name MyVMSS"""
SEED001_NATPOOL_DELETE = """az network lb inbound-nat-pool delete
     --resource-group MyResourceGroup
     --lb-name MyLoadBalancer
     --name MyNatPool"""
SEED001_FRONTEND_DELETE = """az network lb frontend-ip delete
     --resource-group MyResourceGroup
     --lb-name MyLoadBalancer
     --name MyFrontendIp"""


def argv(command: str) -> list[str]:
    """A seed command as az's argv (without the leading ``az``)."""
    words = shlex.split(command)
    assert words[0] == "az"
    return words[1:]


# --- installing az ------------------------------------------------------------------------------------------------
def _installed_version() -> str | None:
    if not AZ.exists():
        return None
    probe = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('azure-cli'))"],
        capture_output=True, text=True, timeout=120,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def _install() -> None:
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         f"azure-cli=={AZ_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            pytest.fail(
                f"could not install azure-cli {AZ_VERSION}: {shlex.join(step)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout[-5000:]}\nstderr:\n{done.stderr[-5000:]}",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def az_exe() -> Path:
    """The pinned az, installed into .cache/azcli-venv unless it is there already (a lock guards parallel runs)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "azcli-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version() != AZ_VERSION:
            _install()
        found = _installed_version()
    assert found == AZ_VERSION, f"{AZ} reports azure-cli {found!r} after installing, not {AZ_VERSION}"
    return AZ


# --- running az against a simulator -------------------------------------------------------------------------------
class AzCli:
    """az pointed at one simulator, with a config directory of its own."""

    def __init__(self, exe: Path, sim: SimHandle, config_dir: Path) -> None:
        self.exe = exe
        self.sim = sim
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
        env.update(
            AZURE_CONFIG_DIR=str(config_dir),
            AZURE_CORE_COLLECT_TELEMETRY="false",
            AZURE_CORE_NO_COLOR="true",
            AZURE_CORE_SURVEY_MESSAGE="false",
            REQUESTS_CA_BUNDLE=sim.info.ca_bundle,
            IDENTITY_ENDPOINT=sim.info.identity_endpoint,
            IDENTITY_HEADER=sim.info.identity_header,
        )
        self.env = env

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(self.exe), *args], env=self.env, capture_output=True, text=True, timeout=300)
        if ok:
            assert done.returncode == 0, (
                f"az {shlex.join(args)} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def login(self) -> None:
        """The recipe of docs/azcli.md."""
        self.run("cloud", "register", "--name", "LocalSim", "--endpoint-resource-manager", self.sim.info.arm_endpoint)
        self.run("cloud", "set", "--name", "LocalSim")
        self.run("login", "--identity", "--output", "none")
        shown = self.run("account", "show", "--query", "id", "--output", "tsv")
        assert shown.stdout.strip() == self.sim.subscription_id


@pytest.fixture
def az_on(az_exe: Path, armsim_factory: Callable[..., SimHandle], tmp_path: Path) -> Callable[[str], AzCli]:
    """``az_on("tutorial")``: a simulator with that scenario and az logged in to it."""

    def start(scenario: str) -> AzCli:
        sim = armsim_factory(scenario=scenario, time_scale=SCALE, throttle=False)
        cli = AzCli(az_exe, sim, tmp_path / "azure-config")
        cli.login()
        return cli

    return start


def _last(rid: str | None) -> str:
    assert rid
    return rid.rstrip("/").split("/")[-1]


# --- seed 003 -----------------------------------------------------------------------------------------------------
def test_tutorial_probe_and_rule_create(az_on: Callable[[str], AzCli]) -> None:
    az = az_on("tutorial-before-rules")
    net = az.sim.clients().network
    lb = net.load_balancers.get("myTutorial8", "myLoadBalancer")
    assert not lb.probes and not lb.load_balancing_rules

    az.run(*argv(SEED003_PROBE_CREATE))
    az.run(*argv(SEED003_RULE_CREATE))

    lb = net.load_balancers.get("myTutorial8", "myLoadBalancer")
    [probe] = lb.probes
    assert (probe.name, probe.protocol, probe.port) == ("myHealthProbe", "Tcp", 80)
    assert probe.provisioning_state == "Succeeded"
    [rule] = lb.load_balancing_rules
    assert (rule.name, rule.protocol, rule.frontend_port, rule.backend_port) == ("myLoadBalancerRule", "Tcp", 80, 80)
    assert _last(rule.frontend_ip_configuration.id) == "myFrontEndPool"
    # az 2.91 sends the pool as backendAddressPools (the Gateway-LB-era list), not backendAddressPool; NRP answers
    # with what was sent (azure-sdk-for-java#36195), so readers must look at both
    assert [_last(p.id) for p in rule.backend_address_pools] == ["myBackEndPool"]
    assert rule.probe.id == probe.id
    assert [r.id for r in probe.load_balancing_rules] == [rule.id]
    assert [r.id for r in lb.frontend_ip_configurations[0].load_balancing_rules] == [rule.id]
    assert [r.id for r in lb.backend_address_pools[0].load_balancing_rules] == [rule.id]


def test_tutorial_nic_leaves_the_pool_and_comes_back(az_on: Callable[[str], AzCli]) -> None:
    # the tutorial-era estate: its ip configuration is "ipConfig1", the name the seed passes, and az 2.91 selects the
    # ip configuration by exact name (on today's "ipconfig1" estate see test_azcli_tutorial.py)
    az = az_on("tutorial-basic")
    net = az.sim.clients().network

    def members() -> list[str]:
        pool = net.load_balancer_backend_address_pools.get("myTutorial8", "myLoadBalancer", "myBackEndPool")
        return sorted(c.id.split("/")[-3] for c in pool.backend_ip_configurations or [])

    def nic2_pools() -> list[str]:
        ipc = net.network_interfaces.get("myTutorial8", "myNic2").ip_configurations[0]
        return [_last(p.id) for p in ipc.load_balancer_backend_address_pools or []]

    assert members() == ["myNic1", "myNic2", "myNic3"]
    az.run(*argv(SEED003_POOL_REMOVE))
    assert members() == ["myNic1", "myNic3"]
    assert nic2_pools() == []
    az.run(*argv(SEED003_POOL_ADD))
    assert members() == ["myNic1", "myNic2", "myNic3"]
    assert nic2_pools() == ["myBackEndPool"]


# --- seed 001 -----------------------------------------------------------------------------------------------------
def _natpool_state(sim: SimHandle) -> dict[str, Any]:
    c = sim.clients()
    lb = c.network.load_balancers.get("MyResourceGroup", "MyLoadBalancer")
    vmss = c.compute.virtual_machine_scale_sets.get("MyResourceGroup", "MyVMSS")
    model_ipc = vmss.virtual_machine_profile.network_profile.network_interface_configurations[0].ip_configurations[0]
    instance_rules: dict[str, list[str]] = {}
    for nic in c.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(
        "MyResourceGroup", "MyVMSS"
    ):
        ipc = nic.ip_configurations[0]
        instance_rules[_last(nic.virtual_machine.id)] = sorted(
            _last(r.id) for r in ipc.load_balancer_inbound_nat_rules or []
        )
    return {
        "frontends": [f.name for f in lb.frontend_ip_configurations],
        "nat_pools": [p.name for p in lb.inbound_nat_pools or []],
        "nat_rules": sorted(r.name for r in lb.inbound_nat_rules or []),
        "model_nat_pools": [_last(p.id) for p in model_ipc.load_balancer_inbound_nat_pools or []],
        "latest": {
            vm.instance_id: vm.latest_model_applied
            for vm in c.compute.virtual_machine_scale_set_vms.list("MyResourceGroup", "MyVMSS")
        },
        "instance_rules": instance_rules,
    }


INITIAL = {
    "frontends": ["LoadBalancerFrontEnd", "MyFrontendIp"],
    "nat_pools": ["MyNatPool"],
    "nat_rules": ["MyNatPool.0", "MyNatPool.1", "MyNatPool.2"],
    "model_nat_pools": ["MyNatPool"],
    "latest": {"0": True, "1": True, "2": True},
    "instance_rules": {"0": ["MyNatPool.0"], "1": ["MyNatPool.1"], "2": ["MyNatPool.2"]},
}


def _refused_as_in_use(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0, f"az should have failed\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet" in done.stderr, done.stderr


def test_natpool_delete_first_is_refused(az_on: Callable[[str], AzCli]) -> None:
    az = az_on("vmss-natpool")
    assert _natpool_state(az.sim) == INITIAL
    _refused_as_in_use(az.run(*argv(SEED001_NATPOOL_DELETE), ok=False))
    assert _natpool_state(az.sim) == INITIAL


def test_natpool_removal_in_the_seeds_order(az_on: Callable[[str], AzCli]) -> None:
    az = az_on("vmss-natpool")
    assert _natpool_state(az.sim) == INITIAL

    az.run(*argv(SEED001_VMSS_UPDATE), "--output", "none")
    after_update = _natpool_state(az.sim)
    # the model no longer has the pool; the instances (Manual upgrade policy) still do, and so does the LB
    assert after_update == {**INITIAL, "model_nat_pools": [], "latest": {"0": False, "1": False, "2": False}}
    # still too early: the instances use the pool until the model is applied to them
    _refused_as_in_use(az.run(*argv(SEED001_NATPOOL_DELETE), ok=False))

    az.run(*argv(SEED001_UPDATE_INSTANCES))
    assert _natpool_state(az.sim) == {
        **INITIAL,
        "nat_rules": [],
        "model_nat_pools": [],
        "instance_rules": {"0": [], "1": [], "2": []},
    }

    az.run(*argv(SEED001_NATPOOL_DELETE))
    az.run(*argv(SEED001_FRONTEND_DELETE))
    assert _natpool_state(az.sim) == {
        "frontends": ["LoadBalancerFrontEnd"],
        "nat_pools": [],
        "nat_rules": [],
        "model_nat_pools": [],
        "latest": {"0": True, "1": True, "2": True},
        "instance_rules": {"0": [], "1": [], "2": []},
    }
    lb = az.sim.clients().network.load_balancers.get("MyResourceGroup", "MyLoadBalancer")
    assert [r.name for r in lb.load_balancing_rules] == ["MyLoadBalancerRule"]
    assert sorted(c.id.split("/")[-5] for c in lb.backend_address_pools[0].backend_ip_configurations) == ["0", "1", "2"]
