"""What a benchmark ran on, for its printout: shared by bench/intake.py and bench/load.py
(bench scripts run as ``python bench/<name>.py``, so this imports as ``hardware``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """The CPU model (from /proc/cpuinfo where there is one) and how many CPUs."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.machine()}, {os.cpu_count()} CPUs"


def load_average() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())
