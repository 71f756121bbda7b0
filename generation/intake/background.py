"""Selfie intake off the request path, with the uploaded bytes kept in memory only.

An upload request takes the bytes, checks what is cheap (consent, the photo count, the byte
cap), records a *pending* selfie and hands the bytes to an intake process of the same web
process; the person's page shows the verdict when it arrives. The decode, normalisation,
QA and thumbnail (a quarter to two seconds of CPU a photo) then no longer hold a web thread,
so a ten-photo upload stays responsive however many people upload at once.

Why a process pool of each web process, and not Celery: the original bytes are never
stored (README), and a Celery task's arguments are written to the broker, which may persist
them (Redis snapshots, an AOF). Here they travel through a pipe from the web process to its
intake process and exist in those two processes' memory only. The price: a web process that
dies with photos in its queue loses them; their pending rows are then reported as
interrupted after SELFIE_INTAKE_TIMEOUT_SECONDS (``selfie_intake_status``), and the person
uploads them again. A web process finishes its queue before it exits (gunicorn's graceful
shutdown, ``atexit``).

The intake processes run below the web threads (``SELFIE_INTAKE_PRIORITY``). By default
they are Linux's idle class (``SCHED_IDLE``): a web thread, or the PostgreSQL backend it
waits on, takes a core from them the moment it wakes (a nice task may first finish its
slice), and they get every cycle nobody else wants. Measured with ``bench/load.py`` (fifty
people uploading, concurrent p95 over single-user p95): ×1.38–1.90, mean ×1.57, in six runs
in the idle class; ×1.42–2.52, mean ×1.82, in seven at nice 19; ×1.72–2.60 in three at nice
5, as before. Within a container or a Kubernetes pod the class only yields to the same
container's processes; on a shared host it yields to everything else too, and an operator
whose verdicts then come late sets a nice instead. Each intake process has its own face
models (dlib's are not safe to share between threads). ``SELFIE_INTAKE_PROCESSES = 0`` runs
intake inline in the request (the embedded default and the tests).
"""

from __future__ import annotations

import atexit
import io
import logging
import multiprocessing
import os
import queue
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image

from .decode import ImageRejected, image_normalise
from .qa import selfie_qa

log = logging.getLogger(__name__)

THUMB_SIZE = 320


@dataclass(frozen=True)
class IntakeResult:
    """What intake made of one upload: the clean copy and its verdict, or why it was refused.
    Plain data: it crosses a process boundary."""

    refused: str = ""  # the message for the person; the rest is empty when set
    jpeg: bytes = b""
    thumb: bytes = b""
    width: int = 0
    height: int = 0
    source_format: str = ""
    sha256: str = ""
    qa: dict = field(default_factory=dict)  # QaResult.as_dict()


def intake_run(data: bytes, limits) -> IntakeResult:
    """Decode, normalise, judge and thumbnail one upload (in whichever process runs it)."""
    try:
        clean = image_normalise(data, limits=limits)
    except ImageRejected as error:
        return IntakeResult(refused=str(error))
    qa = selfie_qa(clean.image)
    thumb = clean.image.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=85)
    return IntakeResult(jpeg=clean.jpeg, thumb=buffer.getvalue(), width=clean.width,
                        height=clean.height, source_format=clean.source_format,
                        sha256=clean.sha256, qa=qa.as_dict())


def _child_start(priority: str) -> None:
    """In each intake process: a lower priority than the web threads (``priority``: "idle"
    or a nice, ``SELFIE_INTAKE_PRIORITY``), and Django's settings (the decoder reads none,
    but QA's model paths come from them). Set before any thread starts: the decoders' and
    the models' threads inherit it."""
    try:
        if priority == "idle" and hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.nice(19 if priority == "idle" else int(priority))
    except OSError:  # not permitted: run at the same priority
        pass
    import django

    django.setup()


_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_pid: int | None = None


def _executor(processes: int) -> ProcessPoolExecutor:
    """This web process's intake pool, started on first use (never inherited by a fork)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            # forkserver: children start from a clean process, not a copy of a threaded
            # web worker (forking one that holds locks can deadlock the child).
            context = multiprocessing.get_context("forkserver")
            _pool = ProcessPoolExecutor(max_workers=processes, mp_context=context,
                                        initializer=_child_start,
                                        initargs=(settings.SELFIE_INTAKE_PRIORITY,))
            _pool_pid = os.getpid()
        return _pool


_finished: queue.Queue = queue.Queue()
_finisher: threading.Thread | None = None


def _finish_forever() -> None:
    while True:
        callback, future = _finished.get()
        try:
            callback(future)
        except Exception:  # the callback reports its own failures; this thread must live
            log.exception("intake finisher failed")
        finally:
            _finished.task_done()


def intake_submit(data: bytes, limits, processes: int, on_done) -> Future:
    """Hand ``data`` to an intake process; ``on_done(future)`` then runs in this process's
    finisher thread (one thread, so its database connection is its own), the future's
    result an IntakeResult."""
    global _finisher, _pool
    try:
        future = _executor(processes).submit(intake_run, data, limits)
    except BrokenProcessPool:
        # An intake process died (a decoder or model crashing takes only it down): the
        # pool refuses work from then on, so this web process starts a new one.
        with _lock:
            _pool = None
        future = _executor(processes).submit(intake_run, data, limits)
    with _lock:
        if _finisher is None or not _finisher.is_alive():
            _finisher = threading.Thread(target=_finish_forever, name="selfie-intake",
                                         daemon=True)
            _finisher.start()
    future.add_done_callback(lambda done: _finished.put((on_done, done)))
    return future


@atexit.register
def _finish_queue() -> None:
    """A web process that is shutting down finishes the photos it has taken."""
    pool = _pool
    if pool is not None and _pool_pid == os.getpid():
        pool.shutdown(wait=True)
        _finished.join()
