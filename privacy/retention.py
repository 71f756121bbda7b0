"""The retention schedule: defaults, the hard ceiling, a company's policy in force, and the
plain-language text published to employees in the consent notice."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta

from teams.models import Company

from .models import RetentionPolicy

HOUR = timedelta(hours=1)
DAY = 24

# No policy may keep anything longer than this (Illinois BIPA: biometric data is
# destroyed within 3 years of the person's last interaction). Every clock below
# starts at or before the last interaction, so the ceiling on it is stricter still.
HARD_CEILING_HOURS = 3 * 365 * DAY
HARD_CEILING = timedelta(hours=HARD_CEILING_HOURS)
# Selfies are never kept more than 30 days, whatever a company sets (the bucket's
# lifecycle backstop in platform/s3-lifecycle.json relies on it).
SELFIES_LIMIT_HOURS = 30 * DAY


@dataclass(frozen=True)
class Policy:
    """Hours per data type. Each rule's clock is named in FIELDS below."""

    selfies_after_last_job_hours: int = 48
    selfies_max_hours: int = 30 * DAY
    embeddings_after_last_job_hours: int = 48
    lora_after_delivery_hours: int = 0
    rejected_candidates_hours: int = 7 * DAY
    unchosen_candidates_hours: int = 7 * DAY
    headshots_hours: int | None = None  # kept while a member
    job_records_hours: int = 365 * DAY
    exports_hours: int = 7 * DAY
    audit_log_hours: int = 3 * 365 * DAY

    def hours(self, name: str) -> timedelta | None:
        value = getattr(self, name)
        return None if value is None else timedelta(hours=min(value, HARD_CEILING_HOURS))


DEFAULT_POLICY = Policy()

# field -> (data type as employees read it, what starts the clock)
FIELDS: dict[str, tuple[str, str]] = {
    "selfies_after_last_job_hours": ("Selfies", "after your last headshot job completes"),
    "selfies_max_hours": ("Selfies, at the latest", "after you upload them"),
    "embeddings_after_last_job_hours": ("Face data derived from your photos (face embeddings)",
                                        "after your last headshot job completes"),
    "lora_after_delivery_hours": ("Personal AI models (LoRA weights) trained on your selfies",
                                  "after your headshots are delivered"),
    "rejected_candidates_hours": ("Generated photos that failed the likeness check or were "
                                  "rejected", "after they were made"),
    "unchosen_candidates_hours": ("Generated photos you did not choose", "after they were made"),
    "headshots_hours": ("Your approved headshot", "after approval"),
    "job_records_hours": ("Records of your headshot jobs (no photos)", "after the job ends"),
    "exports_hours": ("Copies of your data you asked to download", "after they are prepared"),
    "audit_log_hours": ("Deletion receipts and request logs (no photos)", "after they are written"),
}


class PolicyInvalid(ValueError):
    pass


def policy_validate(values: dict[str, int | None]) -> Policy:
    """A Policy from raw hours, or PolicyInvalid saying which value is wrong and why."""
    for name, value in values.items():
        if name not in FIELDS:
            raise PolicyInvalid(f"Unknown retention setting: {name}.")
        if value is None:
            if name != "headshots_hours":
                raise PolicyInvalid(f"{FIELDS[name][0]}: a retention period is required.")
            continue
        if value < 0:
            raise PolicyInvalid(f"{FIELDS[name][0]}: the period cannot be negative.")
        if value > HARD_CEILING_HOURS:
            raise PolicyInvalid(f"{FIELDS[name][0]}: at most {HARD_CEILING_HOURS // DAY} days "
                                "(3 years), the legal ceiling.")
    policy = Policy(**{**policy_as_dict(DEFAULT_POLICY), **values})
    if policy.selfies_max_hours > SELFIES_LIMIT_HOURS:
        raise PolicyInvalid("Selfies: at most 30 days after upload.")
    if policy.selfies_after_last_job_hours > policy.selfies_max_hours:
        raise PolicyInvalid("Selfies: the period after the last job cannot be longer than the "
                            "latest deletion date.")
    if policy.embeddings_after_last_job_hours > policy.selfies_max_hours:
        raise PolicyInvalid("Face data cannot be kept longer than the selfies it comes from.")
    return policy


def policy_as_dict(policy: Policy) -> dict[str, int | None]:
    return {field.name: getattr(policy, field.name) for field in fields(Policy)}


def policy_for(company: Company | int) -> Policy:
    """The policy in force for a company: its own row, or the defaults."""
    row = RetentionPolicy.objects.for_company(company).first()
    if row is None:
        return DEFAULT_POLICY
    return Policy(**{name: getattr(row, name) for name in FIELDS})


def _duration(hours: int) -> str:
    if hours == 0:
        return "immediately"
    if hours % (365 * DAY) == 0:
        years = hours // (365 * DAY)
        return f"{years} year{'s' if years > 1 else ''}"
    if hours >= 3 * DAY and hours % DAY == 0:
        days = hours // DAY
        return f"{days} day{'s' if days > 1 else ''}"
    return f"{hours} hour{'s' if hours > 1 else ''}"


def retention_schedule_lines(policy: Policy = DEFAULT_POLICY) -> list[tuple[str, str]]:
    lines = []
    for name, (what, clock) in FIELDS.items():
        value = getattr(policy, name)
        if value is None:
            rule = ("kept while you are a member of the company, deleted when you leave or ask "
                    f"us to, and never more than {_duration(HARD_CEILING_HOURS)} after approval")
        elif value == 0:
            rule = f"deleted as soon as {clock.removeprefix('after ')}"
        else:
            rule = f"deleted {_duration(value)} {clock}"
        lines.append((what, rule))
    lines.append(("Your consent record", "kept as legal proof of your choice; it holds your "
                  "name and e-mail, never photos or face data"))
    return lines


def retention_schedule_text(policy: Policy = DEFAULT_POLICY) -> str:
    return "\n".join(f"- {what}: {rule}." for what, rule in retention_schedule_lines(policy))
