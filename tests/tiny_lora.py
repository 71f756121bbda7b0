"""What the tests of the GPU path on the tiny models share: the picture size, and LoRA
training short enough for the CPU (three steps, a checkpoint after two). Import it after
``pytest.importorskip("torch")``: the training code needs torch."""

from __future__ import annotations

from generation.backends.gpu.lora import TrainConfig

PX = 64
TINY_TRAINING = TrainConfig(rank=4, alpha=4, batch_size=1, steps=3, checkpoint_every=2,
                            resolution=PX, learning_rate=1e-2)
