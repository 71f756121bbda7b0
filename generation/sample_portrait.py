"""The bundled public-domain sample portrait for look previews (generation/assets/SOURCE.md).

An admin without a selfie of their own can still see a draft look on a real face before
approving it, without anyone's personal photo: the preview job is marked ``sample_portrait``,
has no selfies, and the runner and the scoring use this portrait in their place. The
identity gate then compares the previews with the sample itself (they must still look like
the person in it); every other gate is unchanged. Such photos are nobody's personal data:
they are left out of data exports (``generation.personal_data``).
"""

from __future__ import annotations

import io
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from .models import GenerationJob, Selfie

ASSET = Path(__file__).resolve().parent / "assets" / "sample_portrait.png"
# One shared copy in storage (backends read selfies from storage; Replicate is sent a JPEG).
STORAGE_KEY = "samples/sample-portrait-eileen-collins-v1.jpg"
LABEL = "Sample portrait (public-domain NASA portrait of Eileen Collins)"


def sample_storage_key() -> str:
    """The sample in storage, written on first use (and again if a sweep removed it)."""
    if not default_storage.exists(STORAGE_KEY):
        with Image.open(ASSET) as image:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=95)
        saved = default_storage.save(STORAGE_KEY, ContentFile(buffer.getvalue()))
        if saved != STORAGE_KEY:  # a concurrent first use won: keep one copy
            default_storage.delete(saved)
    return STORAGE_KEY


def sample_selfie(job: GenerationJob) -> Selfie:
    """A stand-in selfie (never saved) for a sample-portrait preview job."""
    return Selfie(company_id=job.company_id, membership_id=job.membership_id,
                  image_key=sample_storage_key(), status=Selfie.Status.ACCEPTED,
                  width=512, height=512, qa_metrics={})
