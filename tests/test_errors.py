"""The one error model, mapped once for pages and once for the API."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from config.errors import Forbidden, Invalid, NotFound, ServiceErrorMiddleware

pytestmark = pytest.mark.django_db


def handled(path, exc, user):
    request = RequestFactory().get(path)
    request.user = user
    return ServiceErrorMiddleware(lambda r: None).process_exception(request, exc)


def test_a_page_shows_the_refusal_with_its_status_and_every_message(rep):
    error = Invalid(fields={"team": ["This team cannot receive shares yet."]})
    response = handled("/deals/1/share/", error, rep)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-error="invalid"' in page and "This team cannot receive shares yet." in page


def test_a_hidden_or_forbidden_object_takes_the_projects_404_and_403_pages(rep):
    with pytest.raises(Http404):
        handled("/deals/1/", NotFound(), rep)
    with pytest.raises(PermissionDenied):
        handled("/deals/1/", Forbidden("Only an admin archives records."), rep)


def test_under_the_api_the_refusal_is_the_json_body(rep):
    response = handled("/api/v1/deals/1/", Invalid(fields={"stage": ["Wrong pipeline."]}), rep)
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": "invalid",
        "detail": "Wrong pipeline.",
        "fields": {"stage": ["Wrong pipeline."]},
    }


def test_other_exceptions_pass_through(rep):
    assert handled("/deals/1/", ValueError("not ours"), rep) is None
