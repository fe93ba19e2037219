import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from apps.teams.models import Team


def test_it_gives_a_new_team_utc(team):
    team.refresh_from_db()
    assert team.time_zone == "UTC"
    assert team.tzinfo == zoneinfo.ZoneInfo("UTC")


def test_it_accepts_a_known_time_zone(team):
    team.time_zone = "Europe/Berlin"
    team.full_clean()
    assert team.tzinfo == zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "UTC\x00"])
def test_it_refuses_an_unknown_time_zone(team, name):
    team.time_zone = name
    with pytest.raises(ValidationError):
        team.full_clean()


@pytest.mark.django_db
def test_it_falls_back_to_utc_for_a_stored_name_no_longer_known():
    team = Team(name="Old", slug="old", time_zone="Nowhere/Gone")
    assert team.tzinfo == zoneinfo.ZoneInfo("UTC")
