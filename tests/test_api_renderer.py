"""delivery/api/renderers.py: the list views' renderer writes DRF's JSONRenderer's bytes."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from delivery.api.renderers import ListJSONRenderer
from teams.models import Membership

# Every character class json and orjson escape or not: controls, quotes, DEL, the line
# separators DRF escapes, non-ASCII of 2, 3 and 4 bytes, a BOM.
CHARS = ([chr(c) for c in range(0x00, 0x80)] + ["\u00e9", "\u0100", "\u2028", "\u2029", "\u20ac",
         "\ufeff", "\uffff", "\U0001f600", "\U0010ffff"] + [chr(c) for c in range(0x80, 0x3000, 7)])


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randrange(0, 16)))


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.choice([0, -1, 1, 2**63 - 1, -(2**63), 2**64 - 1, rng.randrange(-2**40, 2**40)])
    if kind == 2:
        return rng.choice([None, True, False])
    if kind == 3:
        return rng.choice([datetime(2026, 12, 6, 5, 12, 7, 123456, tzinfo=UTC),
                           datetime(2026, 12, 6, 5, 12, 7, tzinfo=timezone(timedelta(hours=5))),
                           datetime(2026, 12, 6, 5, 12, 7), date(2026, 1, 2),
                           uuid.UUID(int=rng.randrange(2**128))])
    if kind == 4:
        return rng.choice([ErrorDetail(_text(rng), code="invalid"), gettext_lazy("Not found."),
                           Membership.Status.APPROVED, Decimal("1.50")])
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _both(data, media_type: str = "application/json") -> tuple:
    out = []
    for renderer in (JSONRenderer(), ListJSONRenderer()):
        try:
            out.append(renderer.render(data, media_type, {}))
        except Exception as error:  # noqa: BLE001 - the same failure is the point
            out.append(type(error))
    return tuple(out)


def test_random_data_renders_to_the_same_bytes():
    rng = random.Random(19)
    for _ in range(5000):
        data = {"next": None, "previous": _text(rng), "results": [_value(rng) for _ in range(3)]}
        old, new = _both(data)
        assert old == new, data


@pytest.mark.parametrize("data", [
    None, {}, [], {"detail": ErrorDetail("Invalid cursor", code="invalid")},
    {"id": 2**64},  # over 64 bits: orjson refuses, DRF writes it
    {1: "a non-str key"}, {"x": "\ud800"},  # a lone surrogate: both refuse it
    {"t": "line\u2028separator\u2029"},
    {"when": datetime(2026, 12, 6, 5, 12, 7, 120000, tzinfo=UTC)},
])
def test_edge_cases_render_alike(data):
    old, new = _both(data)
    assert old == new


def test_an_indent_asked_for_is_drfs():
    data = {"results": [{"id": 1, "name": "A"}]}
    old, new = _both(data, "application/json; indent=2")
    assert old == new and b"\n  " in new


def test_a_dataclass_goes_to_drfs_encoder():
    @dataclass
    class Point:
        x: int

    assert _both({"p": Point(1)})[0] is TypeError  # DRF cannot: neither may we
    assert _both({"p": Point(1)})[1] is TypeError
