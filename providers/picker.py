"""What the model picker offers a person, and what its search box finds.

A catalogue of up to INLINE_LIMIT models goes into the picker whole. Past that, sending
every model on every page stops paying: 2,000 options made a 93 KiB chat page that took
234 ms to render (issue 12). The picker then carries a shortlist — the model selected,
the person's own default and their tiers', and models they asked to keep (the chat keeps
the ones their latest answers came from) — and the search box beside it fetches the
rest by name (views.model_search). Every model here is one the access service makes
available to the person, so the picker never lists one they may not use.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from providers import access, health
from providers.models import LLMModel

# Fifty options are still a list one reads at a glance and walks with the keyboard (a
# select's type-ahead jumps by first letters), and cost about 3 KiB of HTML. Past that
# a long list hides what one looks for, and typing part of its name finds it sooner.
INLINE_LIMIT = 50
# The most a search puts into the picker; more matches ask for more of the name. A
# hundred options are still quick to scan, and each search answer stays a few KiB.
SEARCH_LIMIT = 100
# Words of a search that count; the query grows with each, so a pasted essay stays cheap.
SEARCH_WORDS = 5

Groups = list[tuple[str, list[LLMModel]]]


@dataclass(frozen=True)
class Offer:
    """Options for the picker, grouped by provider, in the catalogue's order."""

    groups: Groups
    selected: int | None
    automatic: bool = False  # a first, blank option: "use my tier's default"
    total: int = 0  # models the person may use (counted for a page, not for a search)
    query: str = ""  # a search's words
    no_match: bool = False
    more: int = 0  # matches a search left out
    kept: tuple[int, ...] = ()  # what a shortlist showed, to show again

    @property
    def searchable(self) -> bool:
        """The catalogue is too long to send whole: the picker needs its search box."""
        return self.total > INLINE_LIMIT

    def search_params(self) -> str:
        """What the search box sends besides its text, to get this shortlist back when
        its text is cleared."""
        automatic = {"automatic": 1} if self.automatic else {}
        return urlencode({"keep": self.kept, **automatic}, doseq=True)


def offer(
    user: access.User,
    *,
    selected: int | None,
    keep: Callable[[], Iterable[int]] = tuple,
    automatic: bool = False,
) -> Offer:
    """The picker as a page draws it: every model, or past INLINE_LIMIT a shortlist with
    `selected`, the defaults and `keep`'s models (asked only then)."""
    tiers = access.tiers_for(user)
    available = _in_order(access.available_to(tiers))
    total = available.count()
    if total <= INLINE_LIMIT:
        return Offer(_grouped(available), selected, automatic, total=total)
    # The person's own default, then their tiers', as access.default_model tries them.
    own = getattr(getattr(user, "personal_settings", None), "default_model_id", None)
    wanted = [selected, own, *(tier.default_model_id for tier in tiers), *keep()]
    shortlist = list(available.filter(pk__in=[pk for pk in wanted if pk is not None]))
    return Offer(
        _grouped(shortlist),
        selected,
        automatic,
        total=total,
        kept=tuple(model.pk for model in shortlist),
    )


def search(
    user: access.User,
    text: str,
    *,
    selected: int | None,
    keep: Iterable[int] = (),
    automatic: bool = False,
) -> Offer:
    """Models whose id, name or provider holds every word of `text` (any case), at most
    SEARCH_LIMIT, with `selected` kept so the form still posts it. Blank text gives the
    page's picker back, shortlisted with `keep`."""
    words = text.split()[:SEARCH_WORDS]
    if not words:
        return offer(user, selected=selected, keep=lambda: keep, automatic=automatic)
    available = _in_order(access.available_models(user))
    found = available.filter(reduce(operator.and_, map(_matches, words)))
    shown = list(found[: SEARCH_LIMIT + 1])
    more = found.count() - SEARCH_LIMIT if len(shown) > SEARCH_LIMIT else 0
    shown = shown[:SEARCH_LIMIT]
    no_match = not shown
    if selected is not None and selected not in {model.pk for model in shown}:
        shown += available.filter(pk=selected)
        shown.sort(key=_place)
    return Offer(
        _grouped(shown),
        selected,
        automatic,
        query=" ".join(words),
        no_match=no_match,
        more=more,
    )


def _matches(word: str) -> Q:
    return (
        Q(model_id__icontains=word)
        | Q(display_name__icontains=word)
        | Q(provider__name__icontains=word)
    )


def _in_order(models: QuerySet[LLMModel]) -> QuerySet[LLMModel]:
    # Each provider's default first: it is the one most people want from it.
    return models.order_by("provider__name", "-is_default", "model_id")


def _place(model: LLMModel) -> tuple[str, bool, str]:
    """_in_order's order, for a list put together in Python."""
    return (model.provider.name, not model.is_default, model.model_id)


def _grouped(models: Iterable[LLMModel]) -> Groups:
    """By provider; each model with its `warning`, its health where that is worth a word
    in the picker (degraded, failing), asked for all of them in one go."""
    models = list(models)
    warnings = health.of_models([model.pk for model in models])
    groups: dict[str, list[LLMModel]] = {}
    for model in models:
        found = warnings.get(model.pk, health.UNKNOWN)
        model.warning = found.status if found.warns else ""
        groups.setdefault(model.provider.name, []).append(model)
    return list(groups.items())
