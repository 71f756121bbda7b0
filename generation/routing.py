"""Which backend makes a job's photos, and on which queue. Decided here and nowhere else.

- single-selfie jobs and look previews → Replicate, on the ``replicate`` queue;
- consistent batches → the in-house GPU workers, on the ``gpu`` queue;
- a backend that is not configured, has no workers, or is down → the offline
  backend on the ``offline`` queue, and the job says why, so people are told
  which backend made their photos.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from core.queues import QUEUE_GPU, QUEUE_OFFLINE, QUEUE_REPLICATE

from .backends.replicate_api import replicate_configured
from .models import GenerationJob

Backend = GenerationJob.Backend
Kind = GenerationJob.Kind

# Task per backend. The GPU worker (train a LoRA per person) implements its task.
TASKS = {
    Backend.REPLICATE: "generation.run_replicate_job",
    Backend.GPU: "generation.run_gpu_job",
    Backend.OFFLINE: "generation.run_offline_job",
}
QUEUES = {Backend.REPLICATE: QUEUE_REPLICATE, Backend.GPU: QUEUE_GPU,
          Backend.OFFLINE: QUEUE_OFFLINE}

GPU_HEARTBEAT_KEY = "generation:gpu-workers:{hostname}"
GPU_HEARTBEAT_INDEX = "generation:gpu-workers"
REPLICATE_DOWN_KEY = "generation:replicate-down"
REPLICATE_FAILURES_KEY = "generation:replicate-failures"
REPLICATE_FAILURES_TRIP = 5  # consecutive transient failures that open the breaker
REPLICATE_DOWN_SECONDS = 300


@dataclass(frozen=True)
class Route:
    backend: str
    queue: str
    task: str
    reason: str = ""


def _route(backend: str, reason: str = "") -> Route:
    return Route(backend=backend, queue=QUEUES[backend], task=TASKS[backend], reason=reason)


def job_route(*, kind: str) -> Route:
    if kind in (Kind.SINGLE_SELFIE, Kind.PREVIEW):
        if not replicate_configured():
            return _route(Backend.OFFLINE, "Replicate is not configured on this installation.")
        if replicate_is_down():
            return _route(Backend.OFFLINE, "Replicate is not answering right now.")
        return _route(Backend.REPLICATE)
    if kind == Kind.CONSISTENT_BATCH:
        if not gpu_workers_available():
            return _route(Backend.OFFLINE, "No GPU workers are registered.")
        return _route(Backend.GPU)
    raise ValueError(f"Unknown job kind {kind!r}")


def backend_route(*, backend: str) -> Route:
    """The route of a backend a job already runs on (e.g. to ask it for more seeds)."""
    return _route(backend)


def fallback_route(*, reason: str) -> Route:
    """Where a job goes when its backend gave up on it: nothing is lost."""
    return _route(Backend.OFFLINE, reason)


# --- Health signals --------------------------------------------------------------------


def gpu_worker_heartbeat(*, hostname: str, ttl: int = 90) -> None:
    """Called periodically by each GPU worker; a worker that stops beating drops out."""
    cache.set(GPU_HEARTBEAT_KEY.format(hostname=hostname), True, ttl)
    hosts = set(cache.get(GPU_HEARTBEAT_INDEX) or ()) | {hostname}
    cache.set(GPU_HEARTBEAT_INDEX, sorted(hosts), None)


def gpu_workers_available() -> bool:
    hosts = cache.get(GPU_HEARTBEAT_INDEX) or ()
    return any(cache.get(GPU_HEARTBEAT_KEY.format(hostname=h)) for h in hosts)


def replicate_failure_record() -> None:
    """A transient Replicate failure; enough in a row mark it down for a while."""
    cache.add(REPLICATE_FAILURES_KEY, 0, REPLICATE_DOWN_SECONDS)
    try:
        failures = cache.incr(REPLICATE_FAILURES_KEY)
    except ValueError:  # expired between add and incr
        cache.set(REPLICATE_FAILURES_KEY, 1, REPLICATE_DOWN_SECONDS)
        failures = 1
    if failures >= REPLICATE_FAILURES_TRIP:
        cache.set(REPLICATE_DOWN_KEY, True, REPLICATE_DOWN_SECONDS)


def replicate_success_record() -> None:
    cache.delete_many([REPLICATE_FAILURES_KEY, REPLICATE_DOWN_KEY])


def replicate_is_down() -> bool:
    return bool(cache.get(REPLICATE_DOWN_KEY))
