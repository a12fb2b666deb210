"""bench/search_export.py: its loader writes rows today's schema accepts, and on them full-text
search and its icontains baseline find the same messages for each of the bench's four queries.
The loader's raw INSERT names every NOT NULL column itself, so a column added without a database
default breaks `make bench` on a new machine; this test breaks first (PostgreSQL only)."""

import pytest

from bench import search_export
from comms.models import Message, MessageRevision
from governance import search
from governance.search import Criteria

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_loader_fills_todays_schema_and_both_engines_agree():
    search_export.load(7000)

    assert Message.objects.count() == 7000
    assert MessageRevision.objects.count() == 70  # 1% have an earlier version
    queries = {
        "rare": search_export.RARE,
        "common": search_export.COMMON,
        "none": search_export.NONE,
        "two_words": " ".join(search_export.PAIR),
    }
    found = {}
    for name, q in queries.items():
        criteria = Criteria(q=q)
        fts, _plan = search.matching_ids(criteria, limit=search.PAGE_SIZE + 1, engine="fts")
        slow, _ = search.matching_ids(criteria, limit=search.PAGE_SIZE + 1, engine="icontains")
        assert fts == slow, name
        found[name] = len(fts)
    # The rates the loader writes, at this size: the rare word in message 7's text and in
    # message 50's earlier version, the common word on a full page, the absent word nowhere, the
    # pair in messages i % 350 == 1.
    assert found == {"rare": 2, "common": 21, "none": 0, "two_words": 20}
