"""The candidate gate on real photos: every defect, built at run time from real portraits,
is hidden with its reason; benign changes (a JPEG re-encode, a slight rescale) stay shown.

Two people, from two different sets of photos, so the gates are not tuned to one face:
Barack Obama (../shared/faces) with Joe Biden as his colleague, and Marissa Mayer
(../shared/identities) with Jeff Bezos as hers. Candidates are made by the offline backend
from the person's first selfie, as a job would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from generation.backends.offline import studio_retouch
from generation.conformance import tolerances_for
from generation.gates import codes
from generation.gates.candidate import References, candidate_gate
from generation.gates.quality import quality_baseline
from generation.intake.qa import selfie_qa
from generation.looks import LookSpec, look_spec_example

from . import defects as D
from .faces import FACES

pytestmark = pytest.mark.slow
IDENTITIES = FACES.parent / "identities"
SIZE = 768


@dataclass
class Person:
    look: LookSpec
    references: References
    candidate: Image.Image
    colleague_candidate: Image.Image
    colleague_photo: Image.Image


def _open(path: Path) -> Image.Image:
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


PEOPLE = {
    "obama": ([FACES / "obama.jpg", FACES / "obama2.jpg"], FACES / "biden.jpg", "corporate"),
    "mayer": ([IDENTITIES / "marissa_mayer" / "01.jpg", IDENTITIES / "marissa_mayer" / "02.jpg"],
              IDENTITIES / "jeff_bezos" / "01.jpg", "startup"),
}


@pytest.fixture(scope="module", params=sorted(PEOPLE))
def person(request) -> Person:
    selfie_paths, colleague_path, preset = PEOPLE[request.param]
    selfies = [_open(p) for p in selfie_paths]
    colleague = _open(colleague_path)
    checked = [selfie_qa(s) for s in selfies]
    assert all(qa.accepted for qa in checked), [qa.reasons for qa in checked]
    look = look_spec_example(preset, output_size=SIZE)
    return Person(
        look=look,
        references=References(embeddings=[qa.embedding for qa in checked],
                              quality=quality_baseline([qa.metrics for qa in checked]),
                              colleagues=[selfie_qa(colleague).embedding]),
        candidate=studio_retouch(selfies[0], look=look, seed=1),
        colleague_candidate=studio_retouch(colleague, look=look, seed=1),
        colleague_photo=colleague,
    )


def _gate(person: Person, image: Image.Image):
    return candidate_gate(image, references=person.references, look=person.look,
                          tolerances=tolerances_for(person.look))


BENIGN = {
    "as made": lambda p: p.candidate,
    "JPEG re-encode q75": lambda p: D.jpeg_reencode(p.candidate, 75),
    "rescaled 93 %": lambda p: D.rescale(p.candidate, 0.93),
    "rescaled 107 %": lambda p: D.rescale(p.candidate, 1.07),
}


@pytest.mark.parametrize("change", sorted(BENIGN))
def test_benign_changes_stay_shown(person, change):
    verdict = _gate(person, BENIGN[change](person))
    assert verdict.shown, verdict.reasons
    assert verdict.likeness is not None and verdict.likeness > 0.5


def _backdrop(p: Person) -> tuple[int, int, int]:
    return p.look.backdrop_rgb


DEFECTS = {
    # One person per photo.
    "second face in the backdrop": (lambda p: D.paste_second_face(
        p.candidate, p.colleague_photo, height_fraction=0.15, centre=(0.86, 0.14)),
        codes.SECOND_PERSON),
    "faint ghost of a second face": (lambda p: D.paste_second_face(
        p.candidate, p.colleague_photo, height_fraction=0.22, centre=(0.85, 0.22), opacity=0.3),
        codes.SECOND_PERSON),
    "partial face at the edge": (lambda p: D.paste_second_face(
        p.candidate, p.colleague_photo, height_fraction=0.3, centre=(0.98, 0.3)),
        codes.SECOND_PERSON),
    "mirrored two-person image": (lambda p: D.mirror_pair(p.candidate), codes.SECOND_PERSON),
    "no face at all": (lambda p: Image.new("RGB", p.candidate.size, _backdrop(p)), codes.NO_FACE),
    # The look.
    "half the face shifted out": (lambda p: D.shift_out(
        p.candidate, fraction_of_face=0.5, backdrop=_backdrop(p)), codes.FACE_CUT_OFF),
    "red strip over a quarter": (lambda p: D.paint_strip(
        p.candidate, colour=(200, 30, 30), width_fraction=0.25), codes.BACKDROP_OFF),
    "blue colour cast": (lambda p: D.colour_cast(p.candidate, (0.95, 1.0, 1.3)), codes.COLOUR_CAST),
    "warm colour cast": (lambda p: D.colour_cast(p.candidate, (1.25, 1.0, 0.8)), codes.COLOUR_CAST),
    # Quality.
    "Gaussian blur 3 px": (lambda p: D.blur(p.candidate, 3.0), codes.BLURRED),
    "Gaussian blur 12 px": (lambda p: D.blur(p.candidate, 12.0), codes.BLURRED),
    "pixelated 8 px": (lambda p: D.pixelate(p.candidate, 8), codes.LOW_DETAIL),
    "pixelated 20 px": (lambda p: D.pixelate(p.candidate, 20), codes.LOW_DETAIL),
    "pixelated then rescaled": (lambda p: D.rescale(D.pixelate(p.candidate, 10), 0.93),
                                codes.LOW_DETAIL),
    "cartoon stylisation": (lambda p: D.cartoon(p.candidate), codes.LOW_DETAIL),
    # Identity.
    "somebody else": (lambda p: p.colleague_candidate, codes.NOT_THE_PERSON),
    "60/40 blend with a colleague": (lambda p: D.blend(p.candidate, p.colleague_candidate, 0.6),
                                     codes.NOT_THE_PERSON),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_is_hidden_with_its_reason(person, defect):
    make, code = DEFECTS[defect]
    verdict = _gate(person, make(person))
    assert not verdict.shown
    assert code in verdict.reasons, verdict.reasons
    assert verdict.recropped is None  # nothing that fails is ever re-cropped into a pass
    for reason in verdict.reasons:
        assert codes.CANDIDATE_SENTENCES[reason].endswith(".")


def test_every_reason_code_has_a_sentence():
    required = {"not_the_person", "second_person", "no_face", "face_cut_off", "blurred",
                "low_detail", "backdrop_off", "colour_cast", "framing_off", "different_person"}
    assert required <= set(codes.CANDIDATE_SENTENCES)
    assert {"second_person", "no_face", "blurred", "different_person"} <= set(
        codes.SELFIE_SENTENCES)
