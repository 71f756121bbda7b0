"""The gates give the same verdicts under load: many checks of real photos at once, from
many threads (as a threaded web server runs them), each compared with the verdict one
thread gives. dlib's detector, shape predictor and ResNet, and MediaPipe's graphs, gave
wrong answers and segfaults when threads shared them; each thread now has its own.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from generation.backends.offline import studio_retouch
from generation.conformance import tolerances_for
from generation.gates.candidate import References, candidate_gate
from generation.intake.qa import selfie_qa
from generation.looks import look_spec_example

from . import defects as D
from .faces import FACES, face_image

pytestmark = pytest.mark.slow
THREADS = 8
ROUNDS = 3


def _selfie_verdict(image: Image.Image) -> tuple:
    qa = selfie_qa(image)
    return ("selfie", qa.accepted, tuple(qa.codes), qa.metrics["faces"],
            None if qa.embedding is None else np.round(qa.embedding, 4).tobytes())


@pytest.fixture(scope="module")
def work():
    names = ["obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg"]
    photos = [face_image(n) for n in names]
    extra = FACES.parent / "identities" / "rose_leslie" / "02.jpg"
    if extra.exists():
        photos.append(Image.open(extra).convert("RGB"))
    look = look_spec_example("corporate", output_size=512)
    tolerances = tolerances_for(look)
    obama = selfie_qa(photos[0])
    references = References(embeddings=[obama.embedding], quality=None)
    candidate = studio_retouch(photos[0], look=look, seed=1)
    candidates = [candidate, D.paste_second_face(candidate, photos[2], height_fraction=0.2,
                                                 centre=(0.85, 0.2)),
                  studio_retouch(photos[2], look=look, seed=1), D.blur(candidate, 3.0)]

    def gate(image):
        verdict = candidate_gate(image, references=references, look=look, tolerances=tolerances)
        return ("candidate", tuple(verdict.reasons), round(verdict.distance or -1.0, 4))

    return ([lambda p=p: _selfie_verdict(p) for p in photos]
            + [lambda c=c: gate(c) for c in candidates])


def test_many_threads_give_the_single_thread_verdicts(work):
    expected = [check() for check in work]
    # Sanity: the set holds refusals and acceptances, so a broken gate cannot pass unseen.
    assert {e[1] for e in expected if e[0] == "selfie"} == {True, False}
    assert len({e[1] for e in expected if e[0] == "candidate"}) >= 3
    jobs = [i for i in range(len(work)) for _ in range(ROUNDS)]
    random.Random(7).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(lambda i: (i, work[i]()), jobs))
    wrong = [(i, got) for i, got in results if got != expected[i]]
    assert wrong == [], f"{len(wrong)} of {len(results)} verdicts differ under threads"


def test_a_jobs_candidates_checked_side_by_side_get_the_one_at_a_time_verdicts(settings,
                                                                              monkeypatch):
    """``candidates_gate`` checks a job's candidates on SCORING_THREADS threads: every
    reason, metric and embedding equals what checking them one at a time gives."""
    from generation.gates import candidate as gate

    photo = face_image("obama.jpg")
    look = look_spec_example("corporate", output_size=512)
    references = References(embeddings=[selfie_qa(photo).embedding], quality=None)
    good = studio_retouch(photo, look=look, seed=1)
    images = [good, D.paste_second_face(good, face_image("biden.jpg"), height_fraction=0.2,
                                        centre=(0.85, 0.2)),
              D.blur(good, 3.0), studio_retouch(face_image("biden.jpg"), look=look, seed=1)]

    def verdicts():
        return [(v.reasons, v.metrics, v.embedding, v.distance)
                for v in gate.candidates_gate(images, references=references, look=look,
                                              tolerances=tolerances_for(look))]

    settings.SCORING_THREADS = 1
    expected = verdicts()
    assert len({tuple(reasons) for reasons, *_ in expected}) >= 3  # shown and refused alike
    threads = set()
    prepare = gate.candidate_prepare

    def recorded(*args, **kwargs):
        import threading

        threads.add(threading.get_ident())
        return prepare(*args, **kwargs)

    monkeypatch.setattr(gate, "candidate_prepare", recorded)
    monkeypatch.setattr(gate, "cores_available", lambda: 4)  # side by side on any machine
    settings.SCORING_THREADS = 2
    assert verdicts() == expected
    assert len(threads) == 2
