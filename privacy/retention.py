"""The retention schedule in force, as published to employees in the consent notice.

These are the platform defaults; the retention sweeper and per-company
policies build on the same table.
"""

from __future__ import annotations

from datetime import timedelta

# (data type, what happens, plain-language rule)
DEFAULT_SCHEDULE: list[tuple[str, str]] = [
    ("Selfies and face data derived from them",
     "deleted 48 hours after your last headshot job completes, and never kept more than 30 days"),
    ("Personal AI models (LoRA weights) trained on your selfies",
     "deleted as soon as your headshots are delivered"),
    ("Generated photos you did not choose", "deleted after 7 days"),
    ("Your approved headshot", "kept while you are a member of the company, "
     "deleted when you leave or ask us to"),
    ("This consent record", "kept as legal proof of your choice for up to 3 years "
     "after your last interaction"),
]

# No policy may keep biometric data longer than this (Illinois BIPA).
HARD_CEILING = timedelta(days=3 * 365)


def retention_schedule_text() -> str:
    return "\n".join(f"- {what}: {rule}." for what, rule in DEFAULT_SCHEDULE)
