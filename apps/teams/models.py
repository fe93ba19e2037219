import datetime
import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

# Files of the system's zoneinfo directory that zoneinfo lists but that are not
# the IANA database's names of places: the server's own zone (whatever it is
# set to), the template of POSIX TZ strings, and tzdata's zone for clocks not
# yet set.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _known_time_zones() -> frozenset[str]:
    # Read once: zoneinfo lists the zones by walking the directory each time.
    return frozenset(zoneinfo.available_timezones()) - _NOT_PLACES


def time_zone_known(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine's zoneinfo knows."""
    return name in _known_time_zones()


def validate_time_zone(value: str) -> None:
    """An IANA time zone name this machine's zoneinfo knows (``Europe/Berlin``)."""
    if not time_zone_known(value):
        raise ValidationError(f"{value!r} is not a known time zone.")


MERGE_QUESTIONS_PER_WEEK_MAX = 50


def default_working_days() -> list[int]:
    """Monday to Friday, as ISO weekday numbers."""
    return [1, 2, 3, 4, 5]


def validate_working_days(value: object) -> None:
    """A list of distinct ISO weekday numbers, 1 (Monday) to 7 (Sunday)."""
    if (
        not isinstance(value, list)
        or not value
        or any(type(day) is not int or not 1 <= day <= 7 for day in value)
        or len(set(value)) != len(value)
    ):
        raise ValidationError("Working days are distinct ISO weekday numbers, 1 to 7.")


def validate_holidays(value: object) -> None:
    """A list of ISO dates (YYYY-MM-DD)."""
    if not isinstance(value, list) or len(value) > 1000:
        raise ValidationError("Holidays are a list of at most 1000 dates.")
    for item in value:
        if not isinstance(item, str) or len(item) != 10 or not item.isascii():
            raise ValidationError("Each holiday is a date, YYYY-MM-DD.")
        try:
            datetime.date.fromisoformat(item)
        except ValueError:
            raise ValidationError(f"{item!r} is not a date (YYYY-MM-DD).") from None


class Team(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    # Where the team's days begin and end: the dashboard's periods and weeks.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # At most this many merge questions ("how much of this pull request was
    # written with AI?") per person per week; the rest are sampled out
    # (docs/merge-question.md). 0 asks no one.
    merge_questions_per_week = models.PositiveSmallIntegerField(
        default=5, validators=[MaxValueValidator(MERGE_QUESTIONS_PER_WEEK_MAX)]
    )
    # The team's working week (docs/working-hours.md): durations are stored in
    # calendar hours and in these working hours, in `time_zone`.
    working_days = models.JSONField(
        default=default_working_days, validators=[validate_working_days]
    )
    work_starts_at = models.TimeField(default=datetime.time(9, 0))
    work_ends_at = models.TimeField(default=datetime.time(17, 0))
    # Days off besides the weekend: ISO dates, and a country's public holidays
    # (ISO 3166 code, as the `holidays` library names them; blank for none).
    holidays = models.JSONField(default=list, blank=True, validators=[validate_holidays])
    holiday_country = models.CharField(max_length=8, blank=True, default="")

    class Hours(models.TextChoices):
        WORKING = "working", "Working hours"
        CALENDAR = "calendar", "Calendar hours"

    # Which hours the dashboard and the API show unless asked (`hours=`).
    default_hours = models.CharField(max_length=10, choices=Hours.choices, default=Hours.CALENDAR)
    # The team's targets ({"first_review": {"within": 4, "unit": "working_hours"}, …});
    # validated by apps/teams/services/settings.py.
    targets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The team's time zone; UTC if the stored name is no longer known."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    @property
    def holiday_dates(self) -> list[datetime.date]:
        """The team's own holidays as dates (any stored text that is not one skipped)."""
        found = []
        for item in self.holidays or []:
            try:
                found.append(datetime.date.fromisoformat(str(item)))
            except ValueError:
                continue
        return found


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="unique_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class Invitation(models.Model):
    """A link that lets one person join one team as a member.

    Only a hash of the link's token is stored: the link itself is shown once, to
    the admin who made it, so a copy of the database holds no usable link."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation to {self.team} ({self.state})"

    @property
    def state(self) -> str:
        """ "open", "used", "revoked" or "expired", the first that applies."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"
