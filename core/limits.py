"""Limits a lower layer must respect but a higher one decides: "may this company add a seat?"

teams asks, billing answers: billing registers its check in ``AppConfig.ready()``, and teams
calls ``limit_check`` without knowing billing exists. With no check registered (billing off,
or an installation without it) everything is allowed::

    limit_register(SEATS, seats_check)                          # billing's ready()
    limit_check(SEATS, company=company, additional=3)           # teams, before inviting
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ServiceError

SEATS = "seats"  # company, additional: more people to invite
LIMITS = frozenset({SEATS})


class LimitReached(ServiceError):
    """The company's plan or balance does not allow this; the message says why and what to do."""


_checks: dict[str, Callable[..., None]] = {}


def limit_register(name: str, check: Callable[..., None]) -> None:
    """``check(**context)`` raises LimitReached when the action must be refused."""
    if name not in LIMITS:
        raise ValueError(f"unknown limit {name!r}: add it to core.limits.LIMITS")
    _checks[name] = check


def limit_check(name: str, **context: Any) -> None:
    """Raise LimitReached if the registered check refuses; allow when none is registered."""
    check = _checks.get(name)
    if check is not None:
        check(**context)
