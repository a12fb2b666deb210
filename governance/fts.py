"""The full-text indexes of message texts and their earlier versions (PostgreSQL only): GIN on
to_tsvector('simple', body), the 'simple' configuration so Spanish, Portuguese and English
words all match as written (lowercased, no stemming, no stop words). governance.search's
queries use exactly this expression, or the planner cannot use the index."""

CONFIG = "simple"
INDEXES = (
    ("governance_msg_body_fts", "comms_message"),
    ("governance_rev_body_fts", "comms_messagerevision"),
)


def create_sql() -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS {name} ON {table}"
        f" USING gin (to_tsvector('{CONFIG}'::regconfig, body))"
        for name, table in INDEXES
    ]


def drop_sql() -> list[str]:
    return [f"DROP INDEX IF EXISTS {name}" for name, _table in INDEXES]
