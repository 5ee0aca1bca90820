"""Who may use which model, and with which key: the one service the picker, Send, the
stream and the Models page ask, so they can never disagree.

grant(user, pk) answers "may this person use this model now, and with which key": the
person's own key when they stored one and the provider allows it, else the team's. The
stream asks again when it starts, so a change between Send and the stream (a provider
switched off, a key removed, a person moved out of the tier) is refused before anything
goes upstream.

A model is available to a user when it is usable (enabled, on an enabled provider that
has a key or needs none) and either lists no tiers or lists one of the user's tiers. A
user's tiers are those whose groups they belong to, else the default tier.

ModelUnavailableError        .user_message names the model and the reason
├── UnknownModelError        no such model
├── ModelDisabledError       the model is switched off
├── ProviderUnavailableError its provider is switched off, or has no key
├── TierNotAllowedError      not open to the user's tier (named)
└── NoUsableModelError       nothing at all is available to this user
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Exists, OuterRef, Q, QuerySet

from providers.errors import UserFacingError
from providers.keys.encryption import Secret
from providers.models import LLMModel, PersonalKey, Tier
from providers.runners.base import ProviderTarget

logger = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser


class ModelUnavailableError(UserFacingError):
    pass


class UnknownModelError(ModelUnavailableError):
    pass


class ModelDisabledError(ModelUnavailableError):
    pass


class ProviderUnavailableError(ModelUnavailableError):
    pass


class TierNotAllowedError(ModelUnavailableError):
    pass


class NoUsableModelError(ModelUnavailableError):
    pass


NOTHING_AVAILABLE = (
    "No model can answer yet: in the admin, enable a provider that has an API key (or "
    "needs none, like Ollama) and at least one of its models, open to your tier."
)


NO_SUCH_MODEL = "That model does not exist any more; pick another."
# The largest id a BigAutoField holds; a larger number in a query is an overflow error.
LARGEST_ID = 2**63 - 1


def tiers_for(user: User) -> list[Tier]:
    if not user.is_authenticated:
        return list(Tier.objects.filter(is_default=True))
    # One query for both, the tiers of the user's groups and the default for one in none,
    # and every tier read (a team has a handful): picked here rather than in SQL, the
    # query is built in a quarter less time, on every Send (bench/README.md).
    in_group = Exists(Group.user_set.through.objects.filter(group=OuterRef("group"), user=user.pk))
    rows = list(Tier.objects.annotate(mine=in_group))
    return [tier for tier in rows if tier.mine] or [tier for tier in rows if tier.is_default]


def available_models(user: User) -> QuerySet[LLMModel]:
    return available_to(tiers_for(user))


def available_to(tiers: list[Tier]) -> QuerySet[LLMModel]:
    allowed = LLMModel.objects.usable().filter(_open_to(tiers)).values("pk")
    # A subquery rather than distinct(): the caller may order by any column.
    return LLMModel.objects.filter(pk__in=allowed).select_related("provider")


def _available(tiers: list[Tier], pk: int) -> LLMModel | None:
    """The model `pk`, if available to these tiers: one row, so no subquery (a model
    open to two of them joins twice, and first() keeps one), which Django builds in a
    quarter less time than available_to's, on every Send (bench/README.md)."""
    return LLMModel.objects.usable().filter(_open_to(tiers), pk=pk).first()


def _open_to(tiers: list[Tier]) -> Q:
    return Q(allowed_tiers__isnull=True) | Q(allowed_tiers__in=tiers)


@dataclass(frozen=True)
class Grant:
    """A model this person may use now, and the key their messages to it go with."""

    model: LLMModel
    personal_key: Secret | None
    tiers: tuple[Tier, ...]  # the person's, as the grant found them

    def target(self) -> ProviderTarget:
        """Plain values for a runner. Raises UnreadableSecretError."""
        return self.model.provider.target(personal_key=self.personal_key)


def grant(user: User, pk: int | None) -> Grant:
    """The model `pk` with its key, if this user may use it now; else the specific reason."""
    if pk is None or not 0 < pk <= LARGEST_ID:  # a posted number past any id: no such model
        raise UnknownModelError(NO_SUCH_MODEL)
    tiers = tiers_for(user)
    # Every Send asks: a yes is one plain query; only a no looks for its reason.
    model = _available(tiers, pk)
    if model is None:
        raise _refusal(pk, tiers)
    _log_choice(user, model)
    return Grant(model, _personal_key(user, model), tuple(tiers))


def _refusal(pk: int, tiers: list[Tier]) -> ModelUnavailableError:
    """Why the model `pk` is not available to these tiers, in the words of the rule it
    fails."""
    model = (
        LLMModel.objects.select_related("provider")
        .annotate(usable=Exists(LLMModel.objects.usable().filter(pk=OuterRef("pk"))))
        .filter(pk=pk)
        .first()
    )
    if model is None:
        return UnknownModelError(NO_SUCH_MODEL)
    if model.is_deleted:
        return ModelDisabledError(
            f"{model.label} was deleted from the catalogue; pick another model."
        )
    if not model.enabled:
        return ModelDisabledError(f"{model.label} is switched off; pick another model.")
    if not model.usable:
        return ProviderUnavailableError(
            f"{model.label} cannot answer: its provider {model.provider.name} is switched "
            "off or has no API key."
        )
    names = ", ".join(tier.name for tier in tiers) or "no tier"
    return TierNotAllowedError(f"{model.label} is not available to your tier ({names}).")


def _personal_key(user: User, model: LLMModel) -> Secret | None:
    if not (user.is_authenticated and model.provider.allow_personal_keys):
        return None
    own = PersonalKey.objects.filter(user=user, provider=model.provider).first()
    return own.api_key if own else None


def default_model(user: User, *, current: LLMModel | None = None) -> LLMModel:
    """The model to preselect: the session's current one while it stays available, else
    the person's own default, else the tier's, else a provider's, else the first available."""
    tiers = tiers_for(user)
    own = getattr(getattr(user, "personal_settings", None), "default_model", None)
    for candidate in [current, own] + [tier.default_model for tier in tiers]:
        found = _available(tiers, candidate.pk) if candidate else None
        if found is not None:
            return found
    first = available_to(tiers).order_by("-is_default", "provider__name", "model_id").first()
    if first is None:
        raise NoUsableModelError(NOTHING_AVAILABLE)
    return first


def _log_choice(user: User, model: LLMModel) -> None:
    logger.info(
        "Model chosen: user=%s model=%s provider=%s",
        user.get_username(),
        model.model_id,
        model.provider.name,
    )
