"""Timers: the scheduled compliance sweep that finds and repairs drift events missed.

The schedule is the app setting POOLKEEPER_SWEEP_SCHEDULE (default every 15 minutes, poolkeeper/settings.py).
"""

from __future__ import annotations

import azure.functions as func

from handlers.runtime import reconciler, workflows

bp = func.Blueprint()


@bp.timer_trigger(schedule="%POOLKEEPER_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False)
def compliance_sweep(timer: func.TimerRequest) -> None:
    from poolkeeper.service import compliance_sweep as run_sweep  # at first use: indexing does not load the reconciler

    run_sweep(reconciler(), workflows())
