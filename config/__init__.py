# First, before anything loads NumPy: OpenBLAS reads its CPU kernel choice once (config/blas.py).
from .blas import set_openblas_coretype, set_openblas_thread_timeout

set_openblas_coretype()
set_openblas_thread_timeout()

from .celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
