"""Record ids in URLs and query strings: 64-bit signed integers. A bigger number is no id at
all (404 in a path, 400 in a filter) and never reaches the database, where SQLite would raise
OverflowError (a 500)."""

from django.urls import register_converter

MAX_ID = 2**63 - 1


class IdConverter:
    """`<id:pk>`: like `<int:pk>`, but a number beyond MAX_ID does not match (404)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(value)
        return number

    def to_url(self, value) -> str:
        return str(value)


def parse_id(text: str) -> int | None:
    """A record id written as ASCII digits within MAX_ID, else None ("¹" and "٣" pass
    str.isdigit but are no id; int() refuses them)."""
    if text.isascii() and text.isdigit() and int(text) <= MAX_ID:
        return int(text)
    return None


register_converter(IdConverter, "id")
