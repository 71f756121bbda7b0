"""Admins export approved headshots: a ZIP named by their pattern, or a CSV with links."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import ServiceError
from core.inputs import id_or_none
from core.pages import form_page
from core.widgets import FastSelect
from generation.selectors import headshots_that_may_leave
from teams.decorators import company_view
from teams.models import Team

from ..variants import FORMATS, SHAPES, SIZES, Variant
from .services import DEFAULT_PATTERN, TOKENS, headshots_zip, people_csv_rows


class ExportForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False,
                                  empty_label="Everyone",
                                  widget=FastSelect)
    size = forms.TypedChoiceField(choices=[(s, f"{s} px") for s in SIZES], coerce=int,
                                  initial=1024)
    shape = forms.ChoiceField(choices=[(s, "Square" if s == "square" else "The look's shape")
                                       for s in SHAPES], initial="look")
    format = forms.ChoiceField(choices=[(f, f.upper()) for f in FORMATS], initial="jpeg")
    pattern = forms.CharField(
        label="File names", initial=DEFAULT_PATTERN, max_length=120,
        help_text="Any of " + ", ".join(f"{{{t}}}" for t in TOKENS)
                  + "; a / makes folders, e.g. {team}/{first}-{last}.")

    def __init__(self, *args, company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_company(company).order_by("name")


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def exports(request: HttpRequest) -> HttpResponse:
    company = request.company
    form = ExportForm(request.POST or None, company=company)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            archive = headshots_zip(company=company, team=data["team"], pattern=data["pattern"],
                                    variant=Variant(size=data["size"], shape=data["shape"],
                                                    format=data["format"]))
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            label = data["team"].name if data["team"] else company.slug
            stamp = timezone.now().strftime("%Y%m%d")
            return FileResponse(archive, as_attachment=True, content_type="application/zip",
                                filename=f"{label}-headshots-{stamp}.zip")
    # (id, name) rows for the links ({% team_links %}): no model instance per team.
    teams = Team.objects.for_company(company).order_by("name").values_list("pk", "name")
    approved = headshots_that_may_leave(company=company)
    return form_page(request, "delivery/exports.html",
                     {"form": form, "teams": teams, "approved_total": approved.count(),
                      "ttl_days": max(1, settings.EXPORT_URL_TTL_SECONDS // 86400)})


@require_GET
@company_view(role="admin")
def people_csv(request: HttpRequest) -> HttpResponse:
    company = request.company
    team = None
    if request.GET.get("team"):
        team_id = id_or_none(request.GET["team"])
        team = Team.objects.for_company(company).filter(pk=team_id).first() if team_id else None
        if team is None:
            return HttpResponse("No such team.", status=404, content_type="text/plain")
    response = StreamingHttpResponse(people_csv_rows(company=company, team=team),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = (
        f'attachment; filename="{company.slug}-people-headshots-{stamp}.csv"')
    response["Cache-Control"] = "private, no-store"
    return response
