"""Schemathesis drives every operation of our own OpenAPI schema with generated input, valid
and not (positive and negative modes), with a read key and a write key. No request may end
in a server error, and every answer must match the schema: its status code is documented,
its content type and body are what the schema says.

Bounded in time: a fixed number of examples per operation and key (FUZZ_EXAMPLES, 20 by
default) keeps the whole run near a minute on the CI machine; each test also has a timeout.
Set FUZZ_EXAMPLES higher for a longer hunt.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from config.wsgi import application
from delivery.api.keys import api_key_create

from .helpers import candidate_for

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _our_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Called through WSGI (not Django's test client), each request would close the test's
    database connection at its end; the test client switches this off the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["read", "write"])
def api_key(request, tenant_a) -> str:
    candidate_for(tenant_a.member)  # a job and a photo to find
    _, raw = api_key_create(company=tenant_a.company, actor=tenant_a.owner, name="fuzz",
                            scope=request.param)
    return raw


schema = schemathesis.openapi.from_dict(_our_schema(), config=SchemathesisConfig.from_dict(
    {"generation": {"mode": "all", "max-examples": EXAMPLES}}))
schema.app = application


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@pytest.mark.timeout(90)
@pytest.mark.django_db
def test_no_generated_request_is_a_server_error_or_off_schema(case, api_key, settings):
    settings.DEBUG = False
    response = case.call(headers={"Authorization": f"Bearer {api_key}"})
    case.validate_response(response, checks=CHECKS)


def test_the_schema_documents_the_errors_every_operation_can_answer():
    for path, operations in _our_schema()["paths"].items():
        if path.endswith(("/schema/", "/docs/")):
            continue
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"400", "401", "403", "429"} <= documented, (method, path, documented)
            if "{id}" in path:
                assert "404" in documented, (method, path)
