"""README's module table names every module of the deployable packages (issue 10: "README's module table lists
every module"): a module added without a row fails here, so the table cannot silently fall behind the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOYABLE = ("poolkeeper", "handlers", "poolkeeper_local")


def module_table(readme: str) -> str:
    """The rows of the table headed ``| module | what it decides or does |``."""
    start = readme.index("| module | what it decides or does |")
    rows = re.match(r"(?:\|[^\n]*\n)+", readme[start:])
    assert rows is not None
    return rows.group(0)


def unnamed_modules(table: str) -> list[str]:
    """Top-level modules and subpackages of the deployable packages that no row names (a subpackage row such as
    ``poolkeeper/planning/`` covers its modules; ``report*.py`` covers ``report_render.py``)."""
    missing: list[str] = []
    for package in DEPLOYABLE:
        for path in sorted((ROOT / package).iterdir()):
            if path.name.startswith(("_", ".")) or path.name == "templates":
                continue
            if path.is_dir() and (path / "__init__.py").exists():
                if f"{package}/{path.name}/" not in table:
                    missing.append(f"{package}/{path.name}/")
            elif path.suffix == ".py":
                named = [f"{package}/{path.name}", f"`{path.name}`", f"{path.stem}.py"]
                globbed = any(re.fullmatch(g.replace("*", ".*"), path.name)
                              for g in re.findall(rf"{package}/([\w*]+\*[\w*]*\.py)", table))
                unlisted = not globbed and not any(n in table for n in named)
                if unlisted if package == "poolkeeper" else f"{package}/" not in table:
                    missing.append(f"{package}/{path.name}")
    return missing


def test_every_deployable_module_has_a_row() -> None:
    table = module_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert unnamed_modules(table) == []


def test_a_module_without_a_row_is_caught() -> None:
    table = module_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "poolkeeper/pacing.py" in unnamed_modules(table.replace("`poolkeeper/pacing.py`", "`elsewhere`"))
