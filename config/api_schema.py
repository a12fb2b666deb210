"""The OpenAPI schema class of every API view: besides its own answers, each operation documents
the refusals DRF gives on its behalf, so clients (and the contract test) know every status."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular import openapi
from rest_framework import serializers


class ApiErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text=_("Translated explanation."))


# A serializer's refusal: each field (or non_field_errors) with its messages; a malformed body
# answers {"detail": ...} with the same status.
VALIDATION_ERROR = {
    "type": "object",
    "description": _("Field name (or non_field_errors) -> messages; or detail."),
    "additionalProperties": {},
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        refusals = {"401": ApiErrorSerializer, "403": ApiErrorSerializer}
        takes_input = self.method not in ("GET", "DELETE") or self._is_list_view()
        if takes_input:
            refusals["400"] = VALIDATION_ERROR
        # Every record in a path may be missing or hidden; a list's page may be past the end.
        if "{" in self.path or self._is_list_view():
            refusals["404"] = ApiErrorSerializer
        if getattr(self.view, "throttle_classes", None):
            refusals["429"] = ApiErrorSerializer
        for code, body in refusals.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return dict(sorted(responses.items()))
