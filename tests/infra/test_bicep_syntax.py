"""Offline gates for infra/: every Bicep file parses, checkov passes, and main.parameters.json fits main.bicep.

There is no Bicep compiler in CI (and no Azure), so the syntax gate is pycep-parser (the parser checkov itself uses)
and the policy gate is checkov's Bicep framework. Each gate is a plain function, and each has a test proving it
reports a broken input, so a gate that silently passes everything would be caught here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN_BICEP = INFRA / "main.bicep"
MAIN_PARAMETERS = INFRA / "main.parameters.json"
CHECKOV_TIMEOUT_S = 300

_PARSER = BicepParser()
# `${AZURE_ENV_NAME}`-style values are substituted by azd from its environment before deployment;
# `${NAME=default}` gives the value used when the environment has none (as Microsoft's azd templates write it, e.g.
# Azure-Samples/azure-search-openai-demo's `${AZURE_APP_SERVICE_SKU=B1}`).
_AZD_SUBSTITUTION = re.compile(r"^\$\{[A-Z0-9_]+(?:=(?P<default>[^}]*))?\}$")
_SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "bool": (bool,),
    "array": (list,),
    "object": (dict,),
}


def bicep_files(root: Path = INFRA) -> list[Path]:
    """Every Bicep file under ``root``: main template, modules and the post-deploy Event Grid template."""
    return sorted(root.rglob("*.bicep"))


def bicep_syntax_errors(paths: Iterable[Path]) -> dict[Path, str]:
    """Parse each file with pycep; map every file that does not parse to its error.

    Any exception counts: pycep raises lark errors for grammar violations and ``ValueError`` from its validator,
    and a transformer crash on a file is just as much a reason checkov would not see its resources.
    """
    errors: dict[Path, str] = {}
    for path in paths:
        try:
            _PARSER.parse(file_path=path)
        except Exception as exc:  # every failure to parse is a finding, whatever its type
            errors[path] = f"{type(exc).__name__}: {exc}"
    return errors


def parameter_file_problems(parameters_file: Mapping[str, Any], bicep: Mapping[str, Any]) -> list[str]:
    """What is wrong with a deployment parameters file for a parsed Bicep template (empty list: nothing).

    Catches the mistakes that otherwise surface only at `azd provision`: setting a parameter the template does not
    declare, leaving a required one (no default) unset, or giving a literal of the wrong JSON type.
    """
    problems: list[str] = []
    declared: Mapping[str, Any] = bicep.get("parameters") or {}
    given = parameters_file.get("parameters")
    if not isinstance(given, dict):
        return ["the file has no 'parameters' object"]
    for name in sorted(set(given) - set(declared)):
        problems.append(f"{name}: set in the parameters file but not declared in the template")
    for name, decl in sorted(declared.items()):
        if decl.get("default") is None and name not in given:
            problems.append(f"{name}: required by the template (no default) but not set")
    for name, entry in sorted(given.items()):
        if not isinstance(entry, dict) or not ({"value", "reference"} & set(entry)):
            problems.append(f"{name}: needs a 'value' (or Key Vault 'reference')")
            continue
        if name not in declared or "value" not in entry:
            continue
        value = entry["value"]
        substitution = _AZD_SUBSTITUTION.match(value) if isinstance(value, str) else None
        if substitution and substitution.group("default") is None:
            continue  # azd fills it in; its type is checked by ARM against the substituted text
        if substitution:
            value = substitution.group("default")  # what deploys when the azd environment does not set it
        allowed = next((d["argument"] for d in declared[name].get("decorators") or [] if d["type"] == "allowed"), None)
        if allowed is not None and value not in allowed:
            problems.append(f"{name}: value {value!r} is not one of the allowed values {allowed}")
        if substitution:
            continue  # the default is text; ARM converts it to the parameter's type
        expected = _JSON_TYPES.get(str(declared[name].get("type")))
        if expected is None:
            continue
        # bool is an int in Python; do not let `true` pass as an int parameter.
        wrong_bool = isinstance(value, bool) and bool not in expected
        if wrong_bool or not isinstance(value, expected):
            problems.append(f"{name}: value {value!r} does not match parameter type {declared[name].get('type')}")
    return problems


@dataclass(frozen=True)
class CheckovReport:
    """The parts of checkov's JSON report the gate acts on."""

    failed: list[str] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    resource_count: int = 0

    def problems(self) -> list[str]:
        """Reasons the gate fails: a failed check or a file checkov could not parse (which it does NOT exit on)."""
        out = [f"failed check: {item}" for item in self.failed]
        out += [f"checkov could not parse: {path}" for path in self.parsing_errors]
        return out


def parse_checkov_json(output: str) -> CheckovReport:
    """Read ``checkov -o json`` output for the bicep framework.

    Checkov prints one report object per framework (a list when several ran) and, when it found no resources at
    all, only a bare summary; both shapes are handled so an empty scan reads as ``resource_count == 0`` instead of
    a crash. Parsing errors are listed in the report but do not change checkov's exit code, hence this reader.
    """
    data = json.loads(output)
    reports = data if isinstance(data, list) else [data]
    failed: list[str] = []
    parsing_errors: list[str] = []
    skipped: dict[str, str] = {}
    resources = 0
    for report in reports:
        if "results" not in report:
            continue
        results = report["results"]
        for check in results.get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}")
        parsing_errors += [str(path) for path in results.get("parsing_errors", [])]
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment") or ""
            skipped[f"{check['check_id']} {check['resource']}"] = reason.strip()
        resources += int(report.get("summary", {}).get("resource_count", 0))
    return CheckovReport(failed=failed, parsing_errors=parsing_errors, skipped=skipped, resource_count=resources)


def run_checkov(directory: Path) -> CheckovReport:
    """Run the venv's checkov over ``directory`` (bicep framework, no downloads) and read its JSON report."""
    checkov = Path(sys.executable).with_name("checkov")
    assert checkov.exists(), f"checkov is not installed next to {sys.executable}; install requirements-dev.txt"
    proc = subprocess.run(
        [str(checkov), "-d", str(directory), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=CHECKOV_TIMEOUT_S,
        check=False,
    )
    # Exit code 1 only means "failed checks"; anything else is checkov itself breaking.
    assert proc.returncode in (0, 1), f"checkov exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    try:
        return parse_checkov_json(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"checkov printed no JSON report ({exc}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        ) from exc


# ---------------------------------------------------------------------------------------------------------------
# Syntax gate
# ---------------------------------------------------------------------------------------------------------------


def test_infra_has_the_expected_bicep_files() -> None:
    """Guard the gate's input: an empty glob would make every parse check pass vacuously."""
    names = {path.relative_to(INFRA).as_posix() for path in bicep_files()}
    assert {"main.bicep", "eventgrid.bicep"} <= names, f"bicep files found under infra/: {sorted(names)}"


def test_every_bicep_file_parses() -> None:
    """Syntax gate: each infra/**/*.bicep must parse, since no Bicep compiler runs before `azd up`."""
    errors = bicep_syntax_errors(bicep_files())
    assert not errors, "Bicep files that do not parse:\n" + "\n".join(f"{p}: {e}" for p, e in errors.items())


@pytest.mark.parametrize(
    ("label", "breakage"),
    [
        ("missing closing brace", lambda text: text.rstrip()[: text.rstrip().rindex("}")]),
        ("'==' instead of '='", lambda text: text.replace("targetScope = ", "targetScope == ", 1)),
        ("unterminated resource", lambda text: text + "\nresource oops 'Microsoft.Foo/bars@2024-01-01' = {\n"),
    ],
)
def test_syntax_gate_reports_a_broken_file(tmp_path: Path, label: str, breakage: Any) -> None:
    """The gate must flag a broken copy of main.bicep (and only it), else the gate above proves nothing."""
    good = tmp_path / "good.bicep"
    broken = tmp_path / "broken.bicep"
    good.write_text(MAIN_BICEP.read_text())
    broken.write_text(breakage(MAIN_BICEP.read_text()))
    errors = bicep_syntax_errors([good, broken])
    assert list(errors) == [broken], f"{label}: gate reported {errors}"


# ---------------------------------------------------------------------------------------------------------------
# main.parameters.json against main.bicep
# ---------------------------------------------------------------------------------------------------------------


def test_main_parameters_match_main_bicep() -> None:
    """Every parameter set is declared, every required one is set, literals have the declared type."""
    parameters_file = json.loads(MAIN_PARAMETERS.read_text())
    problems = parameter_file_problems(parameters_file, _PARSER.parse(file_path=MAIN_BICEP))
    assert not problems, "main.parameters.json does not fit main.bicep:\n" + "\n".join(problems)


def test_parameter_check_reports_unknown_missing_and_mistyped() -> None:
    """The parameter check must catch each kind of mistake it claims to (so the test above can fail)."""
    template = _PARSER.parse(file_path=MAIN_BICEP)
    parameters_file = json.loads(MAIN_PARAMETERS.read_text())
    params = parameters_file["parameters"]
    del params["managedResourceGroups"]  # required, no default
    params["noSuchParameter"] = {"value": "x"}
    params["poolkeeperBindings"] = {"value": "not-an-array"}
    params["eventsDelivery"] = {"value": "${POOLKEEPER_EVENTS_DELIVERY=eventHub}"}
    problems = "\n".join(parameter_file_problems(parameters_file, template))
    assert "eventsDelivery: value 'eventHub' is not one of the allowed values" in problems
    assert "managedResourceGroups: required" in problems
    assert "noSuchParameter: set in the parameters file but not declared" in problems
    assert "poolkeeperBindings: value 'not-an-array' does not match parameter type array" in problems


# ---------------------------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def infra_checkov() -> CheckovReport:
    """One checkov run over infra/ shared by the tests below (a run takes several seconds)."""
    return run_checkov(INFRA)


def test_checkov_passes_on_infra(infra_checkov: CheckovReport) -> None:
    """No failed checks and no file checkov could not parse (a parse error alone exits 0, so it is read here)."""
    assert infra_checkov.resource_count > 0, "checkov found no Bicep resources under infra/"
    problems = infra_checkov.problems()
    assert not problems, "checkov on infra/:\n" + "\n".join(problems)


def test_every_checkov_skip_is_justified_and_live(infra_checkov: CheckovReport) -> None:
    """Each `checkov:skip=` carries a reason and still suppresses a check that fires (no stale skips)."""
    unjustified = [key for key, reason in infra_checkov.skipped.items() if len(reason) < 20]
    assert not unjustified, f"checkov skips without a real reason: {unjustified}"
    declared: set[str] = set()
    for path in bicep_files():
        declared |= {match.group(1) for match in _SKIP_COMMENT.finditer(path.read_text())}
    applied = {key.split(" ", 1)[0] for key in infra_checkov.skipped}
    assert declared == applied, f"skip comments that suppress nothing: {sorted(declared - applied)}"


def test_checkov_gate_reports_failed_checks_and_parse_errors(tmp_path: Path) -> None:
    """A known-bad resource must produce a failed check, and an unparsable file a parsing error."""
    (tmp_path / "bad.bicep").write_text(
        "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: 'stbad'\n"
        "  location: 'westeurope'\n"
        "  kind: 'StorageV2'\n"
        "  sku: {\n    name: 'Standard_LRS'\n  }\n"
        "  properties: {\n    supportsHttpsTrafficOnly: false\n  }\n"
        "}\n"
    )
    (tmp_path / "broken.bicep").write_text("resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n")
    report = run_checkov(tmp_path)
    assert any(item.startswith("CKV_AZURE_3 ") for item in report.failed), report.failed
    assert [Path(p).name for p in report.parsing_errors] == ["broken.bicep"], report.parsing_errors
    problems = report.problems()
    assert any("could not parse" in p for p in problems) and any("failed check" in p for p in problems)


def test_checkov_report_reader_handles_an_empty_scan() -> None:
    """Checkov prints a bare summary when it finds nothing; it must read as zero resources (which the gate rejects)."""
    bare = '{"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}'
    report = parse_checkov_json(bare)
    assert report.resource_count == 0 and report.problems() == []
