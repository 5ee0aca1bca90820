"""Which models a person may use: the one service the picker, sending and the Models page
ask, so they can never disagree.

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

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, Q, QuerySet, When

from providers.models import LLMModel, Tier

logger = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser


class ModelUnavailableError(Exception):
    def __init__(self, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(user_message)


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


def tiers_for(user: User) -> list[Tier]:
    tiers = list(Tier.objects.filter(group__user=user)) if user.is_authenticated else []
    return tiers or list(Tier.objects.filter(is_default=True))


def available_models(user: User) -> QuerySet[LLMModel]:
    return _available_to(tiers_for(user))


def _available_to(tiers: list[Tier]) -> QuerySet[LLMModel]:
    open_to = Q(allowed_tiers__isnull=True) | Q(allowed_tiers__in=tiers)
    allowed = LLMModel.objects.usable().filter(open_to).values("pk")
    # A subquery rather than distinct(): the caller may order by any column.
    return LLMModel.objects.filter(pk__in=allowed).select_related("provider")


def model_for(user: User, pk: int | None) -> LLMModel:
    """The model `pk` if this user may use it now; else the specific reason why not."""
    model = LLMModel.objects.select_related("provider").filter(pk=pk).first()
    if model is None:
        raise UnknownModelError("That model does not exist any more; pick another.")
    if not model.enabled:
        raise ModelDisabledError(f"{model.label} is switched off; pick another model.")
    if not LLMModel.objects.usable().filter(pk=model.pk).exists():
        raise ProviderUnavailableError(
            f"{model.label} cannot answer: its provider {model.provider.name} is switched "
            "off or has no API key."
        )
    if not available_models(user).filter(pk=model.pk).exists():
        tiers = ", ".join(tier.name for tier in tiers_for(user)) or "no tier"
        raise TierNotAllowedError(f"{model.label} is not available to your tier ({tiers}).")
    _log_choice(user, model)
    return model


def default_model(user: User, *, current: LLMModel | None = None) -> LLMModel:
    """The model to preselect: the session's current one while it stays available, else
    the person's own default, else the tier's, else a provider's, else the first available."""
    tiers = tiers_for(user)
    available = _available_to(tiers)
    own = getattr(getattr(user, "personal_settings", None), "default_model", None)
    for candidate in [current, own] + [tier.default_model for tier in tiers]:
        found = available.filter(pk=candidate.pk).first() if candidate else None
        if found is not None:
            return found
    first = available.order_by("-is_default", "provider__name", "model_id").first()
    if first is None:
        raise NoUsableModelError(NOTHING_AVAILABLE)
    return first


def model_for_id(model_id: str) -> LLMModel:
    """A bare model id (commands, config files): the enabled provider that owns it,
    preferring one that holds a key of its own."""
    found = (
        LLMModel.objects.usable()
        .filter(model_id=model_id)
        .annotate(keyed=Case(When(provider__api_key="", then=0), default=1))
        .order_by("-keyed", "provider__name")
        .first()
    )
    if found is None:
        raise UnknownModelError(f"No enabled provider offers a model with the id {model_id}.")
    return found


def _log_choice(user: User, model: LLMModel) -> None:
    logger.info(
        "Model chosen: user=%s model=%s provider=%s",
        user.get_username(),
        model.model_id,
        model.provider.name,
    )
