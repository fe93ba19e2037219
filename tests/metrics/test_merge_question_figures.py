"""The merge question's team figures (`ai.survey` of the JSON API, and the
dashboard's section): asked, answered, the response rate, and the answers by
option only where at least 3 people answered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from apps.integrations.models import Repository
from apps.metrics.figures import ai_survey_figures
from apps.metrics.models import MergeQuestion, TeamMember
from apps.metrics.periods import Period
from apps.metrics.services.merge_questions import merge_question_answer, merge_question_ask
from apps.teams.models import Membership
from tests.metrics.figures_fixture import at, pull_request

pytestmark = pytest.mark.django_db

URL = "/api/teams/acme/metrics/?from=2025-01-01&to=2025-01-31"


@pytest.fixture
def people(team):
    """Four members, each linked to a GitHub person."""
    users = []
    for n, name in enumerate(["dana", "eli", "farah", "gus"], start=1):
        user = get_user_model().objects.create_user(name, password=f"pw-{name}")
        Membership.objects.create(user=user, team=team)
        TeamMember.objects.create(team=team, github_id=9000 + n, login=f"{name}-gh", user=user)
        users.append(user)
    return users


def merged_and_asked(team, repository, user, merged: str):
    author = TeamMember.objects.get(team=team, user=user)
    pr = pull_request(
        team,
        repository,
        author=author,
        pr_created_at=at(merged) - timedelta(hours=8),
        merged_at=at(merged),
    )
    return merge_question_ask(pull_request=pr, now=at(merged))


def answer(question, value):
    merge_question_answer(
        question_id=question.pk,
        user_id=question.user_id,
        answer=value,
        channel="app",
        now=question.asked_at + timedelta(hours=1),
    )


def survey(client):
    response = client.get(URL)
    assert response.status_code == 200
    return response.json()["ai"]["survey"]


def test_answers_of_two_people_are_hidden(client, team, owner, repository, people):
    dana, eli, farah, _gus = people
    answer(merged_and_asked(team, repository, dana, "2025-01-06T10:00:00"), "most")
    answer(merged_and_asked(team, repository, dana, "2025-01-07T10:00:00"), "all")
    answer(merged_and_asked(team, repository, eli, "2025-01-08T10:00:00"), "none")
    merged_and_asked(team, repository, farah, "2025-01-09T10:00:00")  # not answered
    client.force_login(owner)

    figures = survey(client)

    assert figures == {
        "asked": 4,
        "answered": 3,
        "response_rate": 0.75,
        "answers": None,
        "people_answered": 2,
        "min_people": 3,
        "not_asked": 0,
    }
    dashboard = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31").content.decode()
    assert 'data-role="survey-hidden"' in dashboard
    assert "at least 3 people have answered in this period (2 so far)" in dashboard
    assert 'data-answer="most"' not in dashboard


def test_answers_of_three_people_are_shown_by_option(client, team, owner, repository, people):
    dana, eli, farah, gus = people
    answer(merged_and_asked(team, repository, dana, "2025-01-06T10:00:00"), "most")
    answer(merged_and_asked(team, repository, dana, "2025-01-07T10:00:00"), "all")
    answer(merged_and_asked(team, repository, eli, "2025-01-08T10:00:00"), "none")
    answer(merged_and_asked(team, repository, farah, "2025-01-09T10:00:00"), "most")
    merged_and_asked(team, repository, gus, "2025-01-10T10:00:00")
    # Outside the period: not counted.
    answer(merged_and_asked(team, repository, gus, "2025-02-03T10:00:00"), "little")
    client.force_login(owner)

    figures = survey(client)

    assert figures["answers"] == {"none": 1, "little": 0, "half": 0, "most": 2, "all": 1}
    assert (figures["asked"], figures["answered"], figures["response_rate"]) == (5, 4, 0.8)
    assert figures["people_answered"] == 3
    dashboard = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31").content.decode()
    assert '<li data-answer="most"><span>Most</span>' in dashboard
    assert 'data-figure="survey_response_rate">80%<' in dashboard


def test_one_person_answering_often_is_still_one_person(client, team, owner, repository, people):
    dana, eli, *_ = people
    for day in range(6, 11):
        answer(merged_and_asked(team, repository, dana, f"2025-01-{day:02d}T10:00:00"), "most")
    answer(merged_and_asked(team, repository, eli, "2025-01-13T10:00:00"), "none")
    client.force_login(owner)

    figures = survey(client)

    assert figures["answered"] == 6
    assert figures["answers"] is None


def test_the_threshold_holds_within_a_repository_filter(team, repository, people):
    other = Repository.objects.create(
        installation=repository.installation, github_id=77, full_name="acme/web", tracked=True
    )
    dana, eli, farah, _ = people
    answer(merged_and_asked(team, repository, dana, "2025-01-06T10:00:00"), "most")
    answer(merged_and_asked(team, repository, eli, "2025-01-07T10:00:00"), "half")
    answer(merged_and_asked(team, other, farah, "2025-01-08T10:00:00"), "all")
    period = Period(start=at("2025-01-01").date(), end=at("2025-01-31").date(), time_zone="UTC")

    everyone = ai_survey_figures(team=team, period=period)
    api_only = ai_survey_figures(team=team, period=period, repository_ids=[repository.pk])

    assert everyone["answers"] == {"none": 0, "little": 0, "half": 1, "most": 1, "all": 1}
    assert api_only["answered"] == 2
    assert api_only["answers"] is None


def test_merges_not_asked_are_counted_apart(team, repository, people):
    team.merge_questions_per_week = 1
    team.save()
    dana = people[0]
    merged_and_asked(team, repository, dana, "2025-01-06T10:00:00")
    merged_and_asked(team, repository, dana, "2025-01-07T10:00:00")
    period = Period(start=at("2025-01-01").date(), end=at("2025-01-31").date(), time_zone="UTC")

    figures = ai_survey_figures(team=team, period=period)

    assert (figures["asked"], figures["not_asked"], figures["response_rate"]) == (1, 1, 0.0)
    assert MergeQuestion.objects.filter(status="not_asked").count() == 1


def test_no_question_gives_no_rate(client, team, owner):
    client.force_login(owner)

    assert survey(client) == {
        "asked": 0,
        "answered": 0,
        "response_rate": None,
        "answers": None,
        "people_answered": 0,
        "min_people": 3,
        "not_asked": 0,
    }
