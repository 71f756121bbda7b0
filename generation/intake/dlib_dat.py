"""A reader for dlib's serialized face-recognition network (``dlib_face_recognition_resnet_model_v1.dat``).

Why: the ``dlib-bin`` wheel is built without BLAS, so its ResNet costs ~100 ms a chip. Reading
the very same weights lets ``generation.intake.resnet`` run the same network through NumPy's
BLAS (see issue 19), giving the same embeddings, so every calibrated threshold stays valid.

The format is dlib's own (dlib/serialize.h, dlib/dnn/core.h, layers.h, input.h, loss.h,
cuda/tensor.h): integers are a control byte (low nibble: byte count, 0x80: negative) and that
many little-endian bytes; strings are a length and bytes; bools are ``'0'``/``'1'``; tensors
are version 2, four dimensions, then raw little-endian float32. ``add_layer`` writes its version,
then its whole subnetwork, then its own details, so a network's file is every layer's version
from the loss inwards, then every layer's details from the input outwards. ``LAYERS`` lists
the network of dlib's examples/dnn_face_recognition_ex.cpp (``anet_type``) outermost first; the
reader checks each layer's name, kernel and stride against it, so another file fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# dlib's CONV_MODE (layers.h enum layer_mode: CONV_MODE = 0, FC_MODE = 1).
_CONV_MODE = 0


@dataclass(frozen=True)
class Spec:
    """One layer of ``anet_type``: kind, and (for con/pool) filters, kernel and stride."""
    kind: str
    filters: int = 0
    size: int = 0
    stride: int = 1


@dataclass
class Layer:
    """A parsed layer, with the arrays inference needs (float32, dlib's layout)."""
    spec: Spec
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    padding: int = 0
    tag: int = 0


def _block(filters: int, stride: int) -> list[Spec]:
    # block<N,affine,stride,SUB> = affine<con<N,3,3,1,1,relu<affine<con<N,3,3,stride,stride,SUB>>>>>
    return [Spec("affine"), Spec("con", filters, 3, 1), Spec("relu"), Spec("affine"),
            Spec("con", filters, 3, stride)]


def _ares(filters: int) -> list[Spec]:
    # relu<add_prev1<block<N,affine,1,tag1<SUB>>>>
    return [Spec("relu"), Spec("add_prev", 1), *_block(filters, 1), Spec("tag", 1)]


def _ares_down(filters: int) -> list[Spec]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUB>>>>>>>
    return [Spec("relu"), Spec("add_prev", 2), Spec("avg_pool", 0, 2, 2), Spec("skip", 1),
            Spec("tag", 2), *_block(filters, 2), Spec("tag", 1)]


LAYERS: list[Spec] = [
    Spec("loss_metric"), Spec("fc", 128), Spec("avg_pool", 0, 0, 1),
    *_ares_down(256),                                           # alevel0
    *_ares(256), *_ares(256), *_ares_down(256),                 # alevel1
    *_ares(128), *_ares(128), *_ares_down(128),                 # alevel2
    *_ares(64), *_ares(64), *_ares(64), *_ares_down(64),        # alevel3
    *_ares(32), *_ares(32), *_ares(32),                         # alevel4
    Spec("max_pool", 0, 3, 2), Spec("relu"), Spec("affine"), Spec("con", 32, 7, 2),
    Spec("input"),
]


class DatFormatError(ValueError):
    """The file is not the network this reader knows."""


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def int(self) -> int:
        control = self.data[self.pos]
        size = control & 0x0F
        if size == 0 or size > 8:
            raise DatFormatError(f"bad integer control byte {control:#x} at {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def float(self) -> float:
        # float_details: mantissa * 2**exponent; exponents 32000+ mark inf/nan (unused here).
        if self.data[self.pos] & 0x70:
            raise DatFormatError("old ASCII float format is not supported")
        mantissa, exponent = self.int(), self.int()
        if exponent >= 32000:
            raise DatFormatError("non-finite float in the network file")
        return float(np.float32(np.ldexp(float(mantissa), exponent)))

    def str(self) -> str:
        size = self.int()
        text = bytes(self.data[self.pos:self.pos + size]).decode("ascii")
        self.pos += size
        return text

    def bool(self) -> bool:
        ch = self.data[self.pos]
        self.pos += 1
        if ch not in (ord("0"), ord("1")):
            raise DatFormatError(f"bad bool at {self.pos - 1}")
        return ch == ord("1")

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise DatFormatError("unexpected tensor version")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        if self.int() != 1:
            raise DatFormatError("unexpected alias_tensor version")
        return tuple(self.int() for _ in range(4))


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise DatFormatError(what)


def _read_con(s: _Stream, spec: Spec) -> Layer:
    version = s.str()
    _expect(version in ("con_4", "con_5", "con_6"), f"con_: version {version}")
    params = s.tensor().ravel()
    filters, nr, nc, stride_y, stride_x = s.int(), s.int(), s.int(), s.int(), s.int()
    pad_y, pad_x = s.int(), s.int()
    f_shape, b_shape = s.alias(), s.alias()
    for _ in range(4):           # learning-rate / weight-decay multipliers: training only
        s.float()
    use_bias = s.bool() if version in ("con_5", "con_6") else True
    if version == "con_6":
        _expect(not s.bool(), "con_ with fused relu is not supported")
    _expect((filters, nr, nc, stride_y, stride_x) == (spec.filters, spec.size, spec.size,
                                                      spec.stride, spec.stride) and
            pad_y == pad_x, f"con_ shape {filters, nr, nc, stride_y, pad_y}")
    n_weights = int(np.prod(f_shape))
    arrays = {"w": params[:n_weights].reshape(f_shape)}
    if use_bias and int(np.prod(b_shape)):
        arrays["b"] = params[n_weights:n_weights + filters]
    return Layer(spec, arrays, padding=pad_y)


def _read_bn_as_affine(s: _Stream, version: str) -> Layer:
    # An affine_ read from a batch-norm layer: dlib folds the running statistics in, in float32
    # (layers.h affine_(const bn_&)), and so do we, so the scales match dlib's bit for bit.
    _expect(version == "bn_con2", f"affine_: version {version}")
    params = s.tensor().ravel()
    gamma_shape, _beta_shape = s.alias(), s.alias()
    s.tensor(), s.tensor()                    # batch means / invstds: training only
    running_means, running_variances = s.tensor().ravel(), s.tensor().ravel()
    s.int(), s.int()                          # num_updates, running_stats_window_size
    for _ in range(4):
        s.float()
    eps = np.float32(s.float())
    k = int(np.prod(gamma_shape))
    gamma = params[:k] / np.sqrt(running_variances + eps)
    beta = params[k:2 * k] - gamma * running_means
    return Layer(Spec("affine"), {"gamma": gamma.astype(np.float32),
                                  "beta": beta.astype(np.float32)})


def _read_affine(s: _Stream) -> Layer:
    version = s.str()
    if version.startswith("bn_"):
        return _read_bn_as_affine(s, version)
    _expect(version in ("affine_", "affine_2"), f"affine_: version {version}")
    params = s.tensor().ravel()
    gamma_shape, _beta_shape = s.alias(), s.alias()
    _expect(s.int() == _CONV_MODE, "affine_ is not in CONV_MODE")
    if version == "affine_2":
        _expect(not s.bool(), "disabled affine_ layer")
    k = int(np.prod(gamma_shape))
    return Layer(Spec("affine"), {"gamma": params[:k], "beta": params[k:2 * k]})


def _read_pool(s: _Stream, spec: Spec) -> Layer:
    version = s.str()
    _expect(version == f"{spec.kind}_2", f"{spec.kind}: version {version}")
    nr, nc, stride_y, stride_x, pad_y, pad_x = (s.int() for _ in range(6))
    _expect((nr, nc, stride_y, stride_x) == (spec.size, spec.size, spec.stride, spec.stride)
            and pad_y == pad_x, f"{spec.kind} shape {nr, nc, stride_y, stride_x}")
    return Layer(spec, padding=pad_y)


def _read_fc(s: _Stream, spec: Spec) -> Layer:
    version = s.str()
    _expect(version in ("fc_2", "fc_3"), f"fc_: version {version}")
    outputs, inputs = s.int(), s.int()
    params = s.tensor().ravel()
    w_shape, _b_shape = s.alias(), s.alias()
    _expect(s.int() == 1, "fc_ must be fc_no_bias")           # FC_NO_BIAS
    for _ in range(4):
        s.float()
    if version == "fc_3":
        s.bool()
    _expect(outputs == spec.filters and w_shape[:2] == (inputs, outputs), "fc_ shape")
    return Layer(spec, {"w": params[:inputs * outputs].reshape(inputs, outputs)})


def _read_details(s: _Stream, spec: Spec) -> Layer:
    if spec.kind == "con":
        return _read_con(s, spec)
    if spec.kind == "affine":
        return _read_affine(s)
    if spec.kind in ("max_pool", "avg_pool"):
        return _read_pool(s, spec)
    if spec.kind == "fc":
        return _read_fc(s, spec)
    version = s.str()
    if spec.kind == "relu":
        _expect(version in ("relu_", "relu_2"), f"relu_: version {version}")
        if version == "relu_2":
            _expect(not s.bool(), "disabled relu_ layer")
    else:
        _expect(spec.kind == "add_prev" and version == "add_prev_", f"{spec.kind}: {version}")
    return Layer(spec, tag=spec.filters)


def _read_input(s: _Stream) -> np.ndarray:
    _expect(s.str() == "input_rgb_image_sized", "input layer is not input_rgb_image_sized")
    means = np.array([s.float(), s.float(), s.float()], dtype=np.float32)
    _expect((s.int(), s.int()) == (150, 150), "input is not 150x150")
    return means


def read_network(data: bytes) -> tuple[np.ndarray, list[Layer]]:
    """The input's channel means and the layers, input side first, from a .dat's bytes."""
    s = _Stream(data)
    _expect(s.int() == 1, "add_loss_layer version")
    version = s.str()
    if version == "loss_metric_2":
        s.float(), s.float()                  # margin, distance threshold: training only
    else:
        _expect(version == "loss_metric_", f"loss: {version}")
    # Versions, outermost first (the input layer has none of its own).
    inner = [spec for spec in LAYERS[1:] if spec.kind != "input"]
    versions = [s.int() for _ in inner]
    _expect(versions[-1] in (2, 3), "input add_layer version")
    means = _read_input(s)
    layers: list[Layer] = []
    for spec, version in zip(reversed(inner), reversed(versions), strict=True):
        if spec.kind in ("tag", "skip"):
            _expect(version == 1, f"{spec.kind} version")
            layers.append(Layer(spec, tag=spec.filters))
            continue
        layers.append(_read_details(s, spec))
        # Training state after each layer's details: flags and scratch tensors.
        s.bool(), s.bool(), s.bool()
        s.tensor(), s.tensor()                # x_grad, cached_output
        if spec is inner[-1]:                 # the layer on the input: grad_final, factor
            s.tensor()
            if version >= 3:
                s.int()
        elif version == 2:
            s.tensor()                        # params_grad
    _expect(s.pos == len(s.data), f"{len(s.data) - s.pos} bytes left after the network")
    return means, layers
