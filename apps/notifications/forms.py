"""The team's and its squads' notification settings, as admins change them on
the Slack page."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.notifications.models import WEEKDAYS, NotificationSettings, SquadNotificationSettings
from apps.teams.models import validate_time_zone

# Slack's channel ids: C… (public), G… (private), upper-case letters and digits.
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,30}")


def _channel(value: str) -> str:
    value = value.strip()
    if value and not CHANNEL_ID.fullmatch(value):
        raise forms.ValidationError(
            "A Slack channel id looks like C012AB3CD (the channel's details, at the bottom)."
        )
    return value


class AsciiIntegerField(forms.IntegerField):
    """Digits 0-9 only: Python's int() also takes "١٢" or "1_000"."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str):
            value = value.strip()
            if value and not (value.isascii() and value.isdigit() and len(value) <= 9):
                raise forms.ValidationError("Give a whole number in digits 0-9.")
        return super().to_python(value)


class NotificationSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    large_pr_lines = AsciiIntegerField(min_value=1, max_value=100_000)
    first_review_target_hours = AsciiIntegerField(min_value=1, max_value=200)
    digest_weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int)
    digest_time = forms.TimeField(input_formats=["%H:%M"])

    class Meta:
        model = NotificationSettings
        fields = [
            "nudge_channel",
            "nudge_waiting_on",
            "nudge_merged_unreviewed_on",
            "nudge_large_on",
            "nudge_waiting_direct_on",
            "large_pr_lines",
            "first_review_target_hours",
            "digest_on",
            "digest_channel",
            "digest_weekday",
            "digest_time",
        ]

    def clean_nudge_channel(self) -> str:
        return _channel(self.cleaned_data.get("nudge_channel") or "")

    def clean_digest_channel(self) -> str:
        return _channel(self.cleaned_data.get("digest_channel") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("digest_on") and not data.get("digest_channel"):
            self.add_error("digest_channel", "Choose the channel the digest goes to.")
        return data


# The squad's switch for the requested reviewers' direct messages, as its
# select sends it: empty for as the team's.
SQUAD_DIRECT_CHOICES = [("", "as the team"), ("true", "yes"), ("false", "no")]


class SquadNotificationSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    nudge_waiting_direct = forms.TypedChoiceField(
        choices=SQUAD_DIRECT_CHOICES,
        coerce=lambda value: value == "true",
        empty_value=None,
        required=False,
    )
    digest_weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int)
    digest_time = forms.TimeField(input_formats=["%H:%M"])
    time_zone = forms.CharField(max_length=64, required=False, strip=True)

    class Meta:
        model = SquadNotificationSettings
        fields = [
            "nudge_channel",
            "nudge_waiting_on",
            "nudge_merged_unreviewed_on",
            "nudge_large_on",
            "nudge_waiting_direct",
            "digest_on",
            "digest_channel",
            "digest_weekday",
            "digest_time",
            "time_zone",
        ]

    def clean_nudge_channel(self) -> str:
        return _channel(self.cleaned_data.get("nudge_channel") or "")

    def clean_digest_channel(self) -> str:
        return _channel(self.cleaned_data.get("digest_channel") or "")

    def clean_time_zone(self) -> str:
        value: str = self.cleaned_data.get("time_zone") or ""
        if value:
            validate_time_zone(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("digest_on") and not data.get("digest_channel"):
            self.add_error("digest_channel", "Choose the channel the squad's digest goes to.")
        return data
