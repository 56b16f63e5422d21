"""Seed 003 (the tutorial) run whole with az 2.91 from an empty subscription, and seed 002's scale-set commands.

The commands are read from the seed document itself (its ``azurecli``/``bash`` code blocks; backslash continuations
joined, the ``for i in `seq 1 3``` loops run for i = 1, 2, 3), so the test runs exactly what the tutorial prints.
az reaches armsim the way docs/azcli.md says; ``--generate-ssh-keys`` writes to a temporary HOME and
``--custom-data cloud-init.txt`` reads the tutorial's own cloud-init file from the working directory.

The estate the commands build is compared with armsim's ``tutorial`` scenario (meaningful properties, ids
case-insensitively): the scenario is what az builds today.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.armsim.test_azcli import SCALE, AzCli, _last, az_exe  # noqa: F401  (az_exe is a fixture)
from tests.conftest import SimHandle

pytestmark = pytest.mark.azcli

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"  # copies of the source documents (SOURCES.md)
SEED003 = SEEDS / "003_221c2aa7bfce5792.txt"
SEED002 = SEEDS / "002_3cbaf58cac282b5e.txt"
RG = "myTutorial8"


def seed003_commands() -> tuple[list[list[str]], str]:
    """(the tutorial's az commands as argv lists, in order; the cloud-init file's text)."""
    text = SEED003.read_text()
    cloud_init = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert cloud_init is not None
    commands: list[list[str]] = []
    for block in re.findall(r"```(?:azurecli|bash)\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n", " ", block)
        loop = re.match(r"\s*for i in `seq 1 3`; do\n(.*)\ndone\s*$", joined, re.S)
        bodies = [loop.group(1).replace("$i", str(i)) for i in (1, 2, 3)] if loop else [joined]
        for body in bodies:
            for line in body.strip().splitlines():
                words = shlex.split(line)
                assert words[0] == "az", line
                commands.append(words[1:])
    return commands, cloud_init.group(1)


class TutorialAz(AzCli):
    """az with a HOME and working directory of its own (ssh keys, cloud-init.txt)."""

    def __init__(self, exe: Path, sim: SimHandle, workdir: Path) -> None:
        super().__init__(exe, sim, workdir / "azure-config")
        (workdir / "home").mkdir()
        self.env["HOME"] = str(workdir / "home")
        self.workdir = workdir

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(self.exe), *args], env=self.env, capture_output=True, text=True, timeout=300,
                              cwd=self.workdir)
        if ok:
            assert done.returncode == 0, (
                f"az {shlex.join(args)} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done


def _rel(rid: str | None) -> str:
    """An id without its subscription, lower case (ARM ids are case-insensitive)."""
    assert rid
    return rid.lower().split("/resourcegroups/", 1)[1]


def estate(sim: SimHandle) -> dict[str, Any]:
    """The meaningful properties of the tutorial's resource group, read through the SDK."""
    c = sim.clients()
    net, compute = c.network, c.compute
    pip = net.public_ip_addresses.get(RG, "myPublicIP")
    lb = net.load_balancers.get(RG, "myLoadBalancer")
    vnet = net.virtual_networks.get(RG, "myVnet")
    nsg = net.network_security_groups.get(RG, "myNetworkSecurityGroup")
    avset = compute.availability_sets.get(RG, "myAvailabilitySet")
    rules = []
    for r in lb.load_balancing_rules:
        pools = [p.id for p in r.backend_address_pools or []] or ([r.backend_address_pool.id]
                                                                  if r.backend_address_pool else [])
        rules.append((r.name, r.protocol, r.frontend_port, r.backend_port, _rel(r.frontend_ip_configuration.id),
                      sorted(_rel(p) for p in pools), _rel(r.probe.id), r.enable_floating_ip,
                      r.idle_timeout_in_minutes))
    nics = []
    for nic in net.network_interfaces.list(RG):
        for ipc in nic.ip_configurations:
            nics.append((nic.name, ipc.name, ipc.primary, _rel(ipc.subnet.id), _rel(nic.network_security_group.id),
                         sorted(_rel(p.id) for p in ipc.load_balancer_backend_address_pools or []),
                         ipc.private_ip_allocation_method, _rel(nic.virtual_machine.id) if nic.virtual_machine
                         else None))
    vms = []
    for vm in compute.virtual_machines.list(RG):
        img = vm.storage_profile.image_reference
        os_disk = vm.storage_profile.os_disk
        linux = vm.os_profile.linux_configuration
        vms.append((vm.name, vm.hardware_profile.vm_size, _rel(vm.availability_set.id),
                    [_rel(n.id) for n in vm.network_profile.network_interfaces],
                    (img.publisher, img.offer, img.sku, img.version), os_disk.os_type, os_disk.create_option.lower(),
                    os_disk.managed_disk is not None, os_disk.vhd is None, vm.os_profile.admin_username,
                    linux.disable_password_authentication, len(linux.ssh.public_keys), vm.provisioning_state))
    return {
        "group": c.resources.resource_groups.get(RG).location if hasattr(c, "resources") else "westus",
        "pip": (pip.sku.name, pip.public_ip_allocation_method, pip.public_ip_address_version, bool(pip.ip_address),
                _rel(pip.ip_configuration.id) if pip.ip_configuration else None),
        "lb": (lb.sku.name, [(f.name, _rel(f.public_ip_address.id)) for f in lb.frontend_ip_configurations]),
        "pools": [(p.name, sorted(_rel(i.id) for i in p.backend_ip_configurations or [])) for p in
                  lb.backend_address_pools],
        "probes": [(p.name, p.protocol, p.port, p.interval_in_seconds, p.number_of_probes) for p in lb.probes],
        "rules": rules,
        "vnet": (vnet.address_space.address_prefixes, [(s.name, s.address_prefix) for s in vnet.subnets]),
        "nsg": [(r.name, r.priority, r.protocol, r.destination_port_range, r.access, r.direction,
                 r.source_address_prefix, r.source_port_range, r.destination_address_prefix)
                for r in nsg.security_rules],
        "nics": sorted(nics),
        "avset": (avset.sku.name, avset.platform_fault_domain_count, avset.platform_update_domain_count,
                  sorted(_rel(v.id) for v in avset.virtual_machines)),
        "vms": sorted(vms),
        "top_level": sorted((r["type"].lower(), r["name"].lower()) for r in sim.arm(
            "GET", f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}/resources",
            api_version="2024-11-01").json()["value"]),
    }


def _wait(what: Callable[[], bool], seconds: float = 60) -> None:
    """Wait for a long-running outcome (not a speed assertion: the bound only stops a hung test)."""
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)


def test_seed003_whole_tutorial_from_empty_builds_the_tutorial_scenario(
    az_exe: Path, armsim_factory: Callable[..., SimHandle], tmp_path: Path  # noqa: F811
) -> None:
    commands, cloud_init = seed003_commands()
    verbs = [" ".join(w for w in c if not w.startswith("-"))[:40] for c in commands]
    assert len(commands) == 19, verbs  # 15 distinct commands; the NIC and VM loops run three times each
    (tmp_path / "cloud-init.txt").write_text(cloud_init)
    sim = armsim_factory(scenario="empty", time_scale=SCALE, throttle=False)
    az = TutorialAz(az_exe, sim, tmp_path)
    az.login()

    *build, show_ip, pool_remove, pool_add, group_delete = commands
    for argv in build:
        az.run(*argv, "--output", "none")
    assert (tmp_path / "home" / ".ssh" / "id_rsa.pub").exists()
    c = sim.clients()
    # --no-wait: the three VMs are still being created; wait for ARM to finish them
    _wait(lambda: sorted((v.name, v.provisioning_state) for v in c.compute.virtual_machines.list(RG))
          == [(f"myVM{i}", "Succeeded") for i in (1, 2, 3)])
    vm1 = c.compute.virtual_machines.get(RG, "myVM1")
    assert vm1.storage_profile.image_reference.exact_version == "14.04.201606270"  # "latest" from the catalog

    built = estate(sim)
    shown = az.run(*show_ip)
    assert shown.stdout.strip() == c.network.public_ip_addresses.get(RG, "myPublicIP").ip_address

    # step 5 verbatim: az 2.91 selects the ip configuration by exact name (aaz nic/ip_config/lb_pool/_remove.py,
    # `e[1].name == ip_config_name`) and its own `nic create` named it "ipconfig1": az refuses, sending nothing
    for argv in (pool_remove, pool_add):
        refused = az.run(*argv, ok=False)
        assert refused.returncode != 0 and "ResourceNotFoundError" in refused.stderr, refused.stderr
    assert estate(sim) == built
    # with the name az gave it, the NIC leaves the pool and comes back
    members = lambda: [_last(i.id.split("/ipConfigurations/")[0]) for i in  # noqa: E731
                       c.network.load_balancer_backend_address_pools.get(
                           RG, "myLoadBalancer", "myBackEndPool").backend_ip_configurations or []]
    az.run(*[("ipconfig1" if w == "ipConfig1" else w) for w in pool_remove], "--output", "none")
    assert sorted(members()) == ["myNic1", "myNic3"]
    az.run(*[("ipconfig1" if w == "ipConfig1" else w) for w in pool_add], "--output", "none")
    assert sorted(members()) == ["myNic1", "myNic2", "myNic3"]

    az.run(*group_delete)
    _wait(lambda: sim.arm("GET", f"/subscriptions/{sim.subscription_id}/resourcegroups/{RG}",
                          api_version="2024-11-01").status_code == 404)
    deployments = [e for e in sim.requests_log() if "/deployments/" in e["path"] and e["method"] == "PUT"]
    assert len(deployments) == 5  # lb create, availability-set create, three vm create

    # the estate equals the tutorial scenario (a second simulator, read after the first one is done with)
    scenario = armsim_factory(scenario="tutorial", time_scale=SCALE, throttle=False)
    assert estate(scenario) == built


def _seed002_commands() -> list[list[str]]:
    text = SEED002.read_text()
    wanted = ("az vmss show ", "az vmss list-instances ", "az vmss scale ", "az vmss get-instance-view ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(wanted)]
    assert len(lines) == 4, lines
    fill = {"<scale-set-name>": "MyVMSS", "<resource-group>": "MyResourceGroup", "<count>": "4"}
    out = []
    for ln in lines:
        for k, v in fill.items():
            ln = ln.replace(k, v)
        out.append(shlex.split(ln)[1:])
    return out


def test_seed002_scale_set_commands(az_exe: Path, armsim_factory: Callable[..., SimHandle],  # noqa: F811
                                    tmp_path: Path) -> None:
    import json

    show, list_instances, scale, instance_view = _seed002_commands()
    sim = armsim_factory(scenario="vmss-natpool", time_scale=SCALE, throttle=False)
    az = AzCli(az_exe, sim, tmp_path / "azure-config")
    az.login()
    shown = json.loads(az.run(*show, "--output", "json").stdout)
    assert (shown["name"], shown["sku"]["capacity"]) == ("MyVMSS", 3)
    listed = json.loads(az.run(*list_instances, "--output", "json").stdout)
    assert sorted(i["instanceId"] for i in listed) == ["0", "1", "2"]
    az.run(*scale, "--output", "none")
    c = sim.clients()
    assert c.compute.virtual_machine_scale_sets.get("MyResourceGroup", "MyVMSS").sku.capacity == 4
    assert len(list(c.compute.virtual_machine_scale_set_vms.list("MyResourceGroup", "MyVMSS"))) == 4
    view = json.loads(az.run(*instance_view, "--output", "json").stdout)
    assert view["virtualMachine"]["statusesSummary"][0]["count"] == 4, view


def test_vmss_create_from_empty(az_exe: Path, armsim_factory: Callable[..., SimHandle],  # noqa: F811
                                tmp_path: Path) -> None:
    """``az vmss create`` (not in the seeds, asked for by issue 15): az's template with VNet, NSG, public IP, Standard
    load balancer with a NAT rule V2 ("frontendPortRangeStart": "50000", a string), and a Flexible scale set."""
    sim = armsim_factory(scenario="empty", time_scale=SCALE, throttle=False)
    az = TutorialAz(az_exe, sim, tmp_path)
    az.login()
    az.run("group", "create", "--name", "g", "--location", "westus", "--output", "none")
    az.run("vmss", "create", "--resource-group", "g", "--name", "myScaleSet", "--image", "Ubuntu2204",
           "--admin-username", "azureuser", "--generate-ssh-keys", "--instance-count", "2", "--output", "none")
    c = sim.clients()
    vmss = c.compute.virtual_machine_scale_sets.get("g", "myScaleSet")
    assert (vmss.orchestration_mode, vmss.sku.capacity, vmss.provisioning_state) == ("Flexible", 2, "Succeeded")
    lb = c.network.load_balancers.get("g", "myScaleSetLB")
    assert lb.sku.name == "Standard"
    [rule] = lb.inbound_nat_rules
    assert (rule.frontend_port_range_start, rule.backend_port) == (50000, 22)
    vms = sorted(v.name for v in c.compute.virtual_machines.list("g"))
    assert vms == ["myScaleSet_00000000", "myScaleSet_00000001"]
    # issue 13: az vmss list-instances lists a Flexible scale set's members (instance id = VM name); az's template
    # puts the pool in the Flexible model, so the members arrive in it; one pool GET gives every member's NAT rule V2
    # port (inboundNatRulesPortMapping)
    import json

    listed = json.loads(az.run("vmss", "list-instances", "--resource-group", "g", "--name", "myScaleSet",
                               "--output", "json").stdout)
    assert sorted(i["instanceId"] for i in listed) == vms
    [pool] = lb.backend_address_pools
    pool = c.network.load_balancer_backend_address_pools.get("g", "myScaleSetLB", pool.name)
    assert len(pool.backend_ip_configurations or []) == 2
    ports = sorted(m.frontend_port for a in pool.load_balancer_backend_addresses or []
                   for m in a.inbound_nat_rules_port_mapping or [])
    assert ports == [50000, 50001]
