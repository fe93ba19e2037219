"""Answering the merge question: on "Your pull requests" with one click, and
through an email's signed link (a GET that records nothing, then one POST);
changeable until the question closes; refused when the link is forged,
expired or someone else's, and for someone else's question. Every channel
answers through one service (Slack's buttons will too)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.core import signing

from apps.common.redact import redacted_path
from apps.metrics.models import MergeQuestion, TeamMember
from apps.metrics.services import merge_question_mail
from apps.metrics.services.merge_question_mail import SALT, merge_question_token
from apps.metrics.services.merge_questions import (
    QuestionRefused,
    merge_question_answer,
    merge_question_ask,
)
from apps.teams.models import Team
from tests.metrics.figures_fixture import pull_request

pytestmark = pytest.mark.django_db

PAGE = "/teams/acme/your-pull-requests/"
LINK = "/merge-question/"


@pytest.fixture
def question(team, member, clock, repository):
    """bob's question about acme/api#7 "Cache invoices", asked now."""
    person = TeamMember.objects.create(team=team, github_id=583231, login="octocat", user=member)
    pr = pull_request(
        team,
        repository,
        number=7,
        title="Cache invoices",
        author=person,
        pr_created_at=clock.now - timedelta(hours=30),
        merged_at=clock.now - timedelta(hours=2),
    )
    asked = merge_question_ask(pull_request=pr)
    assert asked is not None and asked.status == MergeQuestion.Status.ASKED
    return asked


def answer_of(question) -> tuple[str, str]:
    question.refresh_from_db()
    return question.answer, question.answered_via


def test_the_answers_have_stable_keys():
    assert MergeQuestion.Answer.values == ["none", "little", "half", "most", "all"]
    assert [label for _, label in MergeQuestion.Answer.choices] == [
        "None",
        "A little",
        "About half",
        "Most",
        "All",
    ]


# --- "Your pull requests" -------------------------------------------------------------


def test_it_shows_a_person_their_open_questions_with_one_button_per_answer(
    client, member, question
):
    client.force_login(member)

    response = client.get(PAGE)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Cache invoices" in page
    assert "How much of this pull request was written with AI?" in page
    for key in MergeQuestion.Answer.values:
        assert f'name="answer" value="{key}"' in page
    assert f"/teams/acme/your-pull-requests/{question.pk}/answer/" in page
    assert "octocat" in page  # the GitHub account the page is about


def test_one_click_records_the_answer_and_a_second_changes_it(client, member, question):
    client.force_login(member)
    url = f"{PAGE}{question.pk}/answer/"

    response = client.post(url, {"answer": "most"}, follow=True)
    assert "Recorded “Most” for acme/api#7" in response.content.decode()
    assert answer_of(question) == ("most", "app")
    assert 'aria-pressed="true">Most' in response.content.decode()

    client.post(url, {"answer": "little"})
    assert answer_of(question) == ("little", "app")


def test_an_answer_cannot_be_changed_once_the_question_has_closed(client, member, question, clock):
    client.force_login(member)
    url = f"{PAGE}{question.pk}/answer/"
    client.post(url, {"answer": "half"})

    clock.advance(days=14)
    client.force_login(member)  # the session is two weeks old too
    response = client.post(url, {"answer": "all"}, follow=True)

    assert "This question closed on" in response.content.decode()
    assert answer_of(question) == ("half", "app")
    assert f"{PAGE}{question.pk}/answer/" not in client.get(PAGE).content.decode()


def test_someone_elses_question_is_refused_and_never_shown(client, owner, question):
    client.force_login(owner)

    response = client.post(f"{PAGE}{question.pk}/answer/", {"answer": "none"}, follow=True)

    assert "This question was asked of someone else" in response.content.decode()
    assert answer_of(question) == ("", "")
    assert "Cache invoices" not in client.get(PAGE).content.decode()


def test_another_teams_question_is_not_answered_from_this_team(client, member, question, outsider):
    Team.objects.filter(slug="other").first().memberships.create(user=member)
    client.force_login(member)

    response = client.post(
        f"/teams/other/your-pull-requests/{question.pk}/answer/", {"answer": "none"}, follow=True
    )

    assert "not one of this team" in response.content.decode()
    assert answer_of(question) == ("", "")


def test_an_outsider_gets_a_404(client, outsider, question):
    client.force_login(outsider)

    assert client.get(PAGE).status_code == 404
    assert client.post(f"{PAGE}{question.pk}/answer/", {"answer": "none"}).status_code == 404
    assert answer_of(question) == ("", "")


@pytest.mark.parametrize("value", ["", "MOST", "most\x00", "plenty", "٣", "x" * 5000])
def test_an_unknown_answer_is_refused_without_an_error(client, member, question, value):
    client.force_login(member)

    response = client.post(f"{PAGE}{question.pk}/answer/", {"answer": value}, follow=True)

    assert response.status_code == 200
    assert "That is not one of the answers." in response.content.decode()
    assert answer_of(question) == ("", "")


def test_a_merge_not_asked_cannot_be_answered(member, question):
    question.status = MergeQuestion.Status.NOT_ASKED
    question.not_asked_reason = MergeQuestion.NotAskedReason.WEEKLY_CAP
    question.save()

    with pytest.raises(QuestionRefused) as refused:
        merge_question_answer(
            question_id=question.pk, user_id=member.pk, answer="all", channel="app"
        )
    assert refused.value.reason == "not_asked"


def test_a_third_channel_answers_with_one_call(member, question):
    answered = merge_question_answer(
        question_id=question.pk, user_id=member.pk, answer="all", channel="slack"
    )

    assert (answered.answer, answered.answered_via) == ("all", "slack")


def test_a_person_without_a_github_link_is_offered_to_sign_in_with_github(client, owner):
    client.force_login(owner)

    page = client.get(PAGE).content.decode()

    assert "Sign in with GitHub" in page
    assert 'action="/teams/acme/github/sign-in/"' in page


# --- the email's links -------------------------------------------------------------------


def link(question, answer="most", token=None) -> str:
    token = token if token is not None else merge_question_token(question=question)
    return LINK + "?" + urlencode({"token": token, "answer": answer})


def test_opening_a_link_records_nothing_and_shows_one_button(client, question):
    # A mail scanner follows every link of a message: GET must change nothing.
    response = client.get(link(question, "most"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'You chose <strong data-role="chosen">Most</strong>' in page
    assert 'method="post" action="/merge-question/"' in page
    assert 'name="answer" value="most" data-role="confirm"' in page
    assert "<script" not in page  # nothing submits the form by itself
    assert answer_of(question) == ("", "")


def test_the_links_button_records_the_answer_without_signing_in(client, question):
    token = merge_question_token(question=question)

    response = client.post(LINK, {"token": token, "answer": "most"})

    assert response.status_code == 200
    assert "your answer, <strong>Most</strong>, is recorded" in response.content.decode()
    assert answer_of(question) == ("most", "email")


def test_a_link_used_again_changes_the_answer(client, question):
    token = merge_question_token(question=question)
    client.post(LINK, {"token": token, "answer": "most"})

    response = client.post(LINK, {"token": token, "answer": "none"})

    assert response.status_code == 200
    assert answer_of(question) == ("none", "email")


def test_a_link_older_than_14_days_is_refused(client, question, monkeypatch):
    real_time = signing.time.time
    monkeypatch.setattr(
        signing, "time", SimpleNamespace(time=lambda: real_time() - 14 * 86400 - 60)
    )
    token = merge_question_token(question=question)
    monkeypatch.undo()

    for response in (
        client.get(link(question, token=token)),
        client.post(LINK, {"token": token, "answer": "most"}),
    ):
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
    assert answer_of(question) == ("", "")


def test_a_link_to_a_closed_question_is_refused(client, question, clock):
    token = merge_question_token(question=question)
    clock.advance(days=14, seconds=1)

    assert client.get(link(question, token=token)).status_code == 410
    response = client.post(LINK, {"token": token, "answer": "most"})

    assert response.status_code == 410
    assert "This question has closed" in response.content.decode()
    assert answer_of(question) == ("", "")


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        lambda token: signing.dumps({"q": 1, "u": 1}, salt="another-salt"),
        lambda token: signing.dumps({"q": "1", "u": True}, salt=SALT),
        lambda token: signing.dumps([1, 2], salt=SALT),
        lambda token: "not-a-token",
        lambda token: "",
        lambda token: token + "\x00",
        lambda token: "é" * 40,
        lambda token: "a" * 5000,
    ],
    ids=[
        "tampered",
        "other-salt",
        "wrong-types",
        "not-a-dict",
        "garbage",
        "empty",
        "nul",
        "non-ascii",
        "huge",
    ],
)
def test_a_forged_link_is_refused_with_a_clear_page(client, question, forge):
    token = forge(merge_question_token(question=question))

    get = client.get(link(question, token=token))
    post = client.post(LINK, {"token": token, "answer": "all"})

    for response in (get, post):
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    assert answer_of(question) == ("", "")


def test_someone_signed_in_as_another_person_is_refused(client, owner, question):
    client.force_login(owner)
    token = merge_question_token(question=question)

    get = client.get(link(question, token=token))
    post = client.post(LINK, {"token": token, "answer": "all"})

    for response in (get, post):
        assert response.status_code == 403
        assert "sent to someone else" in response.content.decode()
    assert answer_of(question) == ("", "")


def test_a_link_signed_for_another_person_than_the_questions_is_refused(client, owner, question):
    token = signing.dumps({"q": question.pk, "u": owner.pk}, salt=SALT)

    response = client.post(LINK, {"token": token, "answer": "all"})

    assert response.status_code == 403
    assert answer_of(question) == ("", "")


def test_the_person_signed_in_may_use_their_own_link(client, member, question):
    client.force_login(member)

    response = client.post(
        LINK, {"token": merge_question_token(question=question), "answer": "half"}
    )

    assert response.status_code == 200
    assert answer_of(question) == ("half", "email")


def test_a_link_to_a_question_deleted_since_is_a_404(client, question):
    token = merge_question_token(question=question)
    question.delete()

    assert client.post(LINK, {"token": token, "answer": "all"}).status_code == 404


def test_an_unknown_answer_in_a_link_is_refused(client, question):
    response = client.get(link(question, "plenty"))

    assert response.status_code == 400
    assert "That is not one of the answers" in response.content.decode()


def test_the_links_token_never_reaches_a_log():
    token = "eyJxIjoxLCJ1IjoxfQ:1tXyz:abcdef"

    logged = redacted_path(LINK, urlencode({"token": token, "answer": "most"}))

    assert token not in logged and "answer=most" in logged


def test_the_link_answer_page_is_never_cached(client, question):
    response = client.get(link(question))

    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_emails_are_not_sent_without_an_address_for_the_links(settings, question, caplog):
    settings.PUBLIC_BASE_URL = ""
    settings.DEBUG = False

    assert merge_question_mail.merge_questions_email(question_ids=[question.pk]) == 0
    assert "set PUBLIC_BASE_URL" in caplog.text
    question.refresh_from_db()
    assert question.emailed_at is None


# --- the team's weekly cap ----------------------------------------------------------------


def test_an_admin_sets_the_weekly_cap(client, team, owner):
    client.force_login(owner)

    response = client.post("/teams/acme/merge-question/settings/", {"per_week": "3"}, follow=True)

    assert "at most 3 questions a week" in response.content.decode()
    team.refresh_from_db()
    assert team.merge_questions_per_week == 3
    assert 'data-role="cap">3<' in response.content.decode()


@pytest.mark.parametrize("value", ["", "-1", "51", "٣", "3.5", "1e2", "3\x00", "9" * 30])
def test_a_cap_out_of_range_is_refused(client, team, owner, value):
    client.force_login(owner)

    response = client.post("/teams/acme/merge-question/settings/", {"per_week": value}, follow=True)

    assert response.status_code == 200
    assert "Give a whole number of questions from 0 to 50" in response.content.decode()
    team.refresh_from_db()
    assert team.merge_questions_per_week == 5


def test_a_member_cannot_change_the_cap(client, team, member):
    client.force_login(member)

    response = client.post("/teams/acme/merge-question/settings/", {"per_week": "1"})

    assert response.status_code == 403
    team.refresh_from_db()
    assert team.merge_questions_per_week == 5
    assert 'name="per_week"' not in client.get(PAGE).content.decode()
