"""The one protocol every generation backend implements, and what it hands back.

A backend only makes images. Storing them, the look's finish, the result gates, fallback
and retries are the runner's (``generation.runner``), the same for every backend, so a
team's photos match whatever produced each one.

* ``submit``: start (or, for a synchronous backend, do) the work for the seeds not yet
  stored, yielding each ``Output`` as soon as it exists; an asynchronous backend yields
  nothing and its outputs come back through ``receive``.
* ``receive``: what the backend has for one external id (a webhook said so, or a poll).
* ``outstanding``: whether the backend still owes the job outputs (asynchronous backends).
* ``cancel``: stop at the backend; ``release``: the job is settled, drop what was kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

    from ..looks import LookSpec
    from ..models import GenerationJob, Selfie


@dataclass(frozen=True)
class Output:
    """One image a backend made."""

    seed: int
    output_index: int
    source_id: str  # where it came from (a prediction id, "gpu:lora:<seed>"): the audit trail
    data: bytes  # the encoded image as the backend made it (PNG, JPEG or WebP)
    # The look's finish is already in the image: the offline backend's retouch *is* the
    # finish (with relighting); a generative backend's output is finished by the runner.
    finished: bool = False
    # An image made in this process (the offline backend) is handed over decoded, with
    # ``data`` empty: encoding it only for the runner to decode it again cost ~0.1 s a photo.
    image: Image.Image | None = None


@dataclass(frozen=True)
class Received:
    """What the backend has for one external id."""

    status: str
    terminal: bool
    outputs: list[Output] = field(default_factory=list)
    error: str = ""


class BackendFailed(Exception):
    """The backend could not take or do the work.

    ``transient``: worth retrying on the same backend; ``retry_after``: the backend said
    when (a rate limit), retried without counting an attempt. Otherwise the runner hands
    the job to the fallback backend.
    """

    def __init__(self, message: str, *, transient: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class NoUsableInput(ValueError):
    """The job's selfies cannot make a photo on any backend (e.g. no face to train on)."""


class JobStopped(Exception):
    """The job was cancelled (or taken over) while this worker held it."""


Keepalive = Callable[[], None]  # renews the job's lease; raises JobStopped when it is lost


@runtime_checkable
class GenerationBackend(Protocol):
    name: str
    asynchronous: bool  # outputs arrive later through ``receive``, not from ``submit``

    def unavailable(self) -> str:
        """Why this backend cannot take work here ("" when it can): the job goes elsewhere."""

    def submit(self, job: GenerationJob, *, selfies: list[Selfie], look: LookSpec,
               seeds: list[int], keepalive: Keepalive) -> Iterator[Output]: ...

    def receive(self, job: GenerationJob, external_id: str) -> Received: ...

    def received(self, job: GenerationJob, external_id: str, result: Received) -> None:
        """Record ``result`` once its outputs are stored (a failure before this is retried)."""

    def outstanding(self, job: GenerationJob) -> bool: ...

    def failure_summary(self, job: GenerationJob) -> str:
        """Why an asynchronous job ended with no outputs, in a sentence (the fallback's reason)."""

    def cancel(self, job: GenerationJob) -> None: ...

    def release(self, job: GenerationJob) -> None: ...


class SynchronousBackend:
    """The half of the protocol a backend that delivers every output from ``submit`` (the
    offline and GPU ones) answers alike: nothing ever arrives later, nothing is held."""

    asynchronous = False
    label = "This backend"  # how its messages name it

    def unavailable(self) -> str:
        return ""

    def receive(self, job: GenerationJob, external_id: str) -> Received:
        raise BackendFailed(f"{self.label} delivers from submit; nothing to receive.")

    def received(self, job: GenerationJob, external_id: str, result: Received) -> None:
        return None

    def outstanding(self, job: GenerationJob) -> bool:
        return False

    def failure_summary(self, job: GenerationJob) -> str:
        return f"{self.label} made no photos."

    def cancel(self, job: GenerationJob) -> None:
        # The worker sees the cancelled job when it next renews its lease (the GPU worker's
        # progress reports renew it).
        return None

    def release(self, job: GenerationJob) -> None:
        return None
