"""How long scoring spends on one candidate: every gate, as a job runs them.

    .venv/bin/python bench/scoring.py [--candidates 8] [--runs 3] [--size 1024]
                                      [--colleagues 5000]

A job's candidates (the offline backend's retouches of one portrait, ``--candidates`` seeds,
``--size`` px long side) are scored the way ``generation.scoring.candidates_score`` does:
the selfie embeddings and quality figures are already stored (computed once, at upload),
the gates run on each candidate (on ``SCORING_THREADS`` threads) and their faces are embedded
in one batch. Figures: wall and CPU time per candidate (median over ``--runs`` runs, after one
warm-up run of the whole job that loads every thread's models), and the split by stage, one
candidate at a time (people, look, quality, embedding, and the identity rule against
``--colleagues`` colleagues' centroids, as many as a company of 10,000 gives a job). CPU time
is this process's own: on a shared machine it says what a candidate costs better than wall
time.
"""

from __future__ import annotations

import argparse
import statistics
import time

# isort: off
# First: this sets up Django, whose config package names OpenBLAS's CPU kernels
# (config/blas.py) before NumPy loads OpenBLAS; after it, the choice would come too late.
from calibration_data import SHARED, machine
# isort: on
import numpy as np
from PIL import Image

from generation.backends.offline import studio_retouch
from generation.conformance import conformance_check, tolerances_for
from generation.gates.candidate import References, candidates_gate
from generation.gates.people import people_find
from generation.gates.quality import face_quality
from generation.intake.faces import detection_copy
from generation.intake.qa import selfie_qa
from generation.likeness import EMBED_LONG_SIDE, chips_embed, face_chip, identity_check
from generation.looks import look_spec_example


def _clock():
    return time.perf_counter(), time.process_time()


def _since(start) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--face", default="obama.jpg")
    parser.add_argument("--colleagues", type=int, default=5000)
    args = parser.parse_args()
    selfie = Image.open(SHARED / "faces" / args.face).convert("RGB")
    look = look_spec_example("corporate", output_size=args.size)
    tolerances = tolerances_for(look)
    qa = selfie_qa(selfie)
    # Other people: 0.7 to 1.1 from the person in random directions (different people
    # measured 0.62 and more apart), so a few are within the rule's reach of a candidate.
    rng = np.random.default_rng(19)
    directions = rng.normal(size=(args.colleagues, len(qa.embedding)))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    colleagues = np.asarray(qa.embedding) + directions * rng.uniform(
        0.7, 1.1, (args.colleagues, 1))
    references = References(embeddings=[qa.embedding], quality=None, colleagues=colleagues)
    images = [studio_retouch(selfie, look=look, seed=seed) for seed in range(args.candidates)]
    print(f"scoring: {machine()}")
    print(f"{args.candidates} candidates of {images[0].size[0]}x{images[0].size[1]} px, "
          f"{args.colleagues:,} colleagues, {args.runs} runs after a warm-up")
    # The warm-up scores the whole job: each scoring thread (SCORING_THREADS) loads its own
    # models once, as a worker's first job does; later jobs reuse them.
    candidates_gate(images, references=references, look=look, tolerances=tolerances)
    totals, stages = [], {"people": [], "look": [], "quality": [], "embedding": [],
                          "colleagues": []}
    for _ in range(args.runs):
        start = _clock()
        verdicts = candidates_gate(images, references=references, look=look,
                                   tolerances=tolerances)
        wall, cpu = _since(start)
        assert all(v.shown for v in verdicts), [v.reasons for v in verdicts]
        totals.append((wall / len(images), cpu / len(images)))
        # The same work stage by stage (one candidate at a time), for the split.
        for image in images:
            start = _clock()
            people = people_find(image, upsample=0)
            stages["people"].append(_since(start))
            start = _clock()
            conformance_check(image, look=look, tolerances=tolerances, face=people.main)
            stages["look"].append(_since(start))
            start = _clock()
            face_quality(image, people.main)
            stages["quality"].append(_since(start))
            start = _clock()
            pixels, scale = detection_copy(image, EMBED_LONG_SIDE)
            box = tuple(v * scale for v in (people.main.left, people.main.top,
                                            people.main.right, people.main.bottom))
            embedding = chips_embed([face_chip(np.ascontiguousarray(pixels), box)])[0]
            stages["embedding"].append(_since(start))
            start = _clock()
            identity_check(embedding, references.embeddings, colleagues=colleagues)
            stages["colleagues"].append(_since(start))
    wall = statistics.median(t[0] for t in totals) * 1000
    cpu = statistics.median(t[1] for t in totals) * 1000
    print(f"per candidate, all gates (batched job): wall {wall:.0f} ms, CPU {cpu:.0f} ms")
    for name, values in stages.items():
        print(f"  {name:<10} wall {statistics.median(v[0] for v in values) * 1000:6.1f} ms  "
              f"CPU {statistics.median(v[1] for v in values) * 1000:6.1f} ms")
    print(f"BENCH_JSON {{\"per_candidate_wall_ms\": {wall:.1f}, \"per_candidate_cpu_ms\": {cpu:.1f}}}")


if __name__ == "__main__":
    main()
