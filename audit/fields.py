"""A JSON model field whose column holds the canonical JSON text that the ledger hashed."""

import json

from django.db import models

from audit.serialization import dumps_data


class CanonicalJSONField(models.TextField):
    """Python value: a dict. Column: its canonical JSON text (sorted keys, no spaces, UTF-8).

    Not jsonb: PostgreSQL would reorder keys and respace the text, and the stored bytes must be
    the hashed bytes so that verification can read them without parsing.
    """

    def from_db_value(self, value, expression, connection):
        return None if value is None else json.loads(value)

    def to_python(self, value):
        if isinstance(value, str):
            return json.loads(value)
        return value

    def get_prep_value(self, value):
        if value is None or isinstance(value, str):
            return value
        return dumps_data(value)

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))
