"""Outbound webhooks: signed deliveries to a real HTTP receiver, retries, the log, re-sends."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from delivery.models import WebhookDelivery, WebhookEndpoint
from delivery.webhooks import addresses, sending
from delivery.webhooks.sending import webhook_deliver
from delivery.webhooks.services import (
    EVENT_HEADSHOT_APPROVED,
    EVENT_JOB_FAILED,
    EVENT_JOB_READY,
    EVENT_MEMBER_JOINED,
    webhook_endpoint_create,
    webhook_endpoint_update,
    webhook_event_emit,
    webhook_resend,
    webhook_signature,
    webhook_signature_verify,
)
from delivery.webhooks.tasks import deliver_due_webhooks, deliver_webhook

from .helpers import db_fingerprint

Status = WebhookDelivery.Status


# --- A receiver on 127.0.0.1 --------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Checks every request's signature, as a customer's server would, and answers with
    the scripted status codes (then ``default``); a bad signature gets 400."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # path -> signing secret
    answers: deque = field(default_factory=deque)
    default: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        verified = webhook_signature_verify(receiver.secrets.get(self.path, ""),
                                            self.headers.get("Likeness-Signature", ""), body,
                                            tolerance=300)
        with receiver.lock:
            receiver.requests.append(Received(self.path, dict(self.headers), body, verified))
            status = receiver.answers.popleft() if receiver.answers else receiver.default
        if receiver.delay:
            time.sleep(receiver.delay)
        self.send_response(status if verified else 400)
        if 300 <= status < 400:
            self.send_header("Location", receiver.url("/elsewhere"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state = Receiver(port=server.server_address[1])
    server.receiver = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _private_urls_allowed(settings):
    # The receiver is http://127.0.0.1: allowed on test installations only.
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


def _endpoint(tenant, receiver: Receiver, path: str = "/hook",
              events=(EVENT_JOB_READY, EVENT_MEMBER_JOINED)) -> WebhookEndpoint:
    endpoint, secret = webhook_endpoint_create(company=tenant.company, actor=tenant.admin,
                                               url=receiver.url(path), events=list(events))
    receiver.secrets[path] = secret
    return endpoint


def _emit(tenant, event_type: str = EVENT_JOB_READY, data: dict | None = None, *,
          send: bool = True) -> list[WebhookDelivery]:
    with TestCase.captureOnCommitCallbacks(execute=send):
        return webhook_event_emit(company=tenant.company, event_type=event_type,
                                  data=data if data is not None else {"job": 7})


def _fresh(delivery: WebhookDelivery) -> WebhookDelivery:
    return WebhookDelivery.objects.for_company(delivery.company_id).get(pk=delivery.pk)


def _first_attempt(tenant, receiver: Receiver, answer: int) -> WebhookDelivery:
    """One event to one endpoint that answers its first POST with ``answer``: the delivery
    as that attempt left it."""
    _endpoint(tenant, receiver)
    receiver.answers.append(answer)
    (delivery,) = _emit(tenant)
    return _fresh(delivery)


def _deliveries(tenant):
    return WebhookDelivery.objects.for_company(tenant.company)


# --- Delivery ---------------------------------------------------------------------------------


def test_a_subscribed_endpoint_receives_a_signed_event_and_it_is_logged(tenant_a, receiver):
    first = _endpoint(tenant_a, receiver, "/one")
    second = _endpoint(tenant_a, receiver, "/two", events=[EVENT_JOB_READY])

    deliveries = _emit(tenant_a, EVENT_JOB_READY, {"job": 7, "member": "m_1"})

    assert {d.endpoint_id for d in deliveries} == {first.pk, second.pk}
    event_id = deliveries[0].event_id
    assert event_id.startswith("evt_") and len({d.event_id for d in deliveries}) == 1
    assert sorted(r.path for r in receiver.requests) == ["/one", "/two"]
    for request in receiver.requests:
        assert request.verified
        assert request.headers["Likeness-Event-Id"] == event_id
        assert request.headers["Likeness-Event-Type"] == "job.ready"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"].startswith("Likeness-Webhooks/")
        assert list(request.event) == ["id", "type", "created", "company", "data"]
        assert request.event["id"] == event_id and request.event["type"] == "job.ready"
        assert request.event["company"] == "alpha"
        assert request.event["data"] == {"job": 7, "member": "m_1"}
        assert abs(request.event["created"] - time.time()) < 60
    # Each endpoint's own secret: the other's does not verify.
    one = next(r for r in receiver.requests if r.path == "/one")
    assert not webhook_signature_verify(receiver.secrets["/two"],
                                        one.headers["Likeness-Signature"], one.body)
    for delivery in deliveries:
        delivery = _fresh(delivery)
        assert delivery.status == Status.SUCCEEDED and delivery.attempts == 1
        assert delivery.last_status_code == 200 and delivery.last_error == ""
        assert delivery.delivered_at is not None


def test_unsubscribed_inactive_and_other_companies_endpoints_receive_nothing(
        tenant_a, tenant_b, receiver):
    _endpoint(tenant_a, receiver, "/joined-only", events=[EVENT_MEMBER_JOINED])
    off = _endpoint(tenant_a, receiver, "/off", events=[EVENT_JOB_READY])
    webhook_endpoint_update(company=tenant_a.company, actor=tenant_a.owner, endpoint=off,
                            active=False)
    _endpoint(tenant_b, receiver, "/bravo", events=[EVENT_JOB_READY])

    assert _emit(tenant_a, EVENT_JOB_READY) == []
    assert receiver.requests == []
    assert not _deliveries(tenant_a).exists() and not _deliveries(tenant_b).exists()


def test_an_event_reaches_endpoints_through_the_company_id_and_reads_the_company_only_then(
        tenant_a, receiver):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.events import JOB_READY, event_emit

    with CaptureQueriesContext(connection) as queries:
        with TestCase.captureOnCommitCallbacks(execute=True):
            event_emit(JOB_READY, company_id=tenant_a.company.pk, job=7)
    read = " ".join(q["sql"] for q in queries.captured_queries)
    # The endpoints are read: there are none, so the company is not.
    assert '"teams_webhookendpoint"' in read and '"teams_company"' not in read
    _endpoint(tenant_a, receiver, "/ready", events=[EVENT_JOB_READY])
    with TestCase.captureOnCommitCallbacks(execute=True):
        event_emit(JOB_READY, company_id=tenant_a.company.pk, job=8)
    (request,) = receiver.requests
    assert request.verified and request.event["company"] == "alpha"
    assert request.event["data"]["job"] == 8


def test_a_failed_delivery_is_retried_later_and_then_succeeds(tenant_a, receiver):
    delivery = _first_attempt(tenant_a, receiver, 500)
    assert delivery.status == Status.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 500 and "500" in delivery.last_error
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 45 < wait < 70  # about a minute, with jitter
    assert deliver_due_webhooks() == 0  # not due yet: nothing sent early
    assert len(receiver.requests) == 1

    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        assert deliver_due_webhooks() == 1

    delivery = _fresh(delivery)
    assert delivery.status == Status.SUCCEEDED and delivery.attempts == 2
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    assert [r.verified for r in receiver.requests] == [True, True]
    assert {r.headers["Likeness-Event-Id"] for r in receiver.requests} == {delivery.event_id}
    assert receiver.requests[0].body == receiver.requests[1].body


def test_after_a_day_of_failures_the_delivery_is_given_up(tenant_a, receiver):
    _endpoint(tenant_a, receiver)
    receiver.default = 503
    (delivery,) = _emit(tenant_a)
    created = _fresh(delivery).created_at
    attempt_times = [created]

    for _ in range(20):
        delivery = _fresh(delivery)
        if delivery.status != Status.PENDING:
            break
        moment = delivery.next_attempt_at + timedelta(seconds=1)
        with time_machine.travel(moment, tick=False):
            deliver_due_webhooks()
        attempt_times.append(moment)

    delivery = _fresh(delivery)
    assert delivery.status == Status.FAILED
    # 0, ~1 min, ~6 min, ~36 min, ~2.6 h, ~8.6 h, ~14.6 h, ~20.6 h; the next would be past 24 h.
    assert delivery.attempts == len(receiver.requests) == 8
    assert all(t - created < timedelta(hours=24) for t in attempt_times)
    gaps = [(b - a).total_seconds() for a, b in zip(attempt_times, attempt_times[1:],
                                                     strict=False)]
    assert 54 <= gaps[0] <= 67 and 270 <= gaps[1] <= 331 and gaps[-1] >= 6 * 3600 * 0.9
    assert delivery.last_status_code == 503
    with time_machine.travel(created + timedelta(days=3), tick=False):
        assert deliver_due_webhooks() == 0
    assert len(receiver.requests) == 8


def test_a_second_worker_claiming_the_same_delivery_sends_nothing(tenant_a, receiver):
    _endpoint(tenant_a, receiver)
    (delivery,) = _emit(tenant_a, send=False)
    assert receiver.requests == [] and _fresh(delivery).status == Status.PENDING

    # Another worker holds the claim: this one backs off.
    _deliveries(tenant_a).filter(pk=delivery.pk).update(status=Status.SENDING)
    assert webhook_deliver(delivery_id=delivery.pk) == "not claimable"
    assert receiver.requests == []

    # The same message delivered twice: one POST.
    _deliveries(tenant_a).filter(pk=delivery.pk).update(status=Status.PENDING)
    assert deliver_webhook.delay(delivery.pk).get() == Status.SUCCEEDED
    assert deliver_webhook.delay(delivery.pk).get() == "not claimable"
    assert len(receiver.requests) == 1
    assert _fresh(delivery).attempts == 1


def test_a_duplicate_message_does_not_send_a_retry_early(tenant_a, receiver):
    delivery = _first_attempt(tenant_a, receiver, 500)
    assert webhook_deliver(delivery_id=delivery.pk) == "not claimable"
    assert len(receiver.requests) == 1 and _fresh(delivery).status == Status.PENDING


def test_a_claim_whose_worker_died_is_sent_again(tenant_a, receiver):
    _endpoint(tenant_a, receiver)
    (delivery,) = _emit(tenant_a, send=False)
    _deliveries(tenant_a).filter(pk=delivery.pk).update(
        status=Status.SENDING, attempts=1,
        next_attempt_at=timezone.now() + sending.SENDING_LEASE)
    assert deliver_due_webhooks() == 0  # the lease still runs

    with time_machine.travel(timezone.now() + sending.SENDING_LEASE + timedelta(seconds=5),
                             tick=False):
        assert deliver_due_webhooks() == 1

    delivery = _fresh(delivery)
    assert delivery.status == Status.SUCCEEDED and delivery.attempts == 2
    assert len(receiver.requests) == 1 and receiver.requests[0].verified


def test_redirects_are_not_followed(tenant_a, receiver):
    delivery = _first_attempt(tenant_a, receiver, 302)
    assert delivery.status == Status.PENDING and delivery.last_status_code == 302
    assert "redirect" in delivery.last_error
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_a_slow_receiver_times_out(tenant_a, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    _endpoint(tenant_a, receiver)
    receiver.delay = 1.0
    started = time.monotonic()
    (delivery,) = _emit(tenant_a)
    assert time.monotonic() - started < 1.0
    delivery = _fresh(delivery)
    assert delivery.status == Status.PENDING and delivery.last_status_code is None
    assert "No answer within 0.3 seconds" in delivery.last_error


def test_an_unreachable_receiver_is_logged(tenant_a, receiver):
    endpoint = _endpoint(tenant_a, receiver)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    WebhookEndpoint.objects.for_company(tenant_a.company).filter(pk=endpoint.pk).update(
        url=f"http://127.0.0.1:{closed_port}/hook")
    (delivery,) = _emit(tenant_a)
    delivery = _fresh(delivery)
    assert delivery.status == Status.PENDING and delivery.attempts == 1
    assert delivery.last_error.startswith("Could not connect")


def test_resend_creates_a_new_delivery_that_arrives(tenant_a, receiver):
    _endpoint(tenant_a, receiver, events=[EVENT_HEADSHOT_APPROVED])
    (original,) = _emit(tenant_a, EVENT_HEADSHOT_APPROVED, {"headshot": 3})
    client = tenant_a.client_for(tenant_a.admin)
    url = reverse("integrations:delivery_resend",
                  kwargs={"company_slug": "alpha", "pk": original.pk})

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url)

    assert response.status_code == 302
    assert response["Location"] == reverse("integrations:webhook_detail", kwargs={
        "company_slug": "alpha", "pk": original.endpoint_id})
    fresh = _deliveries(tenant_a).exclude(pk=original.pk).get()
    assert fresh.event_id == original.event_id and fresh.payload == _fresh(original).payload
    assert fresh.status == Status.SUCCEEDED and fresh.attempts == 1
    assert len(receiver.requests) == 2 and all(r.verified for r in receiver.requests)
    assert receiver.requests[0].body == receiver.requests[1].body
    assert _fresh(original).attempts == 1  # the log entry itself is untouched


def test_resend_is_for_admins_of_the_same_company(tenant_a, tenant_b, receiver):
    _endpoint(tenant_a, receiver)
    (delivery,) = _emit(tenant_a, send=False)
    with pytest.raises(NotAllowed):
        webhook_resend(company=tenant_a.company, actor=tenant_a.member, delivery=delivery)
    with pytest.raises(NotAllowed):
        webhook_resend(company=tenant_b.company, actor=tenant_b.owner, delivery=delivery)
    assert _deliveries(tenant_a).count() == 1


# --- Signatures --------------------------------------------------------------------------------


def test_signature_verification_rejects_wrong_secret_tampering_and_stale_timestamps():
    body = b'{"id":"evt_1","type":"job.ready"}'
    now = int(time.time())
    header = webhook_signature("whsec_right", now, body)

    assert webhook_signature_verify("whsec_right", header, body)
    assert webhook_signature_verify("whsec_right", header, body.decode())
    assert not webhook_signature_verify("whsec_wrong", header, body)
    assert not webhook_signature_verify("whsec_right", header, body + b" ")
    stale = webhook_signature("whsec_right", now - 301, body)
    assert not webhook_signature_verify("whsec_right", stale, body, tolerance=300)
    assert webhook_signature_verify("whsec_right", stale, body, tolerance=600)
    ahead = webhook_signature("whsec_right", now + 301, body)
    assert not webhook_signature_verify("whsec_right", ahead, body, tolerance=300)
    # A timestamp swapped into a captured signature does not verify.
    forged = header.replace(f"t={now}", f"t={now + 1}")
    assert not webhook_signature_verify("whsec_right", forged, body)
    for bad in ("", "garbage", f"t={now}", "v1=abc", f"t=x,v1={header[-64:]}", f"t={now},v1=é"):
        assert not webhook_signature_verify("whsec_right", bad, body)
    # Rotation-friendly: any one matching v1 is enough.
    both = f"{header},v1={'0' * 64}"
    assert webhook_signature_verify("whsec_right", both, body)


# --- Addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "javascript:alert(1)",
                                 "example.com/hook", "file:///etc/passwd", "not a url",
                                 "http://user:pw@example.com/hook", "http://exa mple.com/"])
def test_bad_addresses_are_refused_and_nothing_is_created(tenant_a, url):
    client = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = client.post(reverse("integrations:webhooks", kwargs={"company_slug": "alpha"}),
                           {"url": url, "events": [EVENT_JOB_READY]})
    assert response.status_code == 400
    assert response.context["form"].errors
    assert db_fingerprint() == before


def test_the_scheme_error_says_what_to_do(tenant_a):
    with pytest.raises(ServiceError, match="must start with https://"):
        webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.admin,
                                url="ftp://example.com/hook", events=[EVENT_JOB_READY])
    with pytest.raises(ServiceError, match="at least one event"):
        webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.admin,
                                url="https://example.com/hook", events=[])
    with pytest.raises(ServiceError, match="Unknown event"):
        webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.admin,
                                url="https://example.com/hook", events=["job.exploded"])
    with pytest.raises(NotAllowed):
        webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.member,
                                url="https://example.com/hook", events=[EVENT_JOB_READY])
    assert not WebhookEndpoint.objects.for_company(tenant_a.company).exists()


@pytest.mark.parametrize("url", [
    "http://93.184.216.34/hook",  # public, but not https
    "https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook",
    "https://192.168.0.10/hook", "https://172.16.5.5/hook", "https://169.254.169.254/latest",
    "https://100.64.0.1/hook", "https://0.0.0.0/hook", "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://[fd00::1]/hook", "https://[fe80::1]/hook",
    "https://224.0.0.1/hook",
])
def test_production_refuses_plain_http_and_private_addresses(tenant_a, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.DEBUG = False
    with pytest.raises(ServiceError):
        webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.admin, url=url,
                                events=[EVENT_JOB_READY])
    assert not WebhookEndpoint.objects.for_company(tenant_a.company).exists()


def test_production_accepts_a_public_https_address(tenant_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.DEBUG = False
    endpoint, secret = webhook_endpoint_create(company=tenant_a.company, actor=tenant_a.admin,
                                               url="https://93.184.216.34/hooks/likeness",
                                               events=[EVENT_JOB_FAILED])
    assert endpoint.url == "https://93.184.216.34/hooks/likeness"
    assert secret.startswith("whsec_") and endpoint.secret == secret
    assert endpoint.created_by == tenant_a.admin.user and endpoint.active


def test_production_checks_the_address_again_at_delivery(tenant_a, receiver, settings):
    """A name that now points inside (or an endpoint saved under looser settings)."""
    endpoint = _endpoint(tenant_a, receiver)
    WebhookEndpoint.objects.for_company(tenant_a.company).filter(pk=endpoint.pk).update(
        url=f"https://127.0.0.1:{receiver.port}/hook")
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.DEBUG = False
    (delivery,) = _emit(tenant_a)
    delivery = _fresh(delivery)
    assert delivery.status == Status.PENDING and delivery.last_status_code is None
    assert "private" in delivery.last_error
    assert receiver.requests == []


def test_production_connects_to_the_address_it_checked(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.DEBUG = False
    answers = {"hooks.example.com": ["93.184.216.34"], "sneaky.example.com":
               ["93.184.216.34", "10.0.0.7"]}

    def getaddrinfo(host, port, *args, **kwargs):
        return [(2, 1, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", getaddrinfo)
    target = addresses.target_for("https://hooks.example.com:8443/in?x=1")
    assert target.url == "https://93.184.216.34:8443/in?x=1"
    assert target.headers == {"Host": "hooks.example.com:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}
    with pytest.raises(ServiceError, match="private"):
        addresses.target_for("https://sneaky.example.com/in")


# --- Pages -----------------------------------------------------------------------------------


def _urls(slug: str, endpoint_pk: int, delivery_pk: int) -> list[tuple[str, str, dict]]:
    def url(name, **kwargs):
        return reverse(f"integrations:{name}", kwargs={"company_slug": slug, **kwargs})

    create = {"url": "https://example.com/new", "events": [EVENT_JOB_READY]}
    return [
        ("GET", url("webhooks"), {}),
        ("POST", url("webhooks"), create),
        ("GET", url("webhook_detail", pk=endpoint_pk), {}),
        ("POST", url("webhook_delete", pk=endpoint_pk), {"confirm": "yes"}),
        ("POST", url("delivery_resend", pk=delivery_pk), {}),
    ]


def _call(client, method, url, data):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.get(url) if method == "GET" else client.post(url, data)


def test_owner_and_admin_can_open_the_pages(tenant_a, receiver):
    endpoint = _endpoint(tenant_a, receiver)
    _emit(tenant_a)
    for membership in (tenant_a.owner, tenant_a.admin):
        client = tenant_a.client_for(membership)
        listing = client.get(reverse("integrations:webhooks", kwargs={"company_slug": "alpha"}))
        assert listing.status_code == 200 and endpoint.url.encode() in listing.content
        detail = client.get(reverse("integrations:webhook_detail",
                                    kwargs={"company_slug": "alpha", "pk": endpoint.pk}))
        assert detail.status_code == 200 and b"job.ready" in detail.content


def test_creating_an_endpoint_shows_its_secret_once(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    url = reverse("integrations:webhooks", kwargs={"company_slug": "alpha"})
    response = client.post(url, {"url": "https://example.com/hooks",
                                 "events": [EVENT_JOB_READY, EVENT_JOB_FAILED]})
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.for_company(tenant_a.company).get()
    assert endpoint.events == [EVENT_JOB_READY, EVENT_JOB_FAILED]
    assert endpoint.secret.encode() in response.content
    assert "no-store" in response["Cache-Control"]
    assert endpoint.secret.encode() not in client.get(url).content


def test_the_log_is_newest_first_and_paginated(tenant_a, receiver):
    endpoint = _endpoint(tenant_a, receiver)
    start = timezone.now() - timedelta(hours=2)
    WebhookDelivery.objects.bulk_create([
        WebhookDelivery(company=tenant_a.company, endpoint=endpoint, event_id=f"evt_{i:03}",
                        event_type=EVENT_JOB_READY, payload={}, status=Status.SUCCEEDED,
                        created_at=start + timedelta(minutes=i))
        for i in range(55)])
    client = tenant_a.client_for(tenant_a.admin)
    url = reverse("integrations:webhook_detail", kwargs={"company_slug": "alpha",
                                                          "pk": endpoint.pk})
    first = client.get(url).content.decode()
    assert first.index("evt_054") < first.index("evt_053") and "evt_004" not in first
    following = re.search(r'<a href="(\?after=\d+)">Next</a>', first).group(1)
    second = client.get(url + following).content.decode()
    assert "evt_004" in second and "evt_000" in second and "evt_054" not in second


def test_deleting_an_endpoint_removes_it_and_its_log(tenant_a, receiver):
    endpoint = _endpoint(tenant_a, receiver)
    _emit(tenant_a)
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(reverse("integrations:webhook_delete",
                                   kwargs={"company_slug": "alpha", "pk": endpoint.pk}),
                           {"confirm": "yes"})
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.for_company(tenant_a.company).exists()
    assert not _deliveries(tenant_a).exists()


@pytest.mark.parametrize("who, status", [("a member", 403), ("another company", 404)])
def test_who_may_not_manage_webhooks_changes_nothing(tenant_a, tenant_b, receiver, who, status):
    endpoint = _endpoint(tenant_a, receiver)
    (delivery,) = _emit(tenant_a)
    client = (tenant_a.client_for(tenant_a.member) if who == "a member"
              else tenant_b.client_for(tenant_b.owner))
    for method, url, data in _urls("alpha", endpoint.pk, delivery.pk):
        before = db_fingerprint()
        assert _call(client, method, url, data).status_code == status, (method, url)
        assert db_fingerprint() == before
    assert len(receiver.requests) == 1


def test_foreign_ids_under_our_own_address_are_404(tenant_a, tenant_b, receiver):
    endpoint = _endpoint(tenant_a, receiver)
    (delivery,) = _emit(tenant_a)
    client = tenant_b.client_for(tenant_b.owner)
    for method, url, data in _urls("bravo", endpoint.pk, delivery.pk):
        if url.endswith("/admin/webhooks/"):
            continue  # no id in it
        before = db_fingerprint()
        assert _call(client, method, url, data).status_code == 404, (method, url)
        assert db_fingerprint() == before
    assert len(receiver.requests) == 1


def test_anonymous_visitors_are_sent_to_sign_in(client, tenant_a, receiver):
    endpoint = _endpoint(tenant_a, receiver)
    (delivery,) = _emit(tenant_a)
    for method, url, data in _urls("alpha", endpoint.pk, delivery.pk):
        before = db_fingerprint()
        response = _call(client, method, url, data)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
        assert db_fingerprint() == before
