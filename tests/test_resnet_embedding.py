"""The NumPy face-embedding network gives dlib's embeddings (issue 19).

Real faces from ../shared/faces and ../shared/identities (read in place), chipped as intake
does, embedded by dlib's own network and by ``generation.intake.resnet`` from the same file:
every component within 1e-4, and every same/different-person decision the same.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generation import likeness
from generation.intake import resnet
from generation.intake.dlib_dat import DatFormatError, read_network
from generation.intake.faces import detection_copy, face_models_dir, faces_detect_array
from tests.faces import FACES

IDENTITIES = FACES.parent / "identities"
TOLERANCE = 1e-4


def _photos() -> list[Path]:
    found = sorted(p for p in FACES.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    found += sorted(p for p in IDENTITIES.glob("*/*") if p.suffix.lower() in (".jpg", ".png"))
    return found


@pytest.fixture(scope="module")
def labelled() -> list[tuple[str, np.ndarray]]:
    """One chip per face found, as intake and scoring cut them (every face of a group photo),
    with who it is: the identity's folder, or the photo's name for ../shared/faces."""
    found: list[tuple[str, np.ndarray]] = []
    for path in _photos():
        label = path.parent.name if path.parent.parent == IDENTITIES else path.stem
        pixels, _ = detection_copy(Image.open(path).convert("RGB"), likeness.EMBED_LONG_SIDE)
        pixels = np.ascontiguousarray(pixels)
        for face in faces_detect_array(pixels, upsample=0) or faces_detect_array(pixels):
            box = (face.left, face.top, face.right, face.bottom)
            found.append((label, likeness.face_chip(pixels, box)))
    if len(found) < 8:
        pytest.skip(f"too few shared faces under {FACES.parent}")
    return found


@pytest.fixture(scope="module")
def chips(labelled) -> list[np.ndarray]:
    return [chip for _, chip in labelled]


@pytest.fixture(scope="module")
def both(chips) -> tuple[np.ndarray, np.ndarray]:
    from generation.intake.faces import _recogniser

    reference = np.array(_recogniser().compute_face_descriptor(chips, likeness.JITTERS))
    return reference, resnet.network(face_models_dir()).embed(chips).astype(np.float64)


def test_embeddings_match_dlib(both):
    reference, ours = both
    assert ours.shape == reference.shape == (len(reference), likeness.EMBEDDING_SIZE)
    assert np.abs(ours - reference).max() <= TOLERANCE


def test_same_person_decisions_match_dlib(both):
    reference, ours = both
    limits = (likeness.DEFAULT_THRESHOLD, likeness.MAX_DISTANCE,
              likeness.SELFIE_OUTLIER_DISTANCE, likeness.COLLEAGUE_NEAR)
    pairs = list(combinations(range(len(reference)), 2))
    for i, j in pairs:
        theirs = float(np.linalg.norm(reference[i] - reference[j]))
        mine = float(np.linalg.norm(ours[i] - ours[j]))
        assert abs(theirs - mine) <= TOLERANCE
        assert [theirs <= limit for limit in limits] == [mine <= limit for limit in limits]
    # The set holds both kinds of pair, so the comparison above decided something.
    distances = [np.linalg.norm(reference[i] - reference[j]) for i, j in pairs]
    assert min(distances) < likeness.DEFAULT_THRESHOLD < likeness.MAX_DISTANCE < max(distances)


def test_identity_rule_matches_dlib(labelled, both):
    """Each face checked against each person's other faces, with everyone else's centroids
    as colleagues: the rule passes and fails the same faces, for the same reasons."""
    labels = [label for label, _ in labelled]
    people = sorted(set(labels))
    outcomes = set()
    for vectors in both:
        for_this = []
        for k in range(len(labels)):
            for person in people:
                own = [i for i, label in enumerate(labels) if label == person and i != k]
                if not own:
                    continue
                colleagues = [vectors[[i for i, label in enumerate(labels) if label == other]]
                              .mean(axis=0).tolist() for other in people if other != person]
                result = likeness.identity_check(vectors[k].tolist(), vectors[own].tolist(),
                                                 colleagues=colleagues)
                for_this.append((result.passes, tuple(result.failed)))
        outcomes.add(tuple(for_this))
    assert len(outcomes) == 1
    decisions = [passes for passes, _ in next(iter(outcomes))]
    assert True in decisions and False in decisions


def test_batches_give_single_chip_results(chips):
    net = resnet.network(face_models_dir())
    batch = net.embed(chips[:3])
    for chip, row in zip(chips[:3], batch, strict=True):
        assert np.abs(net.embed([chip])[0] - row).max() <= 1e-6


def test_runtime_setting_picks_the_network(chips, settings):
    settings.FACE_EMBEDDING_RUNTIME = "dlib"
    theirs = np.array(likeness.chips_embed(chips[:2]))
    settings.FACE_EMBEDDING_RUNTIME = "numpy"
    mine = np.array(likeness.chips_embed(chips[:2]))
    assert np.abs(theirs - mine).max() <= TOLERANCE
    settings.FACE_EMBEDDING_RUNTIME = "onnx"
    with pytest.raises(ValueError):
        likeness.chips_embed(chips[:1])


def test_large_batches_go_through_in_parts(chips):
    net = resnet.network(face_models_dir())
    many = (chips * (resnet.BATCH // len(chips) + 2))[:resnet.BATCH + 3]
    vectors = net.embed(many)
    assert vectors.shape == (len(many), likeness.EMBEDDING_SIZE)
    assert np.abs(vectors[-1] - net.embed([many[-1]])[0]).max() <= 1e-6


def test_network_is_read_once_per_process():
    assert resnet.network(face_models_dir()) is resnet.network(face_models_dir())


def test_chip_shape_is_checked():
    net = resnet.network(face_models_dir())
    with pytest.raises(ValueError):
        net.embed([np.zeros((160, 160, 3), np.uint8)])


def test_other_files_are_refused():
    data = (face_models_dir() / resnet.MODEL_FILE).read_bytes()
    with pytest.raises((DatFormatError, ValueError, IndexError)):
        read_network(data[:len(data) // 2])
    with pytest.raises(DatFormatError):
        read_network(data + b"\x00")
    other = (face_models_dir() / "shape_predictor_5_face_landmarks.dat").read_bytes()
    with pytest.raises((DatFormatError, ValueError, IndexError)):
        read_network(other)


def test_openblas_core_follows_the_cpu_flags():
    from config.blas import coretype_for

    avx512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"}
    assert coretype_for(avx512) == "SkylakeX"
    assert coretype_for({"avx2", "fma", "sse4_2"}) == "Haswell"
    assert coretype_for({"avx512f", "avx2"}) == ""      # no FMA: OpenBLAS's own choice
    assert coretype_for(set()) == ""


def test_the_core_is_chosen_in_this_process():
    """config is imported before NumPy (here by pytest-django), so a CPU that can run a
    better kernel than OpenBLAS's fallback has it named before OpenBLAS loaded."""
    import os

    from config.blas import _cpu_flags, coretype_for

    if coretype_for(_cpu_flags()):
        assert os.environ.get("OPENBLAS_CORETYPE")


def test_openblas_threads_sleep_soon_after_their_work():
    """config names a short spin for OpenBLAS's idle threads before NumPy loads (a spinning
    thread took a core from scoring for ~0.1 s after every product)."""
    import os

    from config.blas import THREAD_TIMEOUT

    assert os.environ.get("OPENBLAS_THREAD_TIMEOUT") == THREAD_TIMEOUT
