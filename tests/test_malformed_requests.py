"""A black-box probe: malformed requests against every URL, with DEBUG off, as an attacker
or a careless integrator sends them. Whatever comes in, the answer is never a 5xx.

For each URL: ids in the path beyond 64 bits, odd tokens and slugs, every HTTP method, junk
query parameters, and for each form the page shows each field in turn set to a hostile value
(huge numbers, long text, NUL bytes, other scripts' digits, lists), bodies that are invalid
UTF-8, deeply nested JSON, or of the wrong content type. Company pages are tried as their
owner (who may do everything) and as a plain member; public pages anonymously; the API with a
read and a write key.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.test import Client

from delivery.api.keys import api_key_create

from .test_tenant_wall import COMPANY_URLS, Objects, _url, _wall, objects_a  # noqa: F401  (fixtures)

BIG_IDS = ["0", str(2**63 - 1), str(2**63), str(2**64), "9" * 40]
HOSTILE = ["9" * 400, "-9" * 30, "\u00b2", "x" * 20_000, "a\x00b", "2026-13-45T99:99:99Z",
           "[" * 3000 + "]" * 3000]
QUERY_JUNK = {"page": "9" * 400, "cursor": "%%%not-base64", "team": "9" * 30,
              "person": str(2**64), "status": "\x00", "updated_since": "9999-99-99",
              "size": "\u00b2", "shape": "x" * 500, "image_format": "gif", "checkout": "cs_" + "x" * 300,
              "format": "xml", "page_size": "9" * 50, "kind": "x", "q": "é\x00"}
DEEP_JSON = ("[" * 5000 + "]" * 5000).encode()
BAD_BODIES = [
    ("application/x-www-form-urlencoded", b"a=%FF%FE&b=%E0%80&c=%"),
    ("application/x-www-form-urlencoded", b"\xff\xfe\xfd=\xc3\x28"),
    ("application/json", DEEP_JSON),
    ("application/json", b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}"),
    ("application/json", b"\xff\xfe not json"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\nbroken"),
    ("multipart/form-data", b"no boundary at all"),
    ("text/plain", b"just text"),
    ("application/xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"),
]
METHODS = ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"]


@pytest.fixture
def tenant_a(objects_a: Objects):  # noqa: F811
    """Company A of the tenant-wall matrix, built once for this module too (a second
    company with its slug could not exist beside it)."""
    return objects_a.tenant


class _Forms(HTMLParser):
    """The fields of every form on a page, with the values the page fills in."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((attr.get("action", ""), {}))
        elif tag in ("input", "select", "textarea") and self.forms and attr.get("name"):
            if attr.get("type") in ("checkbox", "radio") and "checked" not in attr:
                self.forms[-1][1].setdefault(attr["name"], "")
                return
            self.forms[-1][1].setdefault(attr["name"], attr.get("value", ""))
        elif tag == "option" and self.forms and self.forms[-1][1]:
            last = list(self.forms[-1][1])[-1]
            if not self.forms[-1][1][last]:
                self.forms[-1][1][last] = attr.get("value", "")


def _forms_for(page: bytes, url: str) -> list[dict[str, str]]:
    parser = _Forms()
    parser.feed(page.decode("utf-8", "replace"))
    return [fields for action, fields in parser.forms if action in ("", url)]


class Probe:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def send(self, client: Client, method: str, url: str, **kwargs) -> None:
        try:
            # Its own savepoint, as each request has its own transaction in production.
            with transaction.atomic():
                response = client.generic(method, url, **kwargs)
        except Exception as error:  # the probe records, never stops
            self.failures.append(f"{method} {url[:120]} raised {error!r}"[:300])
            return
        if response.status_code >= 500:
            self.failures.append(f"{method} {url[:120]} {kwargs.get('content_type', '')} "
                                 f"{str(kwargs.get('data', ''))[:80]!r} -> "
                                 f"{response.status_code}")

    def form(self, client: Client, url: str, data: dict) -> None:
        from urllib.parse import urlencode

        self.send(client, "POST", url, data=urlencode(data, doseq=True),
                  content_type="application/x-www-form-urlencoded")

    def everything(self, client: Client, url: str, *, forms: list[dict[str, str]],
                   get: bool = True) -> None:
        if get:
            self.send(client, "GET", url + "?" + "&".join(f"{k}={v}" for k, v in
                                                          QUERY_JUNK.items()))
            self.send(client, "GET", url + "?page=%FF%FE&cursor=%C3%28&team=%00")
            self.send(client, "GET", url + "?team=%C2%B2&person=%C2%B2&size=%C2%B2&page=-1")
        for method in METHODS:
            self.send(client, method, url)
        for content_type, body in BAD_BODIES:
            self.send(client, "POST", url, data=body, content_type=content_type)
        for fields in forms:
            fields = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
            for name in fields:
                for value in HOSTILE:
                    self.form(client, url, {**fields, name: value})
                self.form(client, url, {**fields, name: ["1", "2", "x" * 300]})
            self.form(client, url, {k: "9" * 400 for k in fields})


def _client(user=None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _with_pk(url: str, real: int, fake: str) -> str:
    return url.replace(f"/{real}/", f"/{fake}/", 1)


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMPANY_URLS))
def test_company_pages_never_answer_5xx(name, objects_a: Objects):  # noqa: F811
    spec = COMPANY_URLS[name]
    tenant = objects_a.tenant
    url = _url(name, "alpha", objects_a)
    probe = Probe()
    for membership in (tenant.owner, tenant.member):
        client = _client(membership.user)
        page = client.get(url) if "GET" in spec.methods else None
        forms = _forms_for(page.content, url) if page is not None and page.status_code == 200 \
            and not page.streaming else []
        if spec.data:
            forms.append({k: v if isinstance(v, str) else str(v) for k, v in spec.data.items()})
        if membership != tenant.owner:
            forms = []  # the owner tries every field; the member only what is below
        probe.everything(client, url, forms=forms or [{"x": ""}], get="GET" in spec.methods)
    owner = _client(tenant.owner.user)
    if spec.pk is not None:
        real = spec.pk(objects_a)
        for fake in BIG_IDS:
            for method in spec.methods:
                probe.send(owner, method, _with_pk(url, real, fake))
    for slug in ("a" * 300, "alpha-", "bravo", "%FF"):
        probe.send(owner, "GET", url.replace("/c/alpha/", f"/c/{slug}/", 1))
    probe.send(owner, "GET", url + "%FF%FE/")
    assert not probe.failures, "\n".join(probe.failures)


PUBLIC = ["/", "/login/", "/logout/", "/login/link/", "/password/reset/",
          "/password/reset/sent/", "/password/reset/done/", "/healthz", "/api/v1/docs/",
          "/api/v1/schema/", "/webhooks/replicate/", "/webhooks/stripe/"]
TOKENS = ["x", "x" * 5000, "%FF%FE", "%00", "..", "é", "a.b.c", "eyJ" + "A" * 300 + ":sig:sig",
          "." * 50]
TOKEN_URLS = ["/login/link/{}/", "/invite/{}/", "/join/{}/", "/h/{}/",
              "/password/reset/{}/{}/"]


@pytest.mark.slow
@pytest.mark.parametrize("url", PUBLIC)
def test_public_pages_never_answer_5xx(url, tenant_a):
    probe = Probe()
    for client in (_client(), _client(tenant_a.member.user)):
        page = client.get(url)
        forms = _forms_for(page.content, url) if page.status_code == 200 and \
            not page.streaming else []
        probe.everything(client, url, forms=forms or [{"username": "", "password": "",
                                                       "email": ""}])
    probe.send(_client(), "POST", url, data=b"{}", content_type="application/json",
               HTTP_WEBHOOK_ID="m" * 5000, HTTP_WEBHOOK_TIMESTAMP="9" * 400,
               HTTP_WEBHOOK_SIGNATURE="v1,\u00e9", HTTP_STRIPE_SIGNATURE="t=\u00e9,v1=\u00e9")
    assert not probe.failures, "\n".join(probe.failures)


@pytest.mark.slow
@pytest.mark.parametrize("pattern", TOKEN_URLS)
def test_token_links_never_answer_5xx(pattern, tenant_a):
    probe = Probe()
    anonymous, member = _client(), _client(tenant_a.member.user)
    for token in TOKENS:
        url = pattern.format(token, token)
        for client in (anonymous, member):
            probe.send(client, "GET", url)
            probe.form(client, url, {"email": "a@alpha.example", "new_password1": token,
                                     "new_password2": token, "full_name": token})
    probe.everything(anonymous, pattern.format("x", "x"), forms=[
        {"email": "a@alpha.example", "new_password1": "p", "new_password2": "p",
         "full_name": "A"}])
    assert not probe.failures, "\n".join(probe.failures)


API_PATHS = ["/api/v1/people/", "/api/v1/people/{}/", "/api/v1/headshots/",
             "/api/v1/headshots/{}/", "/api/v1/invitations/", "/api/v1/jobs/",
             "/api/v1/jobs/{}/"]


@pytest.mark.slow
@pytest.mark.parametrize("path", API_PATHS)
def test_the_api_never_answers_5xx(path, objects_a: Objects):  # noqa: F811
    tenant = objects_a.tenant
    probe = Probe()
    for scope in ("read", "write"):
        _, raw = api_key_create(company=tenant.company, actor=tenant.owner, name=scope,
                                scope=scope)
        client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {raw}")
        urls = [path.format(i) for i in ("1", *BIG_IDS)] if "{}" in path else [path]
        for url in urls[1:]:
            for method in ("GET", "POST", "DELETE"):
                probe.send(client, method, url)
        probe.everything(client, urls[0], forms=[
            {"email": "a@alpha.example", "full_name": "A", "team": str(tenant.team.pk),
             "job_title": "x"}] if scope == "write" else [])
        for body in ({"email": ["x"]}, {"email": {"a": 1}}, {"team": 2**64},
                     {"team": "9" * 400}, {"team": -1}, {"email": "a@b.c", "team": 1.5},
                     {"email": "x" * 250 + "@b.example"}, [1, 2], "x", None,
                     {"full_name": "x" * 100_000}):
            probe.send(client, "POST", urls[0], data=json.dumps(body),
                       content_type="application/json")
        for cursor in ("cD0yMDI2", "cD1nYXJiYWdl", "cD05OTk5OTk5OTk5OTk5OTk5OTk5OQ==",
                       "bz05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ==", "cj05OTk5OTk5OTk5OTk5OTk5",
                       "!!!", "cD0yMDI2LTAxLTAxVDAwOjAwOjAwKzk5OjAw"):
            probe.send(client, "GET", f"{urls[0]}?cursor={cursor}")
    assert not probe.failures, "\n".join(probe.failures)


def test_the_probe_reports_server_errors_and_exceptions(db):
    """The probe itself can fail: a 5xx answer or an exception is reported, never hidden."""

    class Answers:
        def __init__(self, status: int | None) -> None:
            self.status = status

        def generic(self, method, url, **kwargs):
            if self.status is None:
                raise RecursionError("deep")
            return type("Response", (), {"status_code": self.status})()

    probe = Probe()
    probe.send(Answers(404), "GET", "/x/")
    assert not probe.failures, "\n".join(probe.failures)
    probe.send(Answers(502), "GET", "/x/")
    probe.send(Answers(None), "POST", "/y/")
    assert len(probe.failures) == 2 and "RecursionError" in probe.failures[1]
