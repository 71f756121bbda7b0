"""The FLUX Kontext instruction names each look's backdrop: its style, a colour name, the code."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from generation.colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from generation.look_prompts import BACKDROP_COLOUR_NAMES, backdrop_colour_name, kontext_prompt
from generation.looks import FRAMING_TEXT, PRESETS, look_spec_example

# What a photographer would call each preset's backdrop. The headshot app the backend used
# before offered only white, black, grey, neutral and office: none of navy, sand or blue-grey.
PRESET_COLOUR_NAMES = {
    "corporate": "slate grey",
    "creative": "sand beige",
    "startup": "light blue-grey",
    "executive": "navy blue",
    "friendly": "off-white",
    "minimal": "pure white",
}


def _delta_e(a: str, b: str) -> float:
    labs = srgb_to_lab(np.array([hex_to_rgb(a), hex_to_rgb(b)], dtype=np.float64))
    return float(delta_e_2000(labs[0], labs[1]))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_prompt_names_its_backdrop_colour_and_style(preset):
    look = look_spec_example(preset)
    prompt = kontext_prompt(look)
    name = PRESET_COLOUR_NAMES[preset]
    assert backdrop_colour_name(look.backdrop_color) == name
    # The name is a fair description of the colour, not merely the least bad one.
    assert _delta_e(BACKDROP_COLOUR_NAMES[name], look.backdrop_color) < 6
    assert f"{look.backdrop_description}, {name} in colour ({look.backdrop_color})" in prompt
    assert look.wardrobe in prompt and look.lighting in prompt
    assert FRAMING_TEXT[look.framing] in prompt
    # An edit of the person's photo: it says what must not change.
    assert "Keep the person's face" in prompt and "same person" in prompt
    assert len(prompt) < 1000  # well inside what the model reads


def test_presets_get_different_backdrops():
    prompts = {preset: kontext_prompt(look_spec_example(preset)) for preset in PRESETS}
    assert len(set(prompts.values())) == len(PRESETS)
    assert len(set(PRESET_COLOUR_NAMES.values())) == len(PRESETS)


@pytest.mark.parametrize(("colour", "name"), [
    ("#2B4A35", "forest green"), ("#7A1E30", "burgundy"), ("#000000", "black"),
    ("#808080", "mid-grey"), ("#C4694D", "terracotta"), ("#fefefe", "pure white"),
])
def test_a_custom_colour_gets_the_nearest_plain_name(colour, name):
    assert backdrop_colour_name(colour) == name


def test_a_custom_look_without_a_description_still_names_its_colour():
    look = replace(look_spec_example("corporate"), backdrop_color="#2b4a35",
                   backdrop_description="", wardrobe="navy polo shirt.",
                   lighting="soft daylight.")
    prompt = kontext_prompt(look)
    assert "plain studio backdrop, forest green in colour (#2B4A35)" in prompt
    assert "Dress the person in navy polo shirt. " in prompt  # no doubled full stop
    assert "Lighting: soft daylight. " in prompt
