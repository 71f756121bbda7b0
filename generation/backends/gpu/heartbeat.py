"""GPU workers announce themselves, so routing sends consistent batches only while one lives.

A worker consuming the ``gpu`` queue with a base model configured beats every
``BEAT_SECONDS`` from a daemon thread; routing (``generation.routing``) treats a worker
whose beat is older than the TTL as gone and sends batches to the offline backend instead.
"""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

from core.queues import QUEUE_GPU

from ...routing import gpu_worker_heartbeat

log = logging.getLogger(__name__)
BEAT_SECONDS = 30
_stop = threading.Event()


def _beat(hostname: str) -> None:
    while not _stop.is_set():
        try:
            gpu_worker_heartbeat(hostname=hostname, ttl=BEAT_SECONDS * 3)
        except Exception:  # noqa: BLE001  (a cache hiccup must not kill the worker)
            log.exception("GPU heartbeat failed")
        _stop.wait(BEAT_SECONDS)


@worker_ready.connect
def _start_beating(sender=None, **_kwargs) -> None:
    queues = set(sender.app.amqp.queues.consume_from or ()) if sender is not None else set()
    if QUEUE_GPU not in queues or not settings.GPU_BASE_MODEL_PATH:
        return
    hostname = getattr(sender, "hostname", "gpu-worker")
    threading.Thread(target=_beat, args=(hostname,), name="gpu-heartbeat", daemon=True).start()
    log.info("GPU worker %s is announcing itself", hostname)


@worker_shutdown.connect
def _stop_beating(**_kwargs) -> None:
    _stop.set()
