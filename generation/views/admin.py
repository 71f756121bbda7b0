"""Admin pages: looks (versions, previews, approval), generating, and team review."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ServiceError
from core.files import private_file_response
from core.inputs import id_or_none
from core.pages import form_page, object_or_404
from core.pagination import BadCursor, bad_cursor_response, keyset_page
from core.widgets import FastSelect
from teams.decorators import company_view
from teams.models import Membership, MemberTally, Team
from teams.selectors import team_list, team_menu

from ..backends.gpu.estimate import batch_estimate
from ..eligibility import batch_eligibility_summary, outdated_names
from ..looks import PRESETS
from ..models import GenerationJob, LookVersion, Selfie
from ..routing import gpu_workers_available
from ..sample_portrait import LABEL as SAMPLE_LABEL
from ..selectors import (
    UNIFORMITY_METRICS,
    batch_progress,
    candidate_get,
    candidate_may_leave,
    candidates_hidden_for_audit,
    candidates_that_may_leave,
    jobs_in_progress,
    look_version_get,
    look_versions,
    review_history,
    review_members,
    review_rows,
    uniformity_report,
)
from ..services.batches import team_order_start
from ..services.jobs import MIN_SELFIES
from ..services.looks import look_version_approve, look_version_create
from ..services.review import (
    GATE_REFUSAL,
    headshot_approve,
    headshot_reject,
    look_preview_create,
)


class LookForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False,
                                  empty_label="Whole company",
                                  widget=FastSelect)
    preset = forms.ChoiceField(choices=[("", "Custom")] + [(k, p.label) for k, p in PRESETS.items()],
                               required=False)
    # A text box, not <input type="color">: a colour input cannot be left empty, so it
    # always sent #000000 and silently replaced every preset's backdrop with black.
    backdrop_color = forms.RegexField(
        label="Backdrop colour", required=False, max_length=7, regex=r"^#[0-9A-Fa-f]{6}$",
        error_messages={"invalid": "Use a colour like #F1EFEA."},
        help_text="#RRGGBB; leave empty to keep the preset's colour.",
        widget=forms.TextInput(attrs={"placeholder": "#F1EFEA", "autocomplete": "off"}))
    backdrop_description = forms.CharField(
        label="Backdrop", required=False, max_length=200,
        help_text="The offline backend paints a plain colour: textures and scenes are not "
                  "available with it.")
    # The offline backend retouches the person's own photo: say what it cannot honour.
    wardrobe = forms.CharField(required=False, max_length=200, help_text=(
        "Not available with the offline backend: it keeps the clothes of the selfie."))
    lighting = forms.CharField(required=False, max_length=200, help_text=(
        "The offline backend relights only for key direction, fill, low or high key, flat "
        "light, contrast and warmth; it lists anything else as not available."))
    framing = forms.ChoiceField(choices=[("", "Preset's")] + LookVersion.Framing.choices,
                                required=False)
    aspect_ratio = forms.ChoiceField(choices=[("", "Preset's")] + LookVersion.Aspect.choices,
                                     required=False)
    output_size = forms.IntegerField(label="Output size (px, long side)", initial=1024,
                                     min_value=512, max_value=2048)
    backdrop_delta_e_max = forms.FloatField(
        label="Backdrop tolerance (ΔE)", required=False, min_value=0.5, max_value=30,
        help_text="How far a photo's backdrop may drift from the colour. Empty: 5.")
    roll_degrees_max = forms.FloatField(
        label="Head tilt tolerance (degrees)", required=False, min_value=0.5, max_value=30,
        help_text="Empty: 5.")

    def __init__(self, *args, company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_company(company)


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def looks(request: HttpRequest) -> HttpResponse:
    company = request.company
    form = LookForm(request.POST or None, company=company)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = look_version_create(
                company=company, actor=request.membership, team=data["team"],
                preset=data["preset"], backdrop_color=data["backdrop_color"],
                backdrop_description=data["backdrop_description"], wardrobe=data["wardrobe"],
                lighting=data["lighting"], framing=data["framing"],
                aspect_ratio=data["aspect_ratio"], output_size=data["output_size"],
                tolerances={"backdrop_delta_e_max": data["backdrop_delta_e_max"],
                            "roll_degrees_max": data["roll_degrees_max"]})
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Version {version.version} saved as a draft: preview it, "
                                      "then approve it.")
            return redirect("generation:look_version", company_slug=company.slug, pk=version.pk)
    return form_page(request, "generation/looks.html",
                     {"form": form, "versions": look_versions(company=company), "presets": PRESETS})


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def look_version(request: HttpRequest, pk: int) -> HttpResponse:
    company = request.company
    version = object_or_404(look_version_get(company=company, pk=pk))
    if request.method == "POST":
        try:
            if request.POST.get("action") == "approve":
                look_version_approve(company=company, actor=request.membership, version=version)
                messages.success(request, "Approved. New headshots use this look.")
                outdated, _ = outdated_names(company=company)
                if outdated:
                    messages.warning(request, f"{outdated} approved headshot"
                                              f"{' was' if outdated == 1 else 's were'} made in "
                                              "an older version: the People page offers to "
                                              "regenerate them.")
            else:
                # Only the admin's own photos (look_preview_create says why), or the
                # bundled public-domain sample portrait.
                selfie = None
                if request.POST.get("selfie") != "sample":
                    selfie = Selfie.objects.for_company(company).filter(
                        pk=id_or_none(request.POST.get("selfie")) or 0,
                        membership=request.membership).first()
                    if selfie is None:
                        raise ServiceError("Choose one of your own photos or the sample "
                                           "portrait as the reference.")
                job = look_preview_create(company=company, actor=request.membership,
                                          version=version, selfie=selfie)
                job.refresh_from_db()
                messages.success(request, "Previews are ready below." if not job.is_open else
                                 "Previews are being made; this page updates by itself.")
        except ServiceError as error:
            messages.error(request, str(error))
        return redirect("generation:look_version", company_slug=company.slug, pk=version.pk)
    previews = GenerationJob.objects.for_company(company).filter(
        look_version=version, kind=GenerationJob.Kind.PREVIEW).order_by("-queued_at")
    preview_candidates = candidates_that_may_leave(company=company).filter(job__in=previews)
    references = Selfie.objects.for_company(company).filter(
        status=Selfie.Status.ACCEPTED, membership=request.membership)[:50]
    return render(request, "generation/look_version.html", {
        "version": version, "previews": previews, "preview_candidates": preview_candidates,
        "references": references, "sample_label": SAMPLE_LABEL,
        "previews_open": any(p.is_open for p in previews),
    })


@require_POST
@company_view(role="admin")
def generate_for_team(request: HttpRequest) -> HttpResponse:
    """Order headshots for everyone ``batch_eligibility`` includes (optionally one team;
    ``everyone=1`` also redoes people approved in the current look).

    ``kind=consistent_batch`` asks for one consistent shoot on the in-house GPU workers
    (a personal model each, so at least four selfies each); the default makes single-selfie
    jobs.
    """
    company = request.company
    kind = request.POST.get("kind") or GenerationJob.Kind.SINGLE_SELFIE
    if kind not in (GenerationJob.Kind.SINGLE_SELFIE, GenerationJob.Kind.CONSISTENT_BATCH):
        messages.error(request, "Choose how the headshots should be made.")
        return redirect("generation:review", company_slug=company.slug)
    team = request.POST.get("team", "")
    if team and (id_or_none(team) is None
                 or not team_list(company=company).filter(pk=team).exists()):
        raise Http404("No such team.")
    order = team_order_start(company=company, actor=request.membership,
                             team_id=int(team) if team else None, kind=kind,
                             everyone=request.POST.get("everyone") == "1")
    count = len(order.started)
    messages.success(request, f"Started headshots for {count} "
                              f"{'person' if count == 1 else 'people'}.")
    for problem in order.problems[:10]:
        messages.warning(request, problem)
    if kind == GenerationJob.Kind.CONSISTENT_BATCH:
        url = reverse("generation:batches", kwargs={"company_slug": company.slug})
        return redirect(f"{url}?team={team}" if team else url)
    return redirect("generation:review", company_slug=company.slug)


def _team_filter(request: HttpRequest) -> tuple[int | None, bool]:
    team = request.GET.get("team", "")
    return id_or_none(team), team == "none"


@require_http_methods(["GET"])
@company_view(role="admin")
def review(request: HttpRequest) -> HttpResponse:
    company = request.company
    team_id, _ = _team_filter(request)
    try:
        page = keyset_page(review_members(company=company, team_id=team_id), key="sort_name",
                           params=request.GET,
                           anchors=Membership.objects.for_company(company))
    except BadCursor as error:
        return bad_cursor_response(request, error)
    # Links and labels made once here, not by tags in each of the page's 50 cards.
    image, thumb, decide = (reverse(f"generation:{name}", args=[company.slug, 0])
                            for name in ("candidate_image", "candidate_thumb", "review_decide"))
    cards = []
    for row in review_rows(company=company, members=page.items):
        pick, member, headshot = row["pick"], row["member"], row["headshot"]
        cards.append({
            "name": member.user.get_full_name(), "team": member.team.name if member.team else "",
            "pick": pick.pk if pick else None, "favourite": bool(pick and pick.is_favourite),
            "choices": row["choices"], "approved": headshot is not None,
            "pick_approved": bool(headshot and pick and headshot.candidate_id == pick.pk),
            "image_url": _with_pk(image, pick), "thumb_url": _with_pk(thumb, pick),
            "decide_url": _with_pk(decide, pick),
            "offline": bool(pick and pick.job.backend == GenerationJob.Backend.OFFLINE),
        })
    return render(request, "generation/review.html", {
        "rows": cards, "page": page, "here": request.get_full_path(),
        "teams": team_menu(company=company), "team_id": team_id,
        "history": review_history(company=company),
        "in_progress": jobs_in_progress(company=company, team_id=team_id),
    })


def _with_pk(url: str, obj) -> str:
    """``url`` reversed with pk 0, for ``obj``'s pk instead (the last "/0/" of the path)."""
    if obj is None:
        return ""
    head, tail = url.rsplit("/0/", 1)
    return f"{head}/{obj.pk}/{tail}"


@require_POST
@company_view(role="admin")
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    company = request.company
    candidate = object_or_404(candidate_get(company=company, pk=pk))
    if not candidate_may_leave(candidate):
        # Refused on the server, whatever the page showed: nothing changes.
        return HttpResponse(GATE_REFUSAL, status=409, content_type="text/plain; charset=utf-8")
    try:
        if request.POST.get("action") == "approve":
            headshot_approve(company=company, actor=request.membership, candidate=candidate)
            messages.success(request, f"Approved: {candidate.membership.user.get_full_name()}'s "
                                      "headshot.")
        else:
            headshot_reject(company=company, actor=request.membership, candidate=candidate,
                            reason=request.POST.get("reason", ""))
            messages.success(request, "Rejected; the person will see your reason.")
    except ServiceError as error:
        messages.error(request, str(error))
    url = request.POST.get("next", "")
    if url.startswith(f"/c/{company.slug}/"):
        return redirect(url)
    return redirect("generation:review", company_slug=company.slug)


@require_GET
@company_view(role="admin")
def uniformity(request: HttpRequest) -> HttpResponse:
    """Does each team look like one shoot? Spread per metric, outliers, photos side by side.

    One team at a time (the first with photos unless one is chosen), its people 50 a page;
    the spreads and outliers are over the whole team."""
    company = request.company
    team_id, no_team = _team_filter(request)
    teams = team_menu(company=company)
    if team_id is None and not no_team:
        with_photos = set(MemberTally.objects.for_company(company).filter(
            status__in=[Membership.Status.REVIEW, Membership.Status.APPROVED], n__gt=0,
        ).values_list("team_key", flat=True))
        team_id = next((pk for pk, _name, _size in teams if pk in with_photos), None)
        no_team = team_id is None and 0 in with_photos
    try:
        page = keyset_page(review_members(company=company, team_id=team_id, no_team=no_team),
                           key="sort_name", params=request.GET,
                           anchors=Membership.objects.for_company(company))
    except BadCursor as error:
        return bad_cursor_response(request, error)
    report = uniformity_report(company=company, team_id=team_id, no_team=no_team,
                               shown=page.items) if team_id or no_team else []
    return render(request, "generation/uniformity.html", {
        "report": report, "page": page, "metrics": UNIFORMITY_METRICS, "teams": teams,
        "team_id": team_id, "no_team": no_team,
    })


@require_GET
@company_view(role="admin")
def batches(request: HttpRequest) -> HttpResponse:
    """Order a consistent batch for a team: who is in and who is not and why, what it
    costs in credits and GPU time, how it is going."""
    company = request.company
    team_id, _ = _team_filter(request)
    everyone = request.GET.get("everyone") == "1"
    try:
        summary = batch_eligibility_summary(company=company, team_id=team_id, everyone=everyone,
                                            listed=settings.ADMIN_LIST_PAGE_SIZE,
                                            params=request.GET)
    except BadCursor as error:
        return bad_cursor_response(request, error)
    ready = summary.ready
    return render(request, "generation/batches.html", {
        "ready": ready, "needed": MIN_SELFIES["consistent_batch"],
        "eligibility": summary, "everyone": everyone,
        # A company of thousands: the first names of each list, and how many more.
        "included": summary.included, "excluded": summary.excluded,
        "more_included": max(0, ready - len(summary.included)),
        "page": summary.excluded,
        "estimate": batch_estimate(people=ready),
        "gpu_available": gpu_workers_available(), "teams": team_menu(company=company),
        "team_id": team_id, "jobs": batch_progress(company=company, team_id=team_id),
    })


@require_GET
@company_view(role="admin")
def audit(request: HttpRequest) -> HttpResponse:
    """Hidden candidates and why: the only place anyone sees a photo that failed a gate."""
    return render(request, "generation/audit.html", {
        "candidates": candidates_hidden_for_audit(company=request.company)})


@require_GET
@company_view(role="admin")
def audit_thumb(request: HttpRequest, pk: int) -> HttpResponse:
    # Admins only: the one place a photo that failed a gate is ever served.
    candidate = object_or_404(candidate_get(company=request.company, pk=pk))
    response = private_file_response(candidate.thumb_key)
    response["Cache-Control"] = "private, no-store"
    return response
