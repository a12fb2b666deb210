import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import offboarding
from tests.accounts.test_offboarding import book, plan, successor  # noqa: F401


def test_print_queries(manager, rep, successor, book):  # noqa: F811
    h = plan(manager, rep, successor=successor)
    with CaptureQueriesContext(connection) as ctx:
        offboarding.user_offboard(h)
    for q in ctx.captured_queries:
        print("Q:", q["sql"][:160])
    print("N=", len(ctx.captured_queries))
