from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.client_ip import client_ip
from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.files import private_file_response
from core.pages import form_page, object_or_404, reported
from core.pagination import BadCursor, bad_cursor_response, keyset_page
from core.rows import local_day, local_minute, path_for_id
from teams.decorators import company_view
from teams.selectors import joined_member_get, member_get

from .dsr import dsr_create, dsr_for_person, dsr_list
from .erasure import company_close
from .forms import (
    CompanyCloseForm,
    ConsentForm,
    ErasureConfirmForm,
    LeaverPolicyForm,
    NoticeForm,
    PaperConsentForm,
    RetentionPolicyForm,
)
from .leaver import leaver_keeps_headshots, leaver_policy_update
from .models import ConsentNotice, ConsentRecord, DataSubjectRequest, DeletionTally
from .retention import policy_as_dict, policy_for, retention_schedule_lines
from .services import (
    RequestInfo,
    consent_current,
    consent_grant,
    consent_is_granted,
    consent_withdraw,
    notice_current,
    notice_publish,
    retention_policy_update,
)


def _request_info(request: HttpRequest) -> RequestInfo:
    return RequestInfo(ip_address=client_ip(request),
                       user_agent=request.META.get("HTTP_USER_AGENT", ""))


@require_http_methods(["GET", "POST"])
@company_view(role="member")
def consent(request: HttpRequest) -> HttpResponse:
    company, membership = request.company, request.membership
    notice = notice_current(company=company)
    latest = consent_current(company=company, user=request.user)
    form = ConsentForm(request.POST or None, initial={"notice_version": notice.version})
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["notice_version"] != notice.version:
                raise ServiceError("The notice was updated while you were reading it. Please "
                                   "read the new version below.")
            consent_grant(
                company=company, membership=membership, notice=notice,
                signed_name=form.cleaned_data["signed_name"], agreed=form.cleaned_data["agree"],
                request_info=_request_info(request),
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Thank you. You can now upload your selfies.")
            return redirect("generation:selfies", company_slug=company.slug)
    return form_page(
        request, "privacy/consent.html",
        {"notice": notice, "form": form, "latest": latest,
         "granted": latest is not None and latest.event == ConsentRecord.Event.GRANTED},
    )


@require_GET
@company_view(role="member")
def consent_decline(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/consent_declined.html")


@require_http_methods(["GET", "POST"])
@company_view(role="member")
def consent_withdraw_view(request: HttpRequest) -> HttpResponse:
    """Withdrawing deletes the person's photos: a page of its own says so and asks them to
    confirm; only a POST carrying that confirmation withdraws (a stray tap does nothing)."""
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        return render(request, "privacy/consent_withdraw.html",
                      status=200 if request.method == "GET" else 400)
    with reported(request, success="Consent withdrawn. Nothing more is processed, and your photos "
                                   "and face data will be deleted."):
        consent_withdraw(company=request.company, membership=request.membership,
                         request_info=_request_info(request))
    return redirect("privacy:consent", company_slug=request.company.slug)


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def notice_edit(request: HttpRequest) -> HttpResponse:
    company = request.company
    notice = notice_current(company=company)
    form = NoticeForm(request.POST or None, initial={"body": notice.body})
    if request.method == "POST" and form.is_valid():
        try:
            new = notice_publish(company=company, body=form.cleaned_data["body"],
                                 created_by=request.user)
        except ServiceError as error:
            form.add_error("body", str(error))
        else:
            messages.success(request, f"Version {new.version} published. People who consented "
                                      "to an earlier version keep that consent.")
            return redirect("privacy:notice_edit", company_slug=company.slug)
    versions = ConsentNotice.objects.for_company(company).only("version", "created_at", "sha256")
    return form_page(request, "privacy/notice_edit.html",
                     {"notice": notice, "form": form, "versions": versions})


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def paper_consent(request: HttpRequest, pk: int) -> HttpResponse:
    company = request.company
    member = object_or_404(joined_member_get(company=company, pk=pk))
    notice = notice_current(company=company)
    form = PaperConsentForm(request.POST or None, initial={"notice_version": notice.version})
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["notice_version"] != notice.version:
                raise ServiceError("The notice changed; record the release against the new version.")
            consent_grant(
                company=company, membership=member, notice=notice,
                signed_name=form.cleaned_data["signed_name"], agreed=form.cleaned_data["agree"],
                request_info=_request_info(request), recorded_by=request.membership,
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Paper release recorded for {member.user.get_full_name()}.")
            return redirect("generation:member_selfies", company_slug=company.slug, pk=member.pk)
    return form_page(request, "privacy/paper_consent.html",
                     {"member": member, "notice": notice, "form": form,
                      "latest": consent_current(company=company, user=member.user)})


# --- My data: the person's own copy and erasure ---------------------------------------

def _my_data_page(request: HttpRequest, *, erase_form: ErasureConfirmForm | None = None,
                  status: int = 200) -> HttpResponse:
    company, me = request.company, request.membership
    return render(request, "privacy/my_data.html", {
        "schedule": retention_schedule_lines(policy_for(company)),
        "requests": dsr_for_person(company=company, membership=me)[:20],
        "erase_form": erase_form or ErasureConfirmForm(),
        "consented": consent_is_granted(company=company, user=me.user),
    }, status=status)


@require_GET
@company_view(role="member")
def my_data(request: HttpRequest) -> HttpResponse:
    return _my_data_page(request)


@require_POST
@company_view(role="member")
def my_data_export(request: HttpRequest) -> HttpResponse:
    with reported(request, success="Your copy is being prepared; the download appears below."):
        dsr_create(company=request.company, membership=request.membership,
                   requested_by=request.membership, kind=DataSubjectRequest.Kind.EXPORT)
    return redirect("privacy:my_data", company_slug=request.company.slug)


@require_POST
@company_view(role="member")
def my_data_erase(request: HttpRequest) -> HttpResponse:
    form = ErasureConfirmForm(request.POST)
    if not (form.is_valid() and form.cleaned_data["confirm"]):
        form.add_error("confirm", "Tick the box to confirm that you want your data erased.")
        return _my_data_page(request, erase_form=form, status=400)
    with reported(request, success="Your consent is withdrawn and your photos, headshots and face "
                                   "data are being erased. The request is logged below."):
        dsr_create(company=request.company, membership=request.membership,
                   requested_by=request.membership, kind=DataSubjectRequest.Kind.ERASURE)
    return redirect("privacy:my_data", company_slug=request.company.slug)


@require_GET
@company_view(role="member")
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The person's own copy, or any copy for the company's admins (who hand it over)."""
    export = DataSubjectRequest.objects.for_company(request.company).filter(
        pk=pk, kind=DataSubjectRequest.Kind.EXPORT, status=DataSubjectRequest.Status.COMPLETED,
    ).exclude(export_key="").first()
    me = request.membership
    if export is None or (export.membership_ref != me.pk and not me.is_admin):
        raise Http404("No such download.")
    if export.export_expires_at and export.export_expires_at <= timezone.now():
        raise Http404("This download has expired; ask for a new copy.")
    filename = f"likeness-data-{export.completed_at:%Y-%m-%d}.zip"
    return private_file_response(export.export_key, content_type="application/zip",
                                 filename=filename)


# --- Admin: retention policy, request log, requests on a person's behalf, closing ------

_DSR_KINDS = dict(DataSubjectRequest.Kind.choices)
_DSR_STATUSES = dict(DataSubjectRequest.Status.choices)


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def privacy_admin(request: HttpRequest) -> HttpResponse:
    company = request.company
    initial = policy_as_dict(policy_for(company))
    leaver_form = LeaverPolicyForm(
        request.POST if "leaver_headshots" in request.POST else None,
        initial={"leaver_headshots": "keep" if leaver_keeps_headshots(company=company)
                 else "delete"})
    if leaver_form.is_bound:
        if leaver_form.is_valid():
            changed = leaver_policy_update(company=company, actor=request.membership,
                                           headshots=leaver_form.cleaned_data["leaver_headshots"])
            messages.success(request, "Leaver policy saved." if changed else "Nothing changed.")
            return redirect("privacy:privacy_admin", company_slug=company.slug)
    form = RetentionPolicyForm(None if leaver_form.is_bound else request.POST or None,
                               initial_hours=initial)
    if request.method == "POST" and form.is_valid():
        try:
            notice = retention_policy_update(company=company, actor=request.membership,
                                             values=form.hours())
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Nothing changed." if notice is None else
                             f"Retention policy saved and published to employees in consent "
                             f"notice version {notice.version}.")
            return redirect("privacy:privacy_admin", company_slug=company.slug)
    # Counted per day by the database (DeletionTally): a few rows however many receipts.
    receipts = (DeletionTally.objects.for_company(company)
                .filter(day__gte=(timezone.now() - timedelta(days=30)).date())
                .values("kind").annotate(count=Sum("n")).order_by("kind"))
    try:  # newest first, 50 a page, each page one index range (core.pagination)
        requests = keyset_page(dsr_list(company=company).values(
            "id", "kind", "status", "subject_email", "requested_at", "due_at", "completed_at",
            "failure_reason", "export_key"), key="-requested_at", params=request.GET)
    except BadCursor as error:
        return bad_cursor_response(request, error)
    # The rows' strings made once here, not by the template per row (core/rows.py says why).
    now = timezone.now()
    download = path_for_id("privacy:export_download", company.slug)
    requests.items = [{
        **row, "overdue": row["status"] == "pending" and row["due_at"] < now,
        "kind_label": _DSR_KINDS.get(row["kind"], row["kind"]),
        "status_label": _DSR_STATUSES.get(row["status"], row["status"]),
        "asked": local_minute(row["requested_at"]), "due": local_day(row["due_at"]),
        "completed": local_minute(row["completed_at"]),
        "download_url": download(row["id"]) if row["export_key"] else "",
    } for row in requests.items]
    return render(request, "privacy/privacy_admin.html", {
        "form": form, "requests": requests, "receipts": receipts,
        "schedule": retention_schedule_lines(policy_for(company)),
        "close_form": CompanyCloseForm(), "leaver_form": leaver_form,
    }, status=400 if form.errors or leaver_form.errors else 200)


@require_POST
@company_view(role="admin")
def member_data_request(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    member = member_get(company=request.company, pk=pk)
    if member is None or kind not in DataSubjectRequest.Kind.values:
        raise Http404("No such page.")
    if kind == DataSubjectRequest.Kind.ERASURE and not is_confirmed(request):
        return confirm_page(
            request, title=f"Erase {member.user.email}'s data?", button="Yes, erase their data",
            cancel_url=reverse("teams:member_detail", args=[request.company.slug, member.pk]),
            consequences=["Only on their request: their selfies, photos, headshot and face "
                          "data are erased.",
                          "The request is logged, and the consent log keeps its proof."])
    with reported(request, success=f"{DataSubjectRequest.Kind(kind).label} requested for "
                                   f"{member.user.email}; it is logged below."):
        dsr_create(company=request.company, membership=member, requested_by=request.membership,
                   kind=kind)
    return redirect("privacy:privacy_admin", company_slug=request.company.slug)


@require_POST
@company_view(role="owner")
def company_close_view(request: HttpRequest) -> HttpResponse:
    company = request.company
    form = CompanyCloseForm(request.POST)
    if not form.is_valid() or form.cleaned_data["slug"] != company.slug:
        messages.error(request, f"Type “{company.slug}” exactly to close the company.")
        return redirect("privacy:privacy_admin", company_slug=company.slug)
    try:
        company_close(company=company, actor=request.membership)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("privacy:privacy_admin", company_slug=company.slug)
    messages.success(request, f"{company.name} is closed. Everyone's photos and data are being "
                              "erased; the consent log is kept as legal proof.")
    return redirect("home")
