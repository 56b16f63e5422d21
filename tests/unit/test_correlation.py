"""poolkeeper's correlation ids: recognisable without state (restarts, several instances), unique, strict."""

from __future__ import annotations

import uuid

from poolkeeper.correlation import MARKER, is_own_correlation_id, new_correlation_id, own_correlation_id


def test_new_ids_are_version_8_uuids_with_the_marker_and_unique() -> None:
    ids = {new_correlation_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in list(ids)[:200]:
        parsed = uuid.UUID(value)
        assert parsed.version == 8 and parsed.variant == uuid.RFC_4122
        assert value.startswith(MARKER) and is_own_correlation_id(value) and is_own_correlation_id(value.upper())


def test_foreign_ids_are_not_recognised() -> None:
    assert not any(is_own_correlation_id(str(uuid.uuid4())) for _ in range(2000))
    own = new_correlation_id()
    for foreign in ("", None, "c", own[:-1], own + "0", own.replace("-8", "-4", 1), "x" + own[1:],
                    own[:19] + "c" + own[20:]):
        assert not is_own_correlation_id(foreign), foreign


def test_a_requested_foreign_id_is_replaced_and_an_own_one_kept() -> None:
    own = new_correlation_id()
    assert own_correlation_id(own) == own
    replaced = own_correlation_id(str(uuid.uuid4()))
    assert is_own_correlation_id(replaced)
    assert is_own_correlation_id(own_correlation_id(None))
