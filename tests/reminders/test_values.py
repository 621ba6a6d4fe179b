"""The hot path's value types: dataclasses that behave as frozen ones do,
apart from refusing an assignment at run time (mypy refuses it)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, fields, replace

import pytest

from reminders.values import value_type


@value_type
class Point:
    x: int
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class FrozenPoint:
    x: int
    tags: tuple[str, ...] = field(default=())


def test_a_value_type_compares_hashes_and_replaces_as_a_frozen_dataclass_does() -> None:
    a, b = Point(1, ("a",)), Point(1, ("a",))
    assert a == b and hash(a) == hash(b)
    assert len({a, b, Point(2)}) == 2
    assert replace(a, x=3) == Point(3, ("a",))
    assert [f.name for f in fields(Point)] == [f.name for f in fields(FrozenPoint)]
    assert repr(a) == repr(FrozenPoint(1, ("a",))).replace("FrozenPoint", "Point")


def test_a_value_type_has_slots_and_no_instance_dict() -> None:
    point = Point(1)
    assert Point.__slots__ == ("x", "tags")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        point.extra = 1  # type: ignore[attr-defined]


def test_only_the_frozen_dataclass_refuses_an_assignment_at_run_time() -> None:
    # The difference value_type pays for its speed: mypy refuses the
    # assignment (checked with the rest of the code), Python does not.
    with pytest.raises(FrozenInstanceError):
        FrozenPoint(1).x = 2  # type: ignore[misc]
    point = Point(1)
    point.x = 2  # type: ignore[misc]
    assert point.x == 2
