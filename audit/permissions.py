"""Who may read the audit ledger: the one policy every interface (pages, API, nav) uses.

The ledger knows no other app, so it does not know who is an admin or a compliance officer: the
app that owns people (accounts) registers the test in its AppConfig.ready(). With no test
registered nobody reads the ledger.
"""

from collections.abc import Callable

from django.http import Http404

LedgerReaderTest = Callable[[object], bool]

_reader_tests: list[LedgerReaderTest] = []


def register_ledger_reader(test: LedgerReaderTest) -> None:
    """Let `test(user) -> bool` admit readers. Registering the same test again changes nothing."""
    if test not in _reader_tests:
        _reader_tests.append(test)


def can_view_ledger(user) -> bool:
    """Whoever a registered test admits; nobody else learns the ledger exists (404)."""
    return any(test(user) for test in _reader_tests)


def require_view_ledger(user) -> None:
    if not can_view_ledger(user):
        raise Http404
