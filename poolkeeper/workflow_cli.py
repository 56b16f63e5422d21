"""CLI commands of the NAT-pool workflows (``natpool remove|migrate``, ``rule change-probed-port``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Registered by the workflows; nothing yet."""


def run(args: argparse.Namespace) -> int:
    raise ValueError(f"unknown command {args.command!r}")
