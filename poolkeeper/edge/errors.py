"""The ONE exception → status table of the HTTP edge.

Every route handler raises what its domain raises; :func:`answer_for` turns it into the answer. An exception not in
the table is a bug: 500 with an error id, logged with its traceback (and only then).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from poolkeeper.edge.answer import HttpAnswer, error
from poolkeeper.edge.limits import BodyError
from poolkeeper.edge.query import QueryError
from poolkeeper.logs import get_logger

if TYPE_CHECKING:
    from poolkeeper.gateway import ArmRefused
    from poolkeeper.workflows.preconditions import PreconditionsFailed

log = get_logger("edge")


class InvalidRequest(ValueError):
    """The request breaks its route's schema or rules (HTTP 400)."""


class NotFound(LookupError):
    """Nothing at this route with these parameters (HTTP 404)."""


class Forbidden(PermissionError):
    """Outside poolkeeper's scopes (HTTP 403); nothing was read or changed."""


Extra = Callable[[Any], dict[str, Any]]


def _none(_: Any) -> dict[str, Any]:
    return {}


def _refusal(err: ArmRefused) -> dict[str, Any]:
    return {"code": err.code}


def _problems(err: PreconditionsFailed) -> dict[str, Any]:
    return {"problems": err.problem_dicts()}


@cache
def status_table() -> tuple[tuple[type[BaseException], int, Extra], ...]:
    """(exception type, status, extra body fields) — the first match wins. Built at first use: the exception types
    live in the reconciler, gateway and workflows, which the Functions host need not load to index the routes."""
    from poolkeeper.gateway import ArmRefused
    from poolkeeper.maintenance import MaintenanceRefused
    from poolkeeper.reconciler import ReplanLimitReached
    from poolkeeper.workflows.intents import BadRequest
    from poolkeeper.workflows.operations import OutOfScope
    from poolkeeper.workflows.preconditions import PreconditionsFailed
    from poolkeeper.workflows.store import OperationNotFound

    return (
        *_STATIC,
        (BadRequest, 400, _none),
        (OutOfScope, 403, _none),
        (OperationNotFound, 404, _none),
        (PreconditionsFailed, 409, _problems),
        (MaintenanceRefused, 409, _none),
        (ArmRefused, 409, _refusal),
        (ReplanLimitReached, 503, _none),
    )


_STATIC: tuple[tuple[type[BaseException], int, Extra], ...] = (
    (QueryError, 400, _none),
    (InvalidRequest, 400, _none),
    (Forbidden, 403, _none),
    (NotFound, 404, _none),
)


def status_of(err: BaseException) -> int | None:
    """The table's status for ``err`` (None if it is not an expected refusal)."""
    if isinstance(err, BodyError):
        return err.status
    for kind, status, _extra in status_table():
        if isinstance(err, kind):
            return status
    return None


def answer_for(err: BaseException, **extra: Any) -> HttpAnswer:
    """The answer for ``err``: its table row, or a 500 with an error id (logged with the traceback)."""
    if isinstance(err, BodyError):
        return error(err.status, str(err), **extra)
    for kind, status, more in status_table():
        if isinstance(err, kind):
            return error(status, str(err), **more(err), **extra)
    error_id = str(uuid.uuid4())
    log.error("unhandled error", exc_info=err, extra={"error_id": error_id})
    return error(500, f"internal error ({type(err).__name__}); see the log for error id {error_id}", **extra)
