"""The consent notice's text: the company's own words plus sections we always add."""

from __future__ import annotations

from django.conf import settings

from teams.models import Company

from .retention import policy_for, retention_schedule_text


def notice_default_body(*, company: Company) -> str:
    return (
        f"{company.name} is making professional headshots of its team with Likeness.\n\n"
        "Purpose: to create your professional headshot for company use (directory, "
        "e-mail, website) in the company's approved look.\n\n"
        "What is collected: the selfies you upload (face photos) and face data derived from "
        "them (face measurements and a face embedding used to check that every generated "
        "photo looks like you). This is biometric data.\n\n"
        "Taking part is voluntary. If you decline, nothing is collected and you can ask your "
        "admin for a non-AI option, such as a photographer."
    )


def notice_processors(*, company: Company) -> list[str]:
    """Who processes the data on this installation: a processor is named only where it is
    used (Replicate only with an API token, the GPU workers only with a base model)."""
    processors = [f"{company.name}, which decides why your data is used",
                  "Likeness, which runs this platform for the company"]
    if settings.REPLICATE_API_TOKEN.strip() and settings.REPLICATE_BASE_URL.strip():
        processors.append("Replicate, Inc., which generates headshots from a single selfie")
    if settings.GPU_BASE_MODEL_PATH.strip():
        processors.append(f"{company.name}'s own GPU workers, which train a personal model "
                          "for batches of consistent headshots")
    return processors


def notice_full_text(*, company: Company, body: str) -> str:
    """What the person reads and signs; its SHA-256 goes into the consent log."""
    processors = notice_processors(company=company)
    listed = "".join(f"- {p};\n" for p in processors[:-1]) + f"- {processors[-1]}.\n"
    return (
        f"{body.strip()}\n\n"
        "Who processes your data:\n"
        f"{listed}\n"
        "How long it is kept:\n"
        f"{retention_schedule_text(policy_for(company))}\n\n"
        "How to withdraw: at any time, on your Likeness page (\"Withdraw consent\"). "
        "Processing stops immediately and your photos and face data are deleted within minutes. "
        "On the same page (\"My data\") you can download a copy of your data or ask for it "
        "to be erased."
    )
