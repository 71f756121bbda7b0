"""The GPU worker's base model in its persistent volume, and the worker's readiness.

    python manage.py gpu_model verify [--load]   # the manifest's files, sizes and hashes
    python manage.py gpu_model fetch             # from GPU_BASE_MODEL_SOURCE, then verify
    python manage.py gpu_model manifest          # write the manifest (once per approved model)
    python manage.py gpu_model ready             # this worker announces itself (probe)

The folder is ``GPU_BASE_MODEL_PATH`` (``--path`` overrides). ``tiny:sd`` / ``tiny:sdxl``
are built in code: nothing to verify or fetch. ``--load`` also loads the pipeline on the CPU
(slow for SDXL; the initContainer does not). Exit status 0 when all is well, 1 otherwise,
with the reason on stderr.
"""

from __future__ import annotations

import socket
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from generation.backends.gpu.model_files import (
    ModelFilesError,
    manifest_write,
    model_fetch,
    model_verify,
)
from generation.routing import GPU_HEARTBEAT_KEY


class Command(BaseCommand):
    help = "Verify or fetch the GPU worker's base model; check the worker is registered."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["verify", "fetch", "manifest", "ready"])
        parser.add_argument("--path", default=None, help="model folder (GPU_BASE_MODEL_PATH)")
        parser.add_argument("--source", default=None, help="mirror (GPU_BASE_MODEL_SOURCE)")
        parser.add_argument("--load", action="store_true",
                            help="verify: also load the pipeline on the CPU")
        parser.add_argument("--hostname", default=None,
                            help="ready: the Celery worker's name (default gpu@<this host>)")

    def handle(self, *args, action: str, path: str | None, source: str | None, load: bool,
               hostname: str | None, **options) -> None:
        if action == "ready":
            name = hostname or f"gpu@{socket.gethostname()}"
            if not cache.get(GPU_HEARTBEAT_KEY.format(hostname=name)):
                raise CommandError(f"GPU worker {name} is not registered (no heartbeat).")
            self.stdout.write(f"GPU worker {name} is registered")
            return
        model = path if path is not None else settings.GPU_BASE_MODEL_PATH
        if not model:
            raise CommandError("GPU_BASE_MODEL_PATH is not set: this is not a GPU worker.")
        if model.startswith("tiny:"):
            self.stdout.write(f"{model}: built in code, nothing to {action}")
            if load:
                self._load(model)
            return
        folder = Path(model)
        pinned = settings.GPU_BASE_MODEL_MANIFEST_SHA256
        try:
            if action == "manifest":
                self.stdout.write(f"wrote {manifest_write(folder)}")
                return
            if action == "fetch":
                verified = model_fetch(folder, pinned=pinned, source=(
                    source if source is not None else settings.GPU_BASE_MODEL_SOURCE))
            else:
                verified = model_verify(folder, pinned=pinned)
        except ModelFilesError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{folder}: {verified.files} files, {verified.bytes} bytes verified "
                          f"(manifest {verified.manifest_sha256})")
        if load:
            self._load(model)

    def _load(self, model: str) -> None:
        from generation.backends.gpu.worker import pipeline_load

        try:
            pipeline = pipeline_load(model, device="cpu")
        except (OSError, ValueError) as exc:
            raise CommandError(f"{model} does not load as an SD/SDXL pipeline: {exc}") from exc
        self.stdout.write(f"{model}: loads as {type(pipeline).__name__}")
