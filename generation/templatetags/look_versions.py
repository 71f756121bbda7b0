"""``{% outdated_headshots_notice %}``: on the admins' dashboard, the headshots approved
under an older version of the look, with the way to regenerate them. A tag, so the
dashboard (teams) shows it without teams importing generation."""

from __future__ import annotations

from django import template

from generation.eligibility import outdated_names

register = template.Library()


@register.inclusion_tag("generation/_outdated_notice.html", takes_context=True)
def outdated_headshots_notice(context) -> dict:
    company = context.get("company")
    if company is None:
        return {"count": 0}
    count, names = outdated_names(company=company)
    return {"count": count, "names": names, "more": count - len(names), "company": company}
