"""Look presets and the plain description of a look that backends work from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import LookVersion

FRAMING_TEXT = {
    "head_and_shoulders": "head-and-shoulders portrait",
    "chest_up": "chest-up portrait",
}


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    backdrop_color: str
    backdrop_description: str
    wardrobe: str
    lighting: str
    framing: str = "head_and_shoulders"
    aspect_ratio: str = "4:5"


PRESETS: dict[str, Preset] = {p.key: p for p in [
    Preset("corporate", "Corporate", "#6B7580", "mid-grey seamless studio backdrop",
           "dark tailored business suit, crisp white shirt",
           "soft key light at 45 degrees with gentle fill, even studio lighting"),
    Preset("creative", "Creative", "#D9C3A5", "warm sand-coloured textured backdrop",
           "smart casual layers in earthy tones", "warm directional window light, soft shadows",
           aspect_ratio="3:4"),
    Preset("startup", "Startup", "#D7E3EC", "light blue-grey backdrop",
           "smart casual shirt or plain crew-neck", "bright, airy, soft daylight"),
    Preset("executive", "Executive", "#1E2A38", "deep navy studio backdrop",
           "formal dark suit and tie or blazer", "classic Rembrandt lighting, low key",
           framing="chest_up"),
    Preset("friendly", "Friendly", "#F1EFEA", "off-white backdrop",
           "casual knitwear or plain shirt in a soft colour", "high-key, bright and open",
           aspect_ratio="1:1"),
    Preset("minimal", "Minimal", "#FFFFFF", "pure white backdrop",
           "plain black top, no logos", "flat, even, shadowless light", aspect_ratio="1:1"),
]}


@dataclass(frozen=True)
class LookSpec:
    """What a backend needs to know about a look version."""

    backdrop_color: str  # "#RRGGBB"
    backdrop_description: str
    wardrobe: str
    lighting: str
    framing: str  # "head_and_shoulders" | "chest_up"
    aspect_ratio: str  # "1:1" | "4:5" | "3:4"
    output_size: int  # long side in pixels
    prompt: str

    @property
    def aspect(self) -> float:
        """Width divided by height."""
        w, h = (int(part) for part in self.aspect_ratio.split(":"))
        return w / h

    @property
    def backdrop_rgb(self) -> tuple[int, int, int]:
        value = self.backdrop_color.lstrip("#")
        return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))

    @property
    def output_dimensions(self) -> tuple[int, int]:
        if self.aspect >= 1:
            return self.output_size, round(self.output_size / self.aspect)
        return round(self.output_size * self.aspect), self.output_size


def look_prompt(*, backdrop_description: str, backdrop_color: str, wardrobe: str, lighting: str,
                framing: str) -> str:
    """The prompt identity-preserving models get, tuned for consistent corporate headshots."""
    return (
        f"professional corporate {FRAMING_TEXT.get(framing, 'portrait')} photograph of the "
        f"person, facing the camera, relaxed natural smile, wearing {wardrobe}, {lighting}, "
        f"plain {backdrop_description} (colour {backdrop_color}), sharp focus on the eyes, "
        "natural skin texture, 85mm lens, shallow depth of field"
    )


def prompt_with_instructions(prompt: str, instructions: str) -> str:
    """The look's prompt with a redo's comment from the person (what they want changed),
    as one short, plain clause: the look stays the company's, the comment refines it."""
    comment = " ".join((instructions or "").split())[:300].strip(" .,;")
    if not comment:
        return prompt
    return f"{prompt}. The person asked for this change to their previous photos: {comment}"


def look_spec(version: LookVersion) -> LookSpec:
    """The look a stored version describes, as the backends, scoring and the gates read it."""
    return LookSpec(
        backdrop_color=version.backdrop_color, backdrop_description=version.backdrop_description,
        wardrobe=version.wardrobe, lighting=version.lighting, framing=version.framing,
        aspect_ratio=version.aspect_ratio, output_size=version.output_size,
        prompt=version.prompt,
    )


def look_spec_example(preset: str = "corporate", *, output_size: int = 1024) -> LookSpec:
    """A spec straight from a preset, for tests and benchmarks."""
    p = PRESETS[preset]
    return LookSpec(
        backdrop_color=p.backdrop_color, backdrop_description=p.backdrop_description,
        wardrobe=p.wardrobe, lighting=p.lighting, framing=p.framing,
        aspect_ratio=p.aspect_ratio, output_size=output_size,
        prompt=look_prompt(backdrop_description=p.backdrop_description,
                           backdrop_color=p.backdrop_color, wardrobe=p.wardrobe,
                           lighting=p.lighting, framing=p.framing),
    )
