"""Photos from files, as the check commands read them: decoded and normalised exactly as an
upload is (``generation.intake.decode``), then judged by the product's own gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from generation.intake.decode import ImageRejected, image_normalise
from generation.intake.qa import selfie_qa
from generation.likeness import selfie_outliers
from generation.services.selfies import intake_limits

from . import codes


@dataclass
class SelfieSet:
    """Each file's verdict, and what the accepted, consistent ones give the candidate gate."""

    rows: list[dict] = field(default_factory=list)
    embeddings: list[list[float]] = field(default_factory=list)
    qualities: list[dict] = field(default_factory=list)


def image_from_file(path: Path) -> Image.Image:
    """The photo as intake would store it; ImageRejected (a ValueError) if it would refuse it."""
    return image_normalise(path.read_bytes(), limits=intake_limits()).image


def selfie_set_check(paths: list[Path]) -> SelfieSet:
    """Intake QA of one person's selfies, in order, and the one-identity check of the set."""
    result = SelfieSet()
    embeddings: list[list[float] | None] = []
    for path in paths:
        row: dict = {"path": str(path), "accepted": False, "reasons": [], "messages": []}
        result.rows.append(row)
        try:
            qa = selfie_qa(image_from_file(path))
        except (ImageRejected, OSError) as error:
            row.update(reasons=["unreadable"], messages=[str(error)])
            embeddings.append(None)
            continue
        row.update(accepted=qa.accepted, reasons=list(qa.codes), messages=list(qa.reasons),
                   metrics={k: v for k, v in qa.metrics.items() if k != "codes"})
        embeddings.append(qa.embedding if qa.accepted else None)
    # One identity: the accepted selfies, in upload order, as the product checks them.
    for index in sorted(selfie_outliers(embeddings)):
        row = result.rows[index]
        row["accepted"] = False
        row["reasons"].append(codes.DIFFERENT_PERSON)
        row["messages"].append(codes.SELFIE_SENTENCES[codes.DIFFERENT_PERSON])
        embeddings[index] = None
    for row, embedding in zip(result.rows, embeddings, strict=True):
        if row["accepted"] and embedding is not None:
            result.embeddings.append(embedding)
            result.qualities.append(row["metrics"])
    return result
