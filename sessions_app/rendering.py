"""Assistant answers as HTML: Markdown rendered once, with raw HTML off, then sanitized.

markdown-it-py with html disabled never passes the model's own tags through; nh3
(ammonia) then keeps only a fixed set of tags and attributes, and links get
rel="noopener noreferrer nofollow", so neither a model nor a prompt injection can put
script or styling on the page. Fenced code in a language Pygments knows is highlighted
here, on the server: the spans it makes pass nh3 with Pygments' own token classes only
(code.css colours them), so the page runs no highlighter and a streaming answer is
highlighted by the same code as a finished one.

An answer's HTML is stored when it finishes (Message.content_html), tagged with RENDERER.
A row tagged by another renderer is rendered again when shown, so a fix to this module or
to either library reaches the answers stored before it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.filter import simplefilter
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import STANDARD_TYPES, Text
from pygments.util import ClassNotFound

# Spans only, no <pre>: markdown-it wraps them in its own <pre><code class="language-…">.
_FORMATTER = HtmlFormatter(nowrap=True)
_STYLES = ("default", "github-dark")  # light and dark, as code_stylesheet() serves them

# Tokens both styles draw as plain text (names, punctuation), and whitespace, whose colour
# draws nothing: they go out as text, without a span each. Half a highlighted block's
# spans were these, and a long chat's page carries every block.
_DRAWN_PLAIN = {
    token
    for token in STANDARD_TYPES
    if all(
        style.style_for_token(token) == style.style_for_token(Text)
        for style in map(get_style_by_name, _STYLES)
    )
} | {Text.Whitespace}


@simplefilter
def _as_plain_text(_filter: object, _lexer: object, stream: object, _options: object) -> object:
    for token, value in stream:
        yield (Text if token in _DRAWN_PLAIN else token), value


# A streaming answer is rendered again as it grows (streaming._Formatting), and its closed
# code blocks do not change: highlighting each once keeps those renders cheap.
@lru_cache(maxsize=64)
def _highlight(code: str, language: str, _attributes: str) -> str:
    """The code's tokens as classed spans, or "" (markdown-it then escapes it plainly) for
    no language or one Pygments does not know: a guess would be slow and often wrong."""
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""
    lexer.add_filter(_as_plain_text())
    return highlight(code, lexer, _FORMATTER)


_markdown = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "highlight": _highlight}
).enable("table")

_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
    "span",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}}  # no style: it could restyle the page
_TOKEN_CLASSES = set(STANDARD_TYPES.values()) - {""}


_LIBRARIES = ("markdown-it-py", "nh3", "Pygments")


def _fingerprint() -> str:
    # This file's own bytes rather than a number to raise by hand: a change to the lists
    # above can never be shipped without it. An edit to a comment costs one re-render.
    made_by = Path(__file__).read_bytes() + " ".join(map(version, _LIBRARIES)).encode()
    return hashlib.sha256(made_by).hexdigest()[:16]


RENDERER = _fingerprint()


def render_markdown(text: str) -> str:
    return nh3.clean(
        _markdown.render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes={"span": _TOKEN_CLASSES},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def code_stylesheet() -> str:
    """The token classes' colours, light and dark as the page is, and each style's own
    text colour for what goes out without a span (_DRAWN_PLAIN); the block's background
    and border stay app.css's."""
    light, dark = (_style_rules(name) for name in _STYLES)
    return "\n".join([*light, "@media (prefers-color-scheme: dark) {", *dark, "}", ""])


def _style_rules(name: str) -> list[str]:
    rules = HtmlFormatter(style=name).get_token_style_defs(".markdown pre")
    if color := get_style_by_name(name).style_for_token(Text)["color"]:
        rules.insert(0, f".markdown pre code {{ color: #{color} }}")
    return rules
