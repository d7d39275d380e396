"""The OpenAPI schema's shared parts: error answers every workspace endpoint may give."""

from drf_spectacular.openapi import AutoSchema

ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` says what went wrong; a validation error names each wrong field.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "The input is invalid; each wrong field or parameter is named with a sentence.",
    "401": "No credentials, or an invalid or revoked token.",
    "403": "Your role cannot change this, or the token is read-only.",
    "404": "Not found — also what another workspace's objects and pages answer.",
    "429": "Too many requests for this token; retry later.",
}


class CustoryAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the JSON errors documented on every operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                },
            )
        return responses
