"""The instruction FLUX Kontext gets for a look: an edit of the person's own photo.

Kontext edits the image it is given, so its prompt says what to change (background,
clothes, light, framing) and, just as plainly, what to keep (the person). The backdrop is
named three ways, because a colour code alone means little to the model: the look's own
description (its style: seamless, textured, studio), the nearest plain colour name, and the
code itself. A hosted model with a fixed background list (white, black, grey, neutral,
office) cannot reach a navy, sand or blue-grey backdrop; a named colour can.
"""

from __future__ import annotations

import numpy as np

from .colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from .looks import FRAMING_TEXT, LookSpec

# Plain colour names a photographer would use for a backdrop, with a representative sRGB
# value each; a look's colour is called by the nearest in CIEDE2000.
BACKDROP_COLOUR_NAMES: dict[str, str] = {
    "pure white": "#FFFFFF",
    "off-white": "#F0EEE8",
    "cream": "#F2E8D0",
    "light grey": "#CFD2D4",
    "mid-grey": "#8C8C8C",
    "slate grey": "#6B7684",
    "warm grey": "#8F8880",
    "charcoal grey": "#3A3F44",
    "black": "#141414",
    "light blue-grey": "#D5E1EA",
    "powder blue": "#B8D4E6",
    "sky blue": "#87BEE0",
    "steel blue": "#4A6F8F",
    "royal blue": "#2F4FA8",
    "navy blue": "#1C2838",
    "teal": "#1F6F73",
    "sage green": "#A3B39A",
    "olive green": "#6B6B3A",
    "forest green": "#24452F",
    "sand beige": "#D8C2A3",
    "taupe": "#A08C7A",
    "camel brown": "#B08654",
    "chocolate brown": "#4A3226",
    "terracotta": "#C0654A",
    "burgundy": "#6E1F2E",
    "dusty pink": "#D9A8A8",
    "lavender": "#C9BEDF",
    "plum purple": "#5E3A5E",
    "mustard yellow": "#D3A33A",
    "soft yellow": "#F2E3A0",
    "orange": "#E98A3A",
    "red": "#B83A3A",
}

_NAMES = list(BACKDROP_COLOUR_NAMES)
_NAME_LABS = srgb_to_lab(np.array([hex_to_rgb(BACKDROP_COLOUR_NAMES[name]) for name in _NAMES],
                                  dtype=np.float64))


def backdrop_colour_name(colour: str) -> str:
    """The plain name nearest (CIEDE2000) to a ``#RRGGBB`` colour."""
    lab = srgb_to_lab(np.array(hex_to_rgb(colour), dtype=np.float64))
    distances = delta_e_2000(_NAME_LABS, np.broadcast_to(lab, _NAME_LABS.shape))
    return _NAMES[int(np.argmin(distances))]


def kontext_prompt(look: LookSpec) -> str:
    """The edit instruction for FLUX Kontext: the look's backdrop (style, colour name and
    code), wardrobe, light and framing, with the person kept exactly as they are."""
    colour = look.backdrop_color.upper()
    name = backdrop_colour_name(colour)
    description = look.backdrop_description.strip().rstrip(".") or "plain studio backdrop"
    framing = FRAMING_TEXT.get(look.framing, "portrait")
    return (
        "Turn this photo into a professional studio headshot of the same person, framed as a "
        f"{framing}. "
        "Keep the person's face, facial features, skin tone, hairstyle, age and expression "
        "exactly as they are. "
        f"Replace the whole background with a {description}, {name} in colour ({colour}), "
        "evenly lit, filling the frame behind the person, with no objects, scenery or text. "
        f"Dress the person in {look.wardrobe.strip().rstrip('.')}. "
        f"Lighting: {look.lighting.strip().rstrip('.')}. "
        "The person faces the camera, centred in the frame. "
        "Photorealistic, sharp focus on the eyes, natural skin texture, 85mm portrait lens."
        + _instructions_clause(look.instructions)
    )


def _instructions_clause(instructions: str) -> str:
    """A redo's comment, as one plain sentence after the look (which stays the company's)."""
    comment = " ".join((instructions or "").split())[:300].strip(" .,;")
    return f" The person asked for this change to their previous photos: {comment}." \
        if comment else ""
