"""Assistant answers as HTML: Markdown rendered once, with raw HTML off, then sanitized.

markdown-it-py with html disabled never passes the model's own tags through; nh3
(ammonia) then keeps only a fixed set of tags and attributes, and links get
rel="noopener noreferrer nofollow", so neither a model nor a prompt injection can put
script or styling on the page.

An answer's HTML is stored when it finishes (Message.content_html), tagged with RENDERER.
A row tagged by another renderer is rendered again when shown, so a fix to this module or
to either library reaches the answers stored before it.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}}  # no style: it could restyle the page


def _fingerprint() -> str:
    # This file's own bytes rather than a number to raise by hand: a change to the lists
    # above can never be shipped without it. An edit to a comment costs one re-render.
    made_by = Path(__file__).read_bytes() + f"{version('markdown-it-py')} {version('nh3')}".encode()
    return hashlib.sha256(made_by).hexdigest()[:16]


RENDERER = _fingerprint()


def render_markdown(text: str) -> str:
    return nh3.clean(
        _markdown.render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
