"""Form widgets for long menus."""

from __future__ import annotations

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class FastSelect(forms.Select):
    """A <select> written in one pass instead of a template per option: Django's widget
    templates cost ~40 µs an option, so a company's 50 teams made each form with a team
    menu a few milliseconds slower than a 3-team company's. Same HTML, no option groups."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (option["value"], " selected" if option["selected"] else "", option["label"])
            for _group, choices, _index in widget["optgroups"] for option in choices))
        return format_html("<select name=\"{}\"{}>{}</select>", widget["name"],
                           flatatt(widget["attrs"]), options)
