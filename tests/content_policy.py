"""What the Content-Security-Policy would block, found in HTML before a browser has to.

The policy (config/settings.py, CONTENT_SECURITY_POLICY) allows scripts and styles from this
server's files only. So a page may not carry:
- a <script> with code in it (one with `src`, or a `type="application/json"` data island from
  `json_script`, is fine: JSON is never executed);
- a <style> element or a `style="..."` attribute;
- an `on...=` event handler attribute;
- a `javascript:` URL.
`inline_code(html)` lists each one; the autouse fixture in tests/conftest.py runs it, with the
header checks, on every HTML page a test client renders.
"""

import re
from html.parser import HTMLParser

from django.http import HttpResponseBase

CSP_HEADER = "Content-Security-Policy"
PERMISSIONS_HEADER = "Permissions-Policy"
DATA_SCRIPT_TYPES = {"application/json"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href"}
EVENT_HANDLER = re.compile(r"on[a-z]+")


class _InlineCodeFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: tuple[str, int] | None = None  # (its start tag, line) while inside one
        self._script_text: list[str] = []

    def _where(self) -> str:
        return f"line {self.getpos()[0]}"

    def handle_starttag(self, tag, attrs):
        self._check_attributes(tag, attrs)
        attributes = dict(attrs)
        if tag == "style":
            self.found.append(f"<style> element ({self._where()})")
        elif tag == "script":
            script_type = (attributes.get("type") or "").strip().lower()
            if "src" not in attributes and script_type not in DATA_SCRIPT_TYPES:
                self._script = (self.get_starttag_text() or "<script>", self.getpos()[0])
                self._script_text = []

    def handle_startendtag(self, tag, attrs):
        self._check_attributes(tag, attrs)

    def handle_data(self, data):
        if self._script is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            start, line = self._script
            code = "".join(self._script_text).strip()
            if code:
                self.found.append(f"inline script {start} (line {line}): {code[:60]!r}")
            self._script = None

    def _check_attributes(self, tag, attrs):
        for name, value in attrs:
            name = name.lower()
            if name == "style":
                self.found.append(f'style="" attribute on <{tag}> ({self._where()})')
            elif EVENT_HANDLER.fullmatch(name):
                self.found.append(f"{name}= handler on <{tag}> ({self._where()})")
            elif name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL in <{tag} {name}> ({self._where()})")


def inline_code(html: str) -> list[str]:
    """Every inline script, style, handler and javascript: URL in `html`."""
    finder = _InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder.found


_COMMENT_BLOCK = re.compile(r"{%\s*comment\b.*?%}.*?{%\s*endcomment\s*%}", re.S)
_COMMENT = re.compile(r"{#.*?#}", re.S)
_TAG = re.compile(r"{%.*?%}", re.S)
_VARIABLE = re.compile(r"{{.*?}}", re.S)


def template_markup(source: str) -> str:
    """A Django template's HTML with the template language taken out, ready for `inline_code`.

    Tags become a space (so `<a {% if x %}style="..."{% endif %}>` still shows its attribute) and
    variables a plain word; comments go entirely. Newlines are kept, so line numbers still match.
    """

    def blank(match: re.Match) -> str:
        return "\n" * match.group(0).count("\n")

    source = _COMMENT_BLOCK.sub(blank, source)
    source = _COMMENT.sub(blank, source)
    source = _TAG.sub(lambda m: " " + blank(m), source)
    return _VARIABLE.sub(lambda m: "x" + blank(m), source)


def is_html(response: HttpResponseBase) -> bool:
    return (
        response.get("Content-Type", "").startswith("text/html")
        and not response.streaming
        and bool(response.content)
    )


def policy_problems(response: HttpResponseBase) -> list[str]:
    """What is wrong with a response under the policy: a missing header, or inline code."""
    problems = [
        f"no {header} header"
        for header in (CSP_HEADER, PERMISSIONS_HEADER)
        if not response.has_header(header)
    ]
    if is_html(response):
        charset = getattr(response, "charset", None) or "utf-8"
        problems += inline_code(response.content.decode(charset, errors="replace"))
    return problems
