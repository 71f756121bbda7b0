"""The client's address behind our load balancer: the consent log and login throttling record
the client, not the proxy, and believe only the X-Forwarded-For entries our proxies added."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from core.client_ip import client_ip
from privacy.models import ConsentRecord


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(("hops", "cidrs", "remote", "forwarded", "expected"), [
    (0, [], "10.0.0.5", "203.0.113.7", "10.0.0.5"),  # no proxy configured: the peer
    (1, [], "10.0.0.5", "203.0.113.7", "203.0.113.7"),
    (1, [], "10.0.0.5", "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a spoofed entry before
    (2, [], "10.0.0.5", "6.6.6.6, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
    (2, [], "198.51.100.1", "6.6.6.6", "198.51.100.1"),  # came around our proxies
    (1, [], "10.0.0.5", "", "10.0.0.5"),
    (1, [], "10.0.0.5", "not-an-ip", None),
    (0, ["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 203.0.113.7, 10.1.2.3", "203.0.113.7"),
    (0, ["10.0.0.0/8"], "10.0.0.5", "10.1.1.1", "10.1.1.1"),  # only our own hops
    (0, ["10.0.0.0/8"], "198.51.100.1", "6.6.6.6", "198.51.100.1"),  # not from our proxy
    (0, ["10.0.0.0/8", "fd00::/8"], "fd00::1", "2001:db8::7, fd00::2", "2001:db8::7"),
    (1, [], "10.0.0.5", "[2001:db8::7]:443", "2001:db8::7"),
    (1, [], "10.0.0.5", "203.0.113.7:51234", "203.0.113.7"),
    (0, [], "", None, None),
])
def test_client_ip(settings, hops, cidrs, remote, forwarded, expected):
    settings.TRUSTED_PROXY_HOPS = hops
    settings.TRUSTED_PROXY_CIDRS = cidrs
    assert client_ip(_request(remote, forwarded)) == expected


def test_consent_behind_a_load_balancer_records_the_client(tenant_a, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    client = tenant_a.client_for(tenant_a.member)
    page = client.get("/c/alpha/consent/")
    version = page.context["notice"].version
    response = client.post("/c/alpha/consent/", {
        "notice_version": str(version), "signed_name": "Mia Member", "agree": "on"},
        REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert response.status_code == 302
    record = ConsentRecord.objects.for_company(tenant_a.company).get()
    assert record.ip_address == "203.0.113.7"


def test_login_throttling_counts_the_client_behind_the_proxy(tenant_a, settings, client):
    from axes.models import AccessAttempt

    settings.TRUSTED_PROXY_HOPS = 1
    client.post("/login/", {"username": tenant_a.owner.user.email, "password": "wrong"},
                REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
