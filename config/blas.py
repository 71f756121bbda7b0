"""Tell NumPy's OpenBLAS which CPU it runs on, before NumPy loads it.

Why: OpenBLAS picks its matrix kernels from the CPU's model number. On virtual machines that
report a generic model ("Intel(R) Xeon(R) Processor", as our development machine does) it
falls back to its oldest kernels ("Prescott", SSE3): sgemm then runs at ~20 GFLOPS instead of
~90, and the face-embedding network (generation/intake/resnet.py), almost all matrix products,
runs 3x slower. OpenBLAS honours ``OPENBLAS_CORETYPE`` read when the library loads, so this
module sets it from the CPU's feature flags (never a kernel the CPU cannot run: that would be
an illegal instruction) when nobody has set it (setting it yourself, to any OpenBLAS core
name, overrides this), and it must run before ``import numpy``: the
``config`` package imports it first (manage.py, WSGI/ASGI, Celery and pytest-django all import
``config`` before any NumPy user).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# OpenBLAS kernel families, best first, with the CPU flags each needs (OpenBLAS's
# driver/others/dynamic.c checks the same ones).
_CORES = (
    ("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
    ("Haswell", {"avx2", "fma"}),
)


def coretype_for(flags: set[str]) -> str:
    """The OpenBLAS core type these CPU flags can run, or "" to leave OpenBLAS's own choice."""
    for name, needed in _CORES:
        if needed <= flags:
            return name
    return ""


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def set_openblas_coretype() -> str:
    """Set ``OPENBLAS_CORETYPE`` if it is unset and NumPy is not loaded yet; the value in force."""
    if "OPENBLAS_CORETYPE" in os.environ or "numpy" in sys.modules:
        return os.environ.get("OPENBLAS_CORETYPE", "")
    if sys.platform.startswith("linux"):
        name = coretype_for(_cpu_flags())
        if name:
            os.environ["OPENBLAS_CORETYPE"] = name
            return name
    return ""


# 2**20 TSC cycles, ~0.4 ms: see set_openblas_thread_timeout.
THREAD_TIMEOUT = "20"


def set_openblas_thread_timeout() -> str:
    """Set ``OPENBLAS_THREAD_TIMEOUT`` if it is unset and NumPy is not loaded yet; the value in force.

    Why: after each matrix product OpenBLAS's worker threads spin (yielding) for 2**28 cycles,
    ~0.1 s, before they sleep. On a 2-core worker that spinning thread takes a core from the
    scoring threads after every embedding batch and every product large enough to be split
    (a face's skin patch): bench/scoring.py measured ~190 ms of CPU per candidate for ~105 ms
    of wall time, most of the difference spinning. 2**20 cycles still covers the gaps between
    the embedding network's layers, and the numbers computed are the same (only when the
    threads sleep changes).
    """
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or "numpy" in sys.modules:
        return os.environ.get("OPENBLAS_THREAD_TIMEOUT", "")
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = THREAD_TIMEOUT
    return THREAD_TIMEOUT
