from ardoise.ids import uuid7


def test_uuid7_layout_and_order() -> None:
    a, b = uuid7(ms=1_700_000_000_000), uuid7(ms=1_700_000_000_001)
    assert a.version == 7 and b.version == 7
    assert a.variant == "specified in RFC 4122"
    assert a < b
    assert a.int >> 80 == 1_700_000_000_000


def test_uuid7_unique() -> None:
    ids = {uuid7(ms=5) for _ in range(10_000)}
    assert len(ids) == 10_000
