"""``manage.py render_headshot``: the offline backend on one selfie, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from .faces import face_path

ROOT = Path(__file__).resolve().parents[1]


def _render(*args: str) -> dict:
    out = StringIO()
    call_command("render_headshot", *args, stdout=out, stderr=StringIO())
    (line,) = out.getvalue().strip().splitlines()
    return json.loads(line)


@pytest.mark.slow
def test_a_selfie_is_rendered_in_the_preset_look(tmp_path):
    target = tmp_path / "headshot.png"
    report = _render("--look", "executive", "--selfie", str(face_path("obama.jpg")),
                     "--out", str(target), "--seed", "3", "--size", "640")
    assert report["rendered"] is True and report["look"] == "executive" and report["seed"] == 3
    with Image.open(target) as image:
        assert image.size == (report["width"], report["height"]) == (512, 640)
    assert [item["field"] for item in report["not_available"]] == ["wardrobe"]
    assert isinstance(report["notes"], list) and report["ms"] > 0


def test_a_photo_without_a_face_is_a_verdict_not_an_error(tmp_path):
    blank = tmp_path / "wall.png"
    Image.new("RGB", (640, 800), (200, 180, 160)).save(blank)
    report = _render("--look", "minimal", "--selfie", str(blank), "--out",
                     str(tmp_path / "x.png"))
    assert report["rendered"] is False and report["reasons"] == ["no_face"]
    assert "No face was found" in report["message"]
    assert not (tmp_path / "x.png").exists()


def test_a_file_that_is_not_a_photo_is_a_verdict(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    report = _render("--look", "minimal", "--selfie", str(text), "--out",
                     str(tmp_path / "x.png"))
    assert report["rendered"] is False and report["reasons"] == ["unreadable"]


@pytest.mark.parametrize("args", [
    ["--look", "corporate", "--selfie", "/no/such/selfie.jpg", "--out", "x.png"],
    ["--look", "corporate", "--selfie", __file__, "--out", "/no/such/folder/x.png"],
    ["--look", "corporate", "--selfie", __file__, "--out", "x.gif"],
    ["--look", "corporate", "--selfie", __file__, "--out", "x.png", "--size", "20"],
])
def test_usage_errors_exit_with_2(args):
    with pytest.raises(CommandError) as error:
        call_command("render_headshot", *args, stdout=StringIO(), stderr=StringIO())
    assert error.value.returncode == 2


def test_an_unknown_preset_exits_with_2_from_the_command_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "render_headshot", "--look", "gothic", "--selfie",
         str(tmp_path / "x.jpg"), "--out", str(tmp_path / "y.png")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "invalid choice: 'gothic'" in result.stderr
    assert result.stdout == ""
