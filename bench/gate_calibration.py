"""Calibration of the candidate gates on many identities: what each defect does to the
verdict, how small a second face is still caught, and how often a benign change hides a
good photo.

    .venv/bin/python bench/gate_calibration.py [--people N]

For each of the 12 identities (bench/calibration_data.py): its photographs are its selfies
(through intake QA, as uploads are), and the offline backend's candidate of its first
photograph, in one of the six preset looks (taken in turn), is damaged in every way the
tests use, at several strengths; the next identity is its colleague (the second face, the
blend). Every image goes through ``generation.gates.candidate.candidate_gate`` as scoring
runs it. Prints, per change, the share hidden and the reasons given.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from calibration_data import ROOT, load_people, machine

sys.path.insert(0, str(ROOT))

from generation.backends.offline import studio_retouch  # noqa: E402
from generation.conformance import tolerances_for  # noqa: E402
from generation.gates.candidate import References, candidate_gate  # noqa: E402
from generation.gates.quality import quality_baseline  # noqa: E402
from generation.intake.qa import selfie_qa  # noqa: E402
from generation.looks import PRESETS, look_spec_example  # noqa: E402
from tests import defects as D  # noqa: E402

SIZE = 768
BENIGN = {
    "as made": lambda c: c.candidate,
    "JPEG q75": lambda c: D.jpeg_reencode(c.candidate, 75),
    "JPEG q60": lambda c: D.jpeg_reencode(c.candidate, 60),
    "rescale 93 %": lambda c: D.rescale(c.candidate, 0.93),
    "rescale 107 %": lambda c: D.rescale(c.candidate, 1.07),
}
DEFECTS = {
    "blur 1.5 px": lambda c: D.blur(c.candidate, 1.5),
    "blur 2 px": lambda c: D.blur(c.candidate, 2),
    "blur 3 px": lambda c: D.blur(c.candidate, 3),
    "blur 12 px": lambda c: D.blur(c.candidate, 12),
    "pixelate 4 px": lambda c: D.pixelate(c.candidate, 4),
    "pixelate 8 px": lambda c: D.pixelate(c.candidate, 8),
    "pixelate 8 px, rescaled": lambda c: D.rescale(D.pixelate(c.candidate, 8), 0.93),
    "pixelate 20 px": lambda c: D.pixelate(c.candidate, 20),
    "cartoon": lambda c: D.cartoon(c.candidate),
    "painterly (cv2.stylization)": lambda c: D.stylise(c.candidate),
    "strip 15 %": lambda c: D.paint_strip(c.candidate, colour=(200, 30, 30), width_fraction=0.15),
    "strip 25 %": lambda c: D.paint_strip(c.candidate, colour=(200, 30, 30), width_fraction=0.25),
    "cast blue (0.95, 1, 1.3)": lambda c: D.colour_cast(c.candidate, (0.95, 1.0, 1.3)),
    "cast warm (1.25, 1, 0.8)": lambda c: D.colour_cast(c.candidate, (1.25, 1.0, 0.8)),
    "cast green (0.9, 1.12, 0.9)": lambda c: D.colour_cast(c.candidate, (0.9, 1.12, 0.9)),
    "half the face out (right)": lambda c: D.shift_out(c.candidate, fraction_of_face=0.5,
                                                       backdrop=c.look.backdrop_rgb),
    "a third of the face out (top)": lambda c: D.shift_out(
        c.candidate, fraction_of_face=0.33, backdrop=c.look.backdrop_rgb, direction="up"),
    "mirrored pair": lambda c: D.mirror_pair(c.candidate),
    "blend 60/40 with the colleague": lambda c: D.blend(c.candidate, c.colleague_candidate, 0.6),
    "blend 70/30 with the colleague": lambda c: D.blend(c.candidate, c.colleague_candidate, 0.7),
    "the colleague": lambda c: c.colleague_candidate,
}
for height in (0.06, 0.08, 0.10, 0.15, 0.20):
    DEFECTS[f"second face, {round(height * 100)} % of the frame high"] = (
        lambda c, h=height: D.paste_second_face(c.candidate, c.colleague_photo,
                                                height_fraction=h, centre=(0.86, 0.14)))
for opacity in (0.15, 0.2, 0.3, 0.5):
    DEFECTS[f"ghost face, opacity {opacity}"] = (
        lambda c, o=opacity: D.paste_second_face(c.candidate, c.colleague_photo,
                                                 height_fraction=0.22, centre=(0.85, 0.22),
                                                 opacity=o))
DEFECTS["partial face at the right edge"] = lambda c: D.paste_second_face(
    c.candidate, c.colleague_photo, height_fraction=0.3, centre=(0.98, 0.3))
DEFECTS["partial face at the left edge"] = lambda c: D.paste_second_face(
    c.candidate, c.colleague_photo, height_fraction=0.3, centre=(0.02, 0.35))


class Case:
    def __init__(self, look, references, candidate, colleague_photo, colleague_candidate):
        self.look, self.references, self.candidate = look, references, candidate
        self.colleague_photo, self.colleague_candidate = colleague_photo, colleague_candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=0, help="only the first N identities")
    args = parser.parse_args()
    started = time.perf_counter()
    people, notes = load_people()
    names = sorted(people)[:args.people or None]
    print(f"gate calibration: {machine()}")
    for note in notes:
        print(f"  note: {note}")
    presets = sorted(PRESETS)
    selfie_refusals = Counter()
    cases = []
    for index, person in enumerate(names):
        colleague = people[names[(index + 1) % len(names)]][0].image
        look = look_spec_example(presets[index % len(presets)], output_size=SIZE)
        checked = [selfie_qa(p.image) for p in people[person]]
        for photo, qa in zip(people[person], checked, strict=True):
            selfie_refusals.update(qa.codes or ["accepted"])
            if not qa.accepted:
                print(f"  selfie refused: {photo.name}: {', '.join(qa.codes)}")
        accepted = [qa for qa in checked if qa.accepted]
        if not accepted:
            continue
        colleague_qa = selfie_qa(colleague)
        references = References(embeddings=[qa.embedding for qa in accepted],
                                quality=quality_baseline([qa.metrics for qa in accepted]),
                                colleagues=[colleague_qa.embedding] if colleague_qa.embedding
                                else [])
        cases.append((person, Case(look, references,
                                   studio_retouch(people[person][0].image, look=look, seed=1),
                                   colleague, studio_retouch(colleague, look=look, seed=1))))
    print(f"identities: {len(cases)}; selfies (every photograph): "
          + ", ".join(f"{k} {v}" for k, v in selfie_refusals.most_common()))
    print(f"\n{'change':<42} {'hidden':>12}  reasons")
    for group, changes in (("benign (should stay shown)", BENIGN), ("defects", DEFECTS)):
        print(f"-- {group}")
        for label, make in changes.items():
            hidden, reasons, missed = 0, Counter(), []
            for person, case in cases:
                verdict = candidate_gate(make(case), references=case.references, look=case.look,
                                         tolerances=tolerances_for(case.look))
                hidden += not verdict.shown
                reasons.update(verdict.reasons)
                if verdict.shown == (changes is DEFECTS):
                    missed.append(person)
            text = ", ".join(f"{k} {v}" for k, v in reasons.most_common(4))
            print(f"{label:<42} {hidden:>5}/{len(cases):<6}  {text}"
                  + (f"  [{'shown' if changes is DEFECTS else 'hidden'}: {', '.join(missed)}]"
                     if missed else ""))
    print(f"\ntotal time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
