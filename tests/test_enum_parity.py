"""The C++ enums exposed by taos._simulator equal those of taos.protocol, member by member."""

import enum

import pytest

from taos import _simulator
from taos.protocol import enums as proto

ENUM_NAMES = [
    "Side",
    "TimeInForce",
    "Stp",
    "Currency",
    "InstructionKind",
    "EventKind",
    "RejectReason",
    "CancelReason",
]


@pytest.mark.parametrize("name", ENUM_NAMES)
def test_members_and_values_match(name: str) -> None:
    cpp = getattr(_simulator, name)
    py = getattr(proto, name)
    assert issubclass(cpp, enum.IntEnum), f"{name} is not a real Python IntEnum"
    assert {m.name: m.value for m in cpp} == {m.name: m.value for m in py}


def test_every_protocol_enum_is_checked() -> None:
    declared = {n for n, v in vars(proto).items() if isinstance(v, type) and issubclass(v, enum.IntEnum)}
    declared.discard("IntEnum")
    assert declared == set(ENUM_NAMES)


def test_enum_members_compare_across_languages() -> None:
    assert _simulator.Side.BUY == proto.Side.BUY == 1
    assert _simulator.RejectReason.NOT_OWNER == proto.RejectReason.NOT_OWNER
