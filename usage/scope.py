"""Which usage a dashboard view or a CSV download covers: a range of days and the names
it is narrowed to, read from the page's query string (so a view's URL can be shared), and
the person it is limited to when they are not staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from providers import access
from providers.models import LLMModel, Provider, Tier
from usage.models import KeyKind

DEFAULT_DAYS = 30
# A range longer than this is refused: rollups are kept without end, but a decade of
# bars says nothing a year's does not.
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Scope:
    since: date
    until: date  # included
    user_id: int | None = None  # a person's own usage, by their account, not their name
    username: str = ""
    tier: str = ""
    provider: str = ""
    model: str = ""
    key_kind: str = ""

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def of_days(self) -> Q:
        """The daily totals (UsageDay) in scope."""
        return Q(day__gte=self.since, day__lte=self.until) & self._names()

    def of_records(self) -> Q:
        """The records in scope: those made from the first day's midnight to the one
        after the last day (TIME_ZONE's, as the daily totals' days)."""
        start = timezone.make_aware(datetime.combine(self.since, time()))
        end = timezone.make_aware(datetime.combine(self.until + timedelta(days=1), time()))
        return Q(created_at__gte=start, created_at__lt=end) & self._names()

    def of_models(self) -> Q:
        """The rows of the models in scope, whoever asked: how a model does is its
        provider's, not one person's (the latency histograms know no person)."""
        return Q(day__gte=self.since, day__lte=self.until) & self._names(only_models=True)

    def _names(self, *, only_models: bool = False) -> Q:
        named = {"provider_name": self.provider, "model_id": self.model}
        if not only_models:
            named |= {"username": self.username, "tier_name": self.tier, "key_kind": self.key_kind}
            if self.user_id is not None:
                named["user_id"] = self.user_id
        return Q(**{column: value for column, value in named.items() if value not in ("", None)})


def _named(max_length: int) -> forms.CharField:
    """A name filter, offering the names suggestions() lists for it."""
    return forms.CharField(
        required=False,
        max_length=max_length,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "placeholder": "Any"}
        ),
    )


class ScopeForm(forms.Form):
    """The dashboard's filters. Names are matched exactly against the records' snapshots,
    so a deleted user, tier or model stays findable by the name it had."""

    since = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    username = _named(150)
    tier = _named(100)
    provider = _named(100)
    model = _named(200)
    key_kind = forms.ChoiceField(
        label="Key", required=False, choices=[("", "Any key"), *KeyKind.choices]
    )

    def __init__(self, data: QueryDict, *, staff: bool) -> None:
        """The dates left out are the last DEFAULT_DAYS days up to `until` or today, and
        are shown as such."""
        data = data.copy()
        if not data.get("until"):
            data["until"] = timezone.localdate().isoformat()
        if not data.get("since"):
            try:
                until = date.fromisoformat(data["until"])
            except ValueError:
                pass  # the field's own error says so
            else:
                data["since"] = (until - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        super().__init__(data)
        self.staff = staff
        for name in ("username", "tier", "provider", "model"):
            self.fields[name].widget.attrs["list"] = f"{name}-names"
        self.fields["username"].label = "User"
        if not staff:
            del self.fields["username"]

    def clean(self) -> dict:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError("“From” is after “To”: pick a start on or before the end.")
        if since and until and (until - since).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Pick at most {MAX_DAYS:,} days.")
        return cleaned

    def scope(self, user_id: int) -> Scope:
        """The valid form's scope; a person who is not staff sees their own usage only."""
        data = self.cleaned_data
        names = {name: data.get(name) or "" for name in ("tier", "provider", "model", "key_kind")}
        if self.staff:
            return Scope(data["since"], data["until"], username=data["username"], **names)
        return Scope(data["since"], data["until"], user_id=user_id, **names)


SUGGESTIONS = 500  # names offered a filter; any other is still typed in


def suggestions(user: User) -> dict[str, list[str]]:
    """The names each filter offers: everyone's for staff, the person's own models else."""
    if user.is_staff:
        models = LLMModel.objects.order_by("model_id")
        return {
            "username": _names(User.objects.order_by("username"), "username"),
            "tier": _names(Tier.objects.order_by("name"), "name"),
            "provider": _names(Provider.objects.order_by("name"), "name"),
            "model": _names(models, "model_id"),
        }
    models = access.available_models(user)
    return {
        "tier": [tier.name for tier in access.tiers_for(user)],
        "provider": _names(models.order_by("provider__name"), "provider__name"),
        "model": _names(models.order_by("model_id"), "model_id"),
    }


def _names(queryset: QuerySet, column: str) -> list[str]:
    return list(queryset.values_list(column, flat=True).distinct()[:SUGGESTIONS])
