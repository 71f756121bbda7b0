"""Schemathesis drives every operation of our own OpenAPI schema with generated input (valid
and not); no request may end in a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from delivery.api.keys import api_key_create

from .helpers import candidate_for


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


@pytest.fixture
def write_key(tenant_a) -> str:
    candidate_for(tenant_a.member)  # a job and a photo to find
    _, raw = api_key_create(company=tenant_a.company, actor=tenant_a.owner, name="fuzz",
                            scope="write")
    return raw


schema = schemathesis.openapi.from_dict(_our_schema())
schema.app = application


@schema.parametrize()
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@pytest.mark.django_db
def test_no_generated_request_is_a_server_error(case, write_key):
    response = case.call(headers={"Authorization": f"Bearer {write_key}"})
    case.validate_response(response, checks=[not_a_server_error])
