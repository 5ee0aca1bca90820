"""Assistant answers as HTML: Markdown rendered once, with raw HTML off, then sanitized.

markdown-it-py with html disabled never passes the model's own tags through; nh3
(ammonia) then keeps only a fixed set of tags and attributes, and links get
rel="noopener noreferrer nofollow", so neither a model nor a prompt injection can put
script or styling on the page.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}}  # no style: it could restyle the page


def render_markdown(text: str) -> str:
    return nh3.clean(
        _markdown.render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
