"""``make demo`` is the main job: it must finish cleanly and show what the issues promise."""

from __future__ import annotations

import io

from poolkeeper_local.demo import run_demo


def test_demo_runs_both_acts_and_tells_the_story() -> None:
    out = io.StringIO()
    assert run_demo(time_scale=0.02, out=out) == 0, out.getvalue()[-3000:]
    text = out.getvalue()
    for port in ("50001", "50002", "50003", "50004"):
        assert port in text
    assert "myNic4 in myBackEndPool: True" in text
    assert "myNic4 left myBackEndPool and its NAT rule was deleted: True" in text
    assert "Act 2" in text and "NAT rule V2" in text
    assert "demo complete" in text
