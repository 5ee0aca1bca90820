"""Formatting for chat templates."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from sessions_app.rendering import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitized by nh3 in render_markdown
