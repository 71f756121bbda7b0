"""``check_selfies`` and ``check_candidate``: the product's gates on files, for CI and for
self-hosters trying their own photos. JSON lines on stdout, exit 0 whatever the verdicts,
exit 2 on a usage error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generation.backends.offline import studio_retouch
from generation.looks import look_spec_example

from . import defects as D
from .faces import face_image, face_path

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _lines(*args) -> list[dict]:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_check_selfies_judges_each_photo_and_the_set():
    paths = [str(face_path(n)) for n in ("obama.jpg", "obama2.jpg", "biden.jpg",
                                         "two_people.jpg")]
    rows = _lines("check_selfies", *paths)
    assert [r["path"] for r in rows] == paths
    assert [r["accepted"] for r in rows] == [True, True, False, False]
    assert rows[2]["reasons"] == ["different_person"]
    assert "different person" in rows[2]["messages"][0]
    assert "second_person" in rows[3]["reasons"]


def test_check_candidate_shows_the_good_and_hides_the_defects(tmp_path):
    look = look_spec_example("corporate", output_size=768)
    good = studio_retouch(face_image("obama.jpg"), look=look, seed=2)
    files = {"good.png": good, "blurred.png": D.blur(good, 4.0),
             "photobomb.png": D.paste_second_face(good, face_image("biden.jpg"),
                                                  height_fraction=0.2, centre=(0.85, 0.2)),
             "impostor.png": studio_retouch(face_image("biden.jpg"), look=look, seed=2)}
    for name, image in files.items():
        image.save(tmp_path / name)
    rows = _lines("check_candidate", "--look", "corporate",
                  "--selfie", str(face_path("obama.jpg")), "--selfie", str(face_path("obama2.jpg")),
                  *(str(tmp_path / n) for n in files))
    verdicts = {Path(r["path"]).name: r for r in rows}
    assert verdicts["good.png"]["shown"] and verdicts["good.png"]["reasons"] == []
    assert verdicts["good.png"]["likeness"] > 0.6
    assert verdicts["blurred.png"]["reasons"] == ["blurred"]
    assert "second_person" in verdicts["photobomb.png"]["reasons"]
    assert verdicts["impostor.png"]["reasons"] == ["not_the_person"]
    assert verdicts["impostor.png"]["likeness"] < 0.4
    assert all(r["messages"] or r["shown"] for r in rows)


def test_a_missing_file_is_a_usage_error():
    with pytest.raises(CommandError) as error:
        call_command("check_selfies", "/no/such/selfie.jpg", stdout=StringIO())
    assert error.value.returncode == 2


@pytest.mark.parametrize("args", [
    ["check_selfies"],
    ["check_candidate", "--look", "corporate", "x.jpg"],  # no --selfie
    ["check_candidate", "--look", "no-such-look", "--selfie", "x.jpg", "y.jpg"],
    ["check_candidate", "--look", "corporate", "--selfie", "/no/such.jpg", "y.jpg"],
])
def test_usage_errors_exit_2_from_the_command_line(args):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get(
        "DJANGO_SETTINGS_MODULE", "config.settings.test")}
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stdout == ""


@pytest.mark.django_db
def test_rescore_candidates_gates_what_was_stored_before_the_gates(tenant_a):
    from generation.models import Candidate

    from .helpers import candidate_for

    old = candidate_for(tenant_a.member)  # a flat grey image: no face
    Candidate.objects.for_company(tenant_a.company).filter(pk=old.pk).update(gates_passed=False)
    rows = _lines("rescore_candidates", "--company", "alpha")
    assert rows == [{"job": old.job_id, "company": "alpha", "scored": 1, "shown": 0}]
    old.refresh_from_db()
    assert not old.visible and not old.gates_passed
    assert [r["code"] for r in old.gate_reasons] == ["no_face"]
    assert _lines("rescore_candidates") == []  # nothing left to do
    with pytest.raises(CommandError) as error:
        call_command("rescore_candidates", "--company", "nope", stdout=StringIO())
    assert error.value.returncode == 2
