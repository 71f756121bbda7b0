"""bench/gpu_lora.py runs end to end with its tiny config on the CPU.

The full SDXL run needs a GPU; this checks the same code path (UNet build, LoRA via
peft, training steps, CFG generation with Euler + VAE decode) and the printed figures.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("peft")

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu_lora.py"


def test_tiny_run_prints_labelled_figures_and_json():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--tiny",
            "--device",
            "cpu",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--gen-steps",
            "2",
            "--images",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr

    for label in (
        "train step:",
        "train samples/s:",
        "train TFLOP/s:",
        "MFU: n/a",
        "generation:",
        "images/hour",
        "(2 steps, CFG",
    ):
        assert label in out, f"{label!r} missing from:\n{out}"

    lines = [line for line in out.splitlines() if line.startswith("BENCH_JSON ")]
    assert len(lines) == 1, out
    summary = json.loads(lines[0].removeprefix("BENCH_JSON "))
    assert summary["config"] == "tiny"
    assert summary["device"] == "cpu"
    assert summary["rank"] == 16
    assert summary["mfu_percent"] is None
    for key in (
        "train_step_ms_median",
        "train_samples_per_s",
        "train_tflops",
        "forward_tflop_per_sample",
        "gen_s_per_image",
        "gen_images_per_hour",
        "lora_params",
        "unet_params",
    ):
        assert summary[key] > 0, (key, summary)
    assert summary["train_steps_timed"] == 2
    assert summary["gen_steps"] == 2
    assert summary["lora_params"] < summary["unet_params"]
