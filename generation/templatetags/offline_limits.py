"""``{% offline_limits version as limits %}``: what the offline backend cannot do of a look."""

from __future__ import annotations

from django import template

from generation.backends.offline import OfflineLimit
from generation.backends.offline import offline_limits as limits_of

register = template.Library()


@register.simple_tag(name="offline_limits")
def offline_limits(version) -> list[OfflineLimit]:
    """The limits for a look version (or anything with wardrobe, lighting and
    backdrop_description); an empty list for None."""
    if version is None:
        return []
    return limits_of(wardrobe=version.wardrobe or "", lighting=version.lighting or "",
                     backdrop_description=version.backdrop_description or "")
