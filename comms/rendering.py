"""Message bodies are plain text: escaped, autolinked, then sanitised again (belt and braces)."""

from functools import lru_cache

import nh3
from django.utils.html import urlize

ALLOWED_TAGS = {"a"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}


# A pure function of the text: the same body (a system message posted to many conversations at
# once, a common short reply) is rendered once.
@lru_cache(maxsize=512)
def body_html(text: str) -> str:
    """HTML for a plain-text body: every character escaped, http(s)/mailto links made clickable.

    No line breaks are added: show it with `white-space: pre-wrap`.
    """
    if not text:
        return ""
    linked = urlize(text, nofollow=True, autoescape=True)
    return nh3.clean(
        linked,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
