"""`pip install .` gives working `poolkeeper` and `armsim` commands (issue 14).

The project is built by its own build backend and installed into a fresh virtual environment. To stay fast and
offline, the build uses the setuptools already installed (``--no-build-isolation``) and the dependencies are not
downloaded again (``--no-deps``): a ``.pth`` file makes the test venv see the development venv's site-packages. The
commands then run from a directory outside the repository, so only the installed copy can answer.
"""

from __future__ import annotations

import re
import shutil
import site
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what the build needs (pyproject.toml lists the packages explicitly)
SHIPPED = ("pyproject.toml", "README.md", "requirements.txt", "function_app.py", "poolkeeper", "handlers", "armsim",
           "poolkeeper_local")

pytestmark = pytest.mark.packaging


def _requirements(name: str) -> set[str]:
    lines = (ROOT / name).read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith(("#", "-r"))}


def test_extras_agree_with_the_requirements_files() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert set(extras["armsim"]) == _requirements("requirements-armsim.txt")
    assert set(extras["dev"]) == _requirements("requirements-dev.txt")
    assert project["dynamic"] == ["version", "dependencies"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project installed by pip from the repository; returns its bin directory."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    purelib = next((env_dir / "lib").glob("python3*/site-packages"))
    (purelib / "dev-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    # build from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SHIPPED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    py = env_dir / "bin" / "python"
    out = subprocess.run(
        [str(py), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-cache-dir", str(source)],
        cwd=env_dir, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # the installed copy, not the repository, must be what runs
    assert (purelib / "poolkeeper" / "cli.py").exists() and (purelib / "armsim" / "network").is_dir()
    assert (purelib / "function_app.py").exists() and (purelib / "handlers" / "timers.py").exists()
    return env_dir / "bin"


def _run(bin_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / argv[0]), *argv[1:]], cwd=bin_dir, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "100"})


def test_poolkeeper_command(installed: Path) -> None:
    out = _run(installed, "poolkeeper", "--help")
    assert out.returncode == 0, out.stderr
    for command in ("plan", "apply", "serve", "natpool", "operation"):
        assert command in out.stdout
    version = _run(installed, "poolkeeper", "--version")
    assert version.returncode == 0 and re.search(r"\d+\.\d+\.\d+", version.stdout), version.stdout + version.stderr


def test_armsim_command(installed: Path) -> None:
    out = _run(installed, "armsim", "--help")
    assert out.returncode == 0, out.stderr
    assert "serve" in out.stdout and "env" in out.stdout


def test_installed_package_is_not_the_checkout(installed: Path) -> None:
    out = _run(installed, "python", "-c", "import poolkeeper, armsim; print(poolkeeper.__file__, armsim.__file__)")
    assert out.returncode == 0, out.stderr
    assert str(ROOT) not in out.stdout and out.stdout.count("site-packages") == 2


def test_installed_package_has_every_subpackage_and_the_report_files(installed: Path) -> None:
    code = ("import poolkeeper.planning, poolkeeper.edge.routes, poolkeeper.guardrails.catalog, armsim.resources; "
            "from poolkeeper.report import schema; from poolkeeper.report_render import _template; "
            "print(schema()['title'], len(_template()) > 1000)")
    out = _run(installed, "python", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "poolkeeper run report True"
