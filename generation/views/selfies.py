from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.pages import object_or_404, reported
from privacy.services import consent_is_granted
from teams.decorators import company_view
from teams.models import Membership
from teams.selectors import joined_member_get

from ..intake.decode import mb
from ..models import Selfie
from ..selectors import selfie_get, selfie_list
from ..services import selfie_delete, selfie_upload
from ..services.selfies import (
    ConsentMissing,
    IntakeStatus,
    selfie_intake_status,
    selfie_intake_statuses,
)
from .access import own_or_admin, private_photo_view


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _selfie_json(request: HttpRequest, selfie: Selfie) -> dict:
    slug = request.company.slug
    return {
        "id": selfie.pk, "status": selfie.status, "reasons": selfie.qa_reasons,
        "warnings": selfie.qa_warnings, "metrics": selfie.qa_metrics,
        "thumb_url": reverse("generation:selfie_thumb", kwargs={"company_slug": slug,
                                                                "pk": selfie.pk}),
        # Being checked off the request path: the uploader asks here until it is known.
        "status_url": reverse("generation:selfie_status", kwargs={"company_slug": slug,
                                                                  "pk": selfie.pk}),
    }


# A refused photo is never stored (nor anything derived from its face), so the verdict is
# kept in the uploader's own session, by file name, for this long: a reload still says
# which photos were not kept and why.
REFUSALS_KEPT_SECONDS = 24 * 3600
REFUSALS_KEPT = 20


def _refusals_key(company_id: int, owner_pk: int) -> str:
    return f"selfie-refusals:{company_id}:{owner_pk}"


def refusal_remember(request: HttpRequest, owner: Membership | int, *, name: str,
                     error: str, photo: int | None = None) -> None:
    """``photo``: the pending photo refused after its upload, remembered once however often
    its status is asked for."""
    owner_pk = owner if isinstance(owner, int) else owner.pk
    key = _refusals_key(request.company.pk, owner_pk)
    now = int(time.time())
    kept = [r for r in request.session.get(key, []) if now - r["at"] < REFUSALS_KEPT_SECONDS]
    if photo is not None and any(r.get("photo") == photo for r in kept):
        return
    kept.append({"name": (name or "A photo")[:120], "error": error[:500], "at": now,
                 **({"photo": photo} if photo is not None else {})})
    request.session[key] = kept[-REFUSALS_KEPT:]


def refusals_recent(request: HttpRequest, owner: Membership) -> list[dict]:
    now = int(time.time())
    return [r for r in request.session.get(_refusals_key(request.company.pk, owner.pk), [])
            if now - r["at"] < REFUSALS_KEPT_SECONDS][::-1]


def _handle_uploads(request: HttpRequest, owner: Membership) -> HttpResponse | None:
    """Take each uploaded file; JSON for the page's uploader, messages for plain forms."""
    files = request.FILES.getlist("photos")
    if not files:
        error = "Choose at least one photo."
        if _wants_json(request):
            return JsonResponse({"ok": False, "error": error}, status=400)
        messages.error(request, error)
        return None
    # Where file names waited for their verdict until 2026-12-06: nothing reads it now, so
    # a session that still holds it lets it go on its next upload.
    request.session.pop(f"selfie-pending-names:{owner.company_id}", None)
    results = []
    for upload in files:
        try:
            if upload.size > settings.SELFIE_MAX_BYTES:
                raise ServiceError(f"The file is {mb(upload.size)}; the limit is "
                                   f"{mb(settings.SELFIE_MAX_BYTES)}.")
            selfie = selfie_upload(company=request.company, actor=request.membership,
                                   membership=owner, data=upload.read(),
                                   name=upload.name or "")
        except ConsentMissing as error:  # for every photo alike: none is taken
            if _wants_json(request):
                return JsonResponse({"ok": False, "error": str(error)}, status=403)
            messages.error(request, str(error))
            return None
        except ServiceError as error:
            results.append({"ok": False, "error": str(error)})
            refusal_remember(request, owner, name=upload.name, error=str(error))
        else:
            results.append({"ok": True, "selfie": _selfie_json(request, selfie)})
    if _wants_json(request):
        failed = [r for r in results if not r["ok"]]
        status = 400 if len(failed) == len(results) else 200
        return JsonResponse({"ok": not failed, "results": results,
                             "error": failed[0]["error"] if failed else None}, status=status)
    for result in results:
        if result["ok"]:
            verdict = result["selfie"]
            if verdict["status"] == Selfie.Status.ACCEPTED:
                messages.success(request, "Photo added.")
            elif verdict["status"] == Selfie.Status.PENDING:
                messages.info(request, "Photo received: it is being checked, and its verdict "
                                       "appears below in a moment.")
            else:
                messages.warning(request, "Photo not usable: " + " ".join(verdict["reasons"]))
        else:
            messages.error(request, result["error"])
    return None


@require_http_methods(["GET", "POST"])
@company_view(role="member")
def selfies(request: HttpRequest) -> HttpResponse:
    company, membership = request.company, request.membership
    if request.method == "POST" and request.FILES.getlist("photos"):
        # selfie_upload checks consent itself (ConsentMissing): asked once an upload, not
        # twice.
        response = _handle_uploads(request, membership)
        if response is not None:
            return response
        return redirect("generation:selfies", company_slug=company.slug)
    if not consent_is_granted(company=company, user=request.user):
        if request.method == "POST":
            error = "Photos can only be uploaded after consent is given."
            if _wants_json(request):
                return JsonResponse({"ok": False, "error": error}, status=403)
            messages.error(request, error)
        return redirect("privacy:consent", company_slug=company.slug)
    if request.method == "POST":
        response = _handle_uploads(request, membership)
        if response is not None:
            return response
        return redirect("generation:selfies", company_slug=company.slug)
    items = list(selfie_list(company=company, membership=membership))
    return render(request, "generation/selfies.html", {
        "selfies": items, "owner": membership, "refusals": refusals_recent(request, membership),
        "accepted": sum(s.status == Selfie.Status.ACCEPTED for s in items),
        "max_selfies": settings.SELFIES_MAX_PER_PERSON,
        "max_mb": settings.SELFIE_MAX_BYTES // (1024 * 1024),
        "upload_url": reverse("generation:selfies", kwargs={"company_slug": company.slug}),
    })


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def member_selfies(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin uploads on an employee's behalf (the employee's consent is still required)."""
    company = request.company
    member = object_or_404(joined_member_get(company=company, pk=pk))
    granted = consent_is_granted(company=company, user=member.user)
    if request.method == "POST":
        if not granted:
            error = "This person has not given consent: record their signed release first."
            if _wants_json(request):
                return JsonResponse({"ok": False, "error": error}, status=403)
            messages.error(request, error)
        else:
            response = _handle_uploads(request, member)
            if response is not None:
                return response
        return redirect("generation:member_selfies", company_slug=company.slug, pk=member.pk)
    items = list(selfie_list(company=company, membership=member))
    return render(request, "generation/selfies.html", {
        "selfies": items, "owner": member, "on_behalf": True, "granted": granted,
        "refusals": refusals_recent(request, member),
        "accepted": sum(s.status == Selfie.Status.ACCEPTED for s in items),
        "max_selfies": settings.SELFIES_MAX_PER_PERSON,
        "max_mb": settings.SELFIE_MAX_BYTES // (1024 * 1024),
        "upload_url": reverse("generation:member_selfies",
                              kwargs={"company_slug": company.slug, "pk": member.pk}),
    })


def _visible_selfie(request: HttpRequest, pk: int) -> Selfie:
    """A selfie is seen by its owner and by the company's admins, by nobody else."""
    return own_or_admin(request, selfie_get(company=request.company, pk=pk))


selfie_image = private_photo_view(_visible_selfie, "image_key")
selfie_thumb = private_photo_view(_visible_selfie, "thumb_key")


def _status_body(request: HttpRequest, pk: int, state: IntakeStatus) -> dict:
    body = {"status": state.status, "error": state.error}
    # Listed after a reload in the session of whoever sent it, as the upload's own answer
    # would have been: an admin looking at someone's photo learns no file name.
    if state.status == "refused" and state.sender_id == request.user.pk:
        refusal_remember(request, state.owner_id, name=state.name, error=state.error, photo=pk)
    if state.selfie is not None:
        body["selfie"] = _selfie_json(request, state.selfie)
    return body


def _no_store(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@company_view(role="member")
def selfie_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The verdict of a photo being checked off the request path (JSON, for the uploader)."""
    state = selfie_intake_status(company=request.company, viewer=request.membership, pk=pk)
    state = object_or_404(state, "No such photo.")
    return _no_store(_status_body(request, pk, state))


STATUSES_AT_ONCE = 50
GONE = {"status": "gone", "error": "No such photo."}


@require_GET
@company_view(role="member")
def selfie_statuses(request: HttpRequest) -> HttpResponse:
    """The verdicts of the photos a page is waiting for, ``?ids=12,13``, in one answer: the
    uploader asks once for all of them, not once per photo (fifty people uploading ten
    photos each kept the web processes busy answering status questions). A photo the viewer
    may not see, or that never was, is ``gone``, as the one-photo answer's 404."""
    parts = [p.strip() for p in request.GET.get("ids", "").split(",") if p.strip()]
    if not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        return _no_store({"error": "ids: the photos' ids, comma-separated numbers."}, 400)
    pks = list(dict.fromkeys(int(p) for p in parts))
    if len(pks) > STATUSES_AT_ONCE:
        return _no_store({"error": f"ids: at most {STATUSES_AT_ONCE} photos at once."}, 400)
    states = selfie_intake_statuses(company=request.company, viewer=request.membership,
                                    pks=pks) if pks else {}
    return _no_store({"photos": {str(pk): GONE if state is None else
                                 _status_body(request, pk, state)
                                 for pk, state in states.items()}})


@require_POST
@company_view(role="member")
def selfie_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    selfie = _visible_selfie(request, pk)
    if not is_confirmed(request):
        own = selfie.membership_id == request.membership.pk
        back = (reverse("generation:selfies", args=[request.company.slug]) if own else
                reverse("generation:member_selfies",
                        args=[request.company.slug, selfie.membership_id]))
        return confirm_page(
            request, title="Delete this photo?", button="Yes, delete the photo",
            cancel_url=back,
            image_url=reverse("generation:selfie_thumb", args=[request.company.slug, selfie.pk]),
            image_alt="The photo to delete",
            consequences=["The photo is deleted for good, with what was measured from it.",
                          "Headshots already made from it are kept."])
    with reported(request, success="Photo deleted."):
        selfie_delete(company=request.company, actor=request.membership, selfie=selfie)
    if selfie.membership_id != request.membership.pk:
        return redirect("generation:member_selfies", company_slug=request.company.slug,
                        pk=selfie.membership_id)
    return redirect("generation:selfies", company_slug=request.company.slug)
