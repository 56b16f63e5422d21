"""The report people read: the HTML page rendered in headless Chromium (Debian ``chromium``) shows the load balancers
and the seeded violations, and its screenshot is kept under ``.cache/artifacts/``; the terminal tables fit 100
columns. The page test fails — never skips — when Chromium is missing (``.ci/run`` installs it)."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from poolkeeper.report import RunReport
from poolkeeper.report_render import print_report, render_html
from tests.conftest import SimHandle
from tests.e2e.test_guardrails import EXPECTED, violations_config
from tests.e2e.test_sweeps import sweep

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed for the report page test: apt-get install -y chromium "
                    "(.ci/run installs it)")
    return found


def violations_report(armsim_factory: Callable[..., SimHandle]) -> RunReport:
    sim = armsim_factory(scenario="violations")
    return sweep(violations_config(sim), apply=False)


def png_facts(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the decompressed image data) of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_the_html_report_in_headless_chromium_shows_load_balancers_and_violations(
        armsim_factory: Callable[..., SimHandle], tmp_path: Path) -> None:
    browser = chromium()
    report = violations_report(armsim_factory)
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    assert "http://" not in page.read_text().replace("http://www.w3.org/2000/svg", ""), "self-contained: no URLs"
    profile = tmp_path / "profile"
    dom = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    for lb in ("lbWeb", "lbSets", "lbBasic"):
        assert f'data-lb="{lb}"' in dom, f"no topology section for {lb}"
    for gid in EXPECTED:
        assert f'id="g-{gid}"' in dom, f"no findings section for {gid}"
    assert dom.count('class="finding"') == len(report.findings)
    assert dom.count('class="node violation') >= 5, "violations are marked in the topology pictures"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-violations.png"
    shot.unlink(missing_ok=True)
    subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--window-size=1280,2400",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    width, height, distinct = png_facts(shot.read_bytes())
    assert (width, height) == (1280, 2400)
    assert distinct > 50, "the screenshot is not a blank page"
    (ARTIFACTS / "report-violations.html").write_text(page.read_text(encoding="utf-8"), encoding="utf-8")


def test_terminal_tables_fit_100_columns(armsim_factory: Callable[..., SimHandle]) -> None:
    report = violations_report(armsim_factory)
    out = io.StringIO()
    print_report(report, Console(file=out, width=100, color_system=None))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 100
    for gid in EXPECTED:
        assert gid in text
    assert "Findings by guardrail" in text and "Changes" in text
