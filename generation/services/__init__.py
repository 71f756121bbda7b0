"""Writes of the generation app, one module per concern."""

from .jobs import job_cancel, job_create, processing_stop_for_member
from .selfies import selfie_delete, selfie_upload

__all__ = ["job_cancel", "job_create", "processing_stop_for_member", "selfie_delete",
           "selfie_upload"]
