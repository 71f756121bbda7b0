"""dlib's face-recognition ResNet run in NumPy: the same network, the same weights, the same
embeddings (within float rounding: tests/test_resnet_embedding.py), several times faster.

Why: the ``dlib-bin`` wheel has no BLAS, so one 150 px chip costs ~100 ms there; here every
convolution is one float32 matrix product (im2col) through NumPy's OpenBLAS. The weights are
read from the very ``.dat`` file dlib loads (``generation.intake.dlib_dat``), once per process,
and never copied anywhere. Activations are laid out channel, sample, row, column (CNHW): then
im2col is one contiguous plane copy per kernel tap, and a convolution's product comes out in
the next layer's layout, with no transposes (the first layer's im2col: 0.45 ms, 3.1 in NHWC).

The network's quirks, reproduced as dlib computes them (dlib/dnn/layers.h, cuda/cpu_dlib.cpp):
strided convolutions and pools have no padding, so at 8 px the strided branch of a residual
block is 3x3 while the pooled shortcut is 4x4; ``add_prev`` then adds the smaller tensor into
the top-left corner of the larger (channels likewise), zeros elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dlib_dat import Layer, read_network

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
BATCH = 16


@dataclass(frozen=True)
class _Conv:
    # (F, C*kh*kw) weights and bias with the following affine folded in; kernel, stride, padding.
    weights: np.ndarray
    bias: np.ndarray
    size: int
    stride: int
    padding: int


@dataclass(frozen=True)
class _Step:
    kind: str                       # conv, relu, max_pool, avg_pool, tag, skip, add, mean, fc
    conv: _Conv | None = None
    size: int = 0
    stride: int = 1
    tag: int = 0
    matrix: np.ndarray | None = None


class ResNet:
    """The parsed network, ready to run; immutable, so one instance serves every thread."""

    def __init__(self, means: np.ndarray, layers: list[Layer]) -> None:
        self.means = means.astype(np.float32)
        self.steps = _compile(layers)

    @classmethod
    def from_file(cls, path: Path) -> ResNet:
        return cls(*read_network(path.read_bytes()))

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 128) float32 embeddings of 150x150 RGB uint8 chips, as dlib returns them
        (dlib does not normalise them)."""
        batch = np.stack([np.asarray(chip) for chip in chips])
        if batch.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3) or batch.dtype != np.uint8:
            raise ValueError(f"chips must be {CHIP_SIZE}x{CHIP_SIZE} RGB uint8, not "
                             f"{batch.shape[1:]} {batch.dtype}")
        # At most BATCH chips at a time, as dlib's Python binding does: the first layer's
        # im2col takes ~3 MB a chip.
        return np.concatenate([self._forward(batch[start:start + BATCH])
                               for start in range(0, len(batch), BATCH)])

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        # input_rgb_image_sized: (pixel - channel mean) / 256, in float32.
        x = batch.transpose(3, 0, 1, 2).astype(np.float32)
        x -= self.means[:, None, None, None]
        x /= np.float32(256)
        tags: dict[int, np.ndarray] = {}
        for step in self.steps:
            x = _run(step, x, tags)
        return x


def _compile(layers: list[Layer]) -> list[_Step]:
    steps: list[_Step] = []
    for layer in layers:
        kind = layer.spec.kind
        if kind == "affine":
            # Fold the affine into the convolution before it (every affine here follows one):
            # a per-filter scale and shift, so one pass over the activations fewer.
            conv = steps[-1].conv
            assert steps[-1].kind == "conv" and conv is not None
            gamma, beta = layer.arrays["gamma"], layer.arrays["beta"]
            steps[-1] = _Step("conv", conv=_Conv(
                (conv.weights * gamma[:, None]).astype(np.float32),
                (conv.bias * gamma + beta).astype(np.float32)[:, None],
                conv.size, conv.stride, conv.padding))
        elif kind == "con":
            w = layer.arrays["w"]                       # (F, C, kh, kw), dlib's layout
            bias = layer.arrays.get("b", np.zeros(w.shape[0], np.float32))
            matrix = np.ascontiguousarray(w.reshape(w.shape[0], -1), dtype=np.float32)
            steps.append(_Step("conv", conv=_Conv(matrix, bias, layer.spec.size,
                                                   layer.spec.stride, layer.padding)))
        elif kind in ("max_pool", "avg_pool"):
            if layer.padding:
                raise ValueError("padded pooling is not used by this network")
            global_pool = kind == "avg_pool" and layer.spec.size == 0
            steps.append(_Step("mean" if global_pool else kind, size=layer.spec.size,
                               stride=layer.spec.stride))
        elif kind == "add_prev":
            steps.append(_Step("add", tag=layer.tag))
        elif kind == "fc":
            steps.append(_Step("fc", matrix=np.ascontiguousarray(layer.arrays["w"])))
        else:
            steps.append(_Step(kind, tag=layer.tag))
    return steps


def _run(step: _Step, x: np.ndarray, tags: dict[int, np.ndarray]) -> np.ndarray:
    if step.kind == "conv":
        assert step.conv is not None
        return _conv(x, step.conv)
    if step.kind == "relu":
        return np.maximum(x, 0, out=x)
    if step.kind == "tag":
        tags[step.tag] = x
        return x
    if step.kind == "skip":
        return tags[step.tag]
    if step.kind == "add":
        return _add(x, tags[step.tag])
    if step.kind == "max_pool":
        return _pool(x, step.size, step.stride, np.maximum)
    if step.kind == "avg_pool":
        return _pool(x, step.size, step.stride, np.add) / np.float32(step.size * step.size)
    if step.kind == "mean":
        return x.mean(axis=(2, 3), dtype=np.float32)          # (C, N)
    if step.kind == "fc":
        assert step.matrix is not None
        return x.T @ step.matrix
    raise ValueError(f"unknown step {step.kind}")


def _windows(x: np.ndarray, size: int, stride: int) -> tuple[int, int, list[np.ndarray]]:
    # Every (i, j) tap of a size x size window moved by stride, as strided views: no copies.
    h, w = x.shape[2:]
    out_h, out_w = (h - size) // stride + 1, (w - size) // stride + 1
    views = [x[:, :, i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride]
             for i in range(size) for j in range(size)]
    return out_h, out_w, views


def _conv(x: np.ndarray, conv: _Conv) -> np.ndarray:
    if conv.padding:
        p = conv.padding
        x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    c, n = x.shape[:2]
    out_h, out_w, views = _windows(x, conv.size, conv.stride)
    # im2col: rows ordered (C, kh, kw), as dlib's filters are; columns (N, H, W).
    cols = np.empty((c, len(views), n, out_h, out_w), dtype=np.float32)
    for t, view in enumerate(views):
        cols[:, t] = view
    out = conv.weights @ cols.reshape(c * len(views), -1)
    out += conv.bias
    return out.reshape(-1, n, out_h, out_w)


def _pool(x: np.ndarray, size: int, stride: int, combine) -> np.ndarray:
    _, _, views = _windows(x, size, stride)
    out = views[0].copy()
    for view in views[1:]:
        combine(out, view, out=out)
    return out


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape == b.shape:
        return a + b
    # dlib's add_prev with unequal shapes: the output takes the larger size on each axis,
    # and each input is added into its top-left corner (zeros elsewhere).
    shape = tuple(max(sa, sb) for sa, sb in zip(a.shape, b.shape, strict=True))
    out = np.zeros(shape, dtype=np.float32)
    out[:a.shape[0], :a.shape[1], :a.shape[2], :a.shape[3]] = a
    out[:b.shape[0], :b.shape[1], :b.shape[2], :b.shape[3]] += b
    return out


_lock = threading.Lock()
_networks: dict[Path, ResNet] = {}


def network(models_dir: Path) -> ResNet:
    """The network in ``models_dir``, read once per process (about 0.1 s, 22 MB of float32)."""
    path = models_dir / MODEL_FILE
    with _lock:
        if path not in _networks:
            _networks[path] = ResNet.from_file(path)
        return _networks[path]
