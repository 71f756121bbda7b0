"""The GPU worker: per-person LoRA training and consistent-batch generation (extra ``gpu``).

Nothing here is imported by the web process; torch and diffusers are imported only by the
modules of this package, so the rest of the project runs without the ``gpu`` extra.
"""
