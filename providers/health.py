"""Model health as the registry's pages show it: a status per model and per provider.

The figures come from the usage records, which the registry may not read (usage →
providers, never back): usage registers its sources here when it loads (usage/apps.py),
and until then, or without it, every model has no traffic. Each source answers for many
rows in one go, never a query per row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cached_property

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import slugify

HEALTHY = "healthy"
DEGRADED = "degraded"
FAILING = "failing"
NO_TRAFFIC = "no traffic"


@dataclass(frozen=True)
class Health:
    status: str  # HEALTHY, DEGRADED, FAILING or NO_TRAFFIC
    summary: str = ""  # the figures behind the status, for a title
    last_hour: str = "no tries"  # each window's figures, for the admin's columns
    last_day: str = "no tries"

    @cached_property
    def badge(self) -> SafeString:
        """A dot and the status word (the colour is never alone), the figures on hover.
        Kept: the Models page shows one per model, most of them the one UNKNOWN."""
        title = format_html(' title="{}"', self.summary) if self.summary else ""
        return format_html(
            '<span class="health {}"{}>{}</span>', slugify(self.status), title, self.status
        )

    @property
    def warns(self) -> bool:
        """Worth a word beside the model's name in the picker."""
        return self.status in (DEGRADED, FAILING)


UNKNOWN = Health(NO_TRAFFIC)

Source = Callable[[Collection[int]], Mapping[int, Health]]
_sources: dict[str, Source] = {}


def register(kind: str, source: Source) -> None:
    """`kind` is "model" or "provider"; `source` maps their pks to their health."""
    _sources[kind] = source


def of_models(pks: Collection[int]) -> Mapping[int, Health]:
    return _of("model", pks)


def of_providers(pks: Collection[int]) -> Mapping[int, Health]:
    return _of("provider", pks)


def _of(kind: str, pks: Collection[int]) -> Mapping[int, Health]:
    source = _sources.get(kind)
    return source(pks) if source and pks else {}
