"""Demo data for seed_demo (idempotent)."""


def seed(people: dict, stdout) -> None:
    """people maps demo usernames to users."""
