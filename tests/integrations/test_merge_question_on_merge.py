"""The merge question asked on merge: each live merge's linked author is asked
once, whatever the path the merge took (a webhook redelivered, a delivery
recovered from GitHub's log, the sweeper, a second worker); never for history,
replay, a bot, GitHub's deleted account, or someone without an account.

Deliveries go through the real endpoint, signed; recovery through the delivery
log and history through GraphQL, both faked at GitHub's real paths; the email
through Django's mail outbox (docs/merge-question.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import respx
from django.core import mail
from django.db import transaction

from apps.integrations import tasks as integration_tasks
from apps.integrations.models import ReconcileRun
from apps.integrations.services import history
from apps.integrations.services.reconcile import deliveries_reconcile
from apps.metrics.models import MergeQuestion, PullRequestEvent, TeamMember
from apps.metrics.services import lifecycle
from apps.metrics.services.members_link import team_member_link
from apps.metrics.services.payloads import GitHubUser
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from apps.teams.models import Membership
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for
from tests.integrations.github_apps import stored_app
from tests.payloads.graphql import pr_node
from tests.payloads.hook_deliveries import FakeDeliveryLog, LogEntry
from tests.payloads.merges import merge_event as merged
from tests.sessions import OtherSession, wait_until_another_session_waits_for_a_lock

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
REPOSITORY_ID = 186853002
AUTHOR = GitHubUser(github_id=21031067, login="Codertocat", is_bot=False)
Status = MergeQuestion.Status


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(
        installation=installation, github_id=REPOSITORY_ID, full_name="acme/api"
    )
    repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])
    return repository


@pytest.fixture
def author(team, member, settings):
    """bob, linked to Codertocat (the payloads' author), with an email address."""
    settings.PUBLIC_BASE_URL = "https://metrics.example.com"
    member.email = "bob@example.com"
    member.save(update_fields=["email"])
    team_member_link(team=team, user=member, github_user=AUTHOR)
    return member


def questions() -> list[tuple[int, str, str]]:
    return list(
        MergeQuestion.objects.order_by("pull_request__number").values_list(
            "pull_request__number", "user__username", "status"
        )
    )


# --- asked once ------------------------------------------------------------------


def test_it_asks_the_linked_author_once_on_merge_and_emails_the_links(
    deliver, repository, author, clock
):
    deliver("pull_request", merged())

    assert questions() == [(7, "bob", Status.ASKED)]
    question = MergeQuestion.objects.get()
    assert question.asked_at == clock.now
    assert question.expires_at == clock.now + timedelta(days=14)
    assert question.sample_probability == 1.0
    assert question.answer == ""
    assert question.emailed_at == clock.now
    (email,) = mail.outbox
    assert email.to == ["bob@example.com"]
    assert email.subject == "acme/api#7: how much was written with AI?"
    assert "How much of this pull request was written with AI?" in email.body
    for key in ("none", "little", "half", "most", "all"):
        assert "https://metrics.example.com/merge-question/?token=" in email.body
        assert f"&answer={key}" in email.body
    html, kind = email.alternatives[0]
    assert kind == "text/html" and "answer=most" in html


def test_a_redelivered_merge_asks_once(deliver, repository, author, clock):
    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-1")  # GitHub's redelivery
    deliver("pull_request", merged(), delivery_id="merge-2")  # the same event, a new id

    assert questions() == [(7, "bob", Status.ASKED)]
    assert len(mail.outbox) == 1


def test_a_merge_recovered_from_the_delivery_log_asks_once(
    settings, deliver, repository, author, clock, django_capture_on_commit_callbacks
):
    settings.GITHUB_API_URL = API
    settings.GITHUB_APP_ID = ""
    stored_app()
    lost = LogEntry(
        id=5,
        guid=str(uuid.uuid4()),
        event="pull_request",
        payload=merged(),
        delivered_at=datetime(2025, 1, 8, 10, 5, tzinfo=UTC),
    )
    with respx.mock(assert_all_called=False) as router:
        FakeDeliveryLog(router, API).add(lost)
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                deliveries_reconcile(trigger=ReconcileRun.Trigger.COMMAND)
    # GitHub's own delivery turns up after all, under its id.
    deliver("pull_request", merged(), delivery_id=lost.guid)
    deliver("pull_request", merged(), delivery_id="late-copy")

    assert PullRequestEvent.objects.get(kind="merged").source == "recovery"
    assert questions() == [(7, "bob", Status.ASKED)]
    assert len(mail.outbox) == 1


def test_the_sweeper_asks_when_the_announcement_was_lost(
    team, repository, author, clock, django_capture_on_commit_callbacks
):
    event = MetricsEvent(team=team, repository=repository, name="pull_request", payload=merged())
    with django_capture_on_commit_callbacks(execute=False):  # the process died at commit
        events_apply(events=[event])
    assert questions() == []

    clock.advance(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.lifecycle_events_announce(older_than=timedelta(minutes=1))
        lifecycle.lifecycle_events_announce(older_than=timedelta(minutes=1))

    assert questions() == [(7, "bob", Status.ASKED)]
    assert len(mail.outbox) == 1


def test_the_consumer_run_twice_on_one_merge_asks_and_emails_once(
    deliver, repository, author, clock
):
    deliver("pull_request", merged())
    event = PullRequestEvent.objects.get(kind="merged")

    # A worker lost after its work: the broker hands the message to another.
    for _ in range(2):
        assert lifecycle.lifecycle_events_consume(consumer="merge-question", event_ids=[event.pk])

    assert questions() == [(7, "bob", Status.ASKED)]
    assert len(mail.outbox) == 1


def test_an_email_that_fails_is_sent_by_the_consumers_retry_and_asked_once(
    deliver, repository, author, clock, monkeypatch
):
    from django.core.mail import EmailMultiAlternatives

    real_send = EmailMultiAlternatives.send
    failures = iter([ConnectionRefusedError("mail server down")])

    def flaky_send(self, fail_silently=False):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_send(self, fail_silently=fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky_send)

    deliver("pull_request", merged())

    assert questions() == [(7, "bob", Status.ASKED)]
    assert len(mail.outbox) == 1
    assert MergeQuestion.objects.get().emailed_at is not None


def test_an_address_the_mail_server_refuses_is_not_retried(
    deliver, repository, author, clock, monkeypatch, caplog
):
    import smtplib

    from django.core.mail import EmailMultiAlternatives

    sent: list[int] = []

    def refuse(self, fail_silently=False):
        sent.append(1)
        raise smtplib.SMTPRecipientsRefused({"bob@example.com": (550, b"no such user")})

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)

    deliver("pull_request", merged())

    assert sent == [1]
    assert questions() == [(7, "bob", Status.ASKED)]
    assert "refused the address" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_deciding_one_merge_ask_once(repository, author, clock):
    """Two consumer tasks on one merge at the same moment (a redelivered task
    message): the second waits for the first's lock and finds its row."""
    event = MetricsEvent(
        team=repository.installation.team,
        repository=repository,
        name="pull_request",
        payload=merged(),
    )
    events_apply(events=[event])  # autocommit: announced and asked at once
    MergeQuestion.objects.all().delete()
    mail.outbox.clear()
    merged_event = PullRequestEvent.objects.get(kind="merged")
    second = OtherSession(
        lambda: lifecycle.lifecycle_events_consume(
            consumer="merge-question", event_ids=[merged_event.pk]
        )
    )
    with transaction.atomic():
        # The first worker holds the author's row as it decides.
        TeamMember.objects.select_for_update().get(github_id=AUTHOR.github_id)
        second.start()
        wait_until_another_session_waits_for_a_lock()
        lifecycle.lifecycle_events_consume(consumer="merge-question", event_ids=[merged_event.pk])
    second.finish()

    assert questions() == [(7, "bob", Status.ASKED)]
    assert len(mail.outbox) == 1


# --- never asked -------------------------------------------------------------------


def test_a_merge_of_an_author_without_an_account_asks_no_one(deliver, repository, member, clock):
    deliver("pull_request", merged())

    assert questions() == []
    assert mail.outbox == []


def test_a_bots_merge_asks_no_one(deliver, repository, team, member, clock):
    bot = TeamMember.objects.create(
        team=team, github_id=49699333, login="dependabot[bot]", is_bot=True, user=member
    )
    deliver(
        "pull_request",
        merged(author_login=bot.login, author_id=bot.github_id, author_type="Bot"),
    )

    assert questions() == []


def test_a_merge_by_githubs_deleted_account_asks_no_one(deliver, repository, team, member, clock):
    TeamMember.objects.create(
        team=team, github_id=10137, login="ghost", is_deleted_account=True, user=member
    )
    deliver("pull_request", merged(author_login="ghost", author_id=10137))

    assert questions() == []


def test_an_author_who_left_the_team_is_not_asked(deliver, repository, team, author, clock):
    Membership.objects.filter(team=team, user=author).delete()

    deliver("pull_request", merged())

    assert questions() == []


def test_a_merge_dated_before_the_repository_was_tracked_asks_no_one(
    deliver, repository, author, clock
):
    repository.tracked_at = datetime(2025, 1, 8, 11, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])

    deliver("pull_request", merged(at="2025-01-08T10:00:00Z"))

    assert PullRequestEvent.objects.get(kind="merged").live is False
    assert questions() == []


def test_replayed_merges_ask_no_one(
    team, repository, author, clock, django_capture_on_commit_callbacks
):
    event = MetricsEvent(
        team=team,
        repository=repository,
        name="pull_request",
        payload=merged(),
        source=Source.REPLAY,
    )
    with django_capture_on_commit_callbacks(execute=True):
        events_apply(events=[event])
    assert lifecycle.lifecycle_events_announce(older_than=timedelta(0)) == 0

    assert questions() == []


def test_a_history_load_asks_no_one_even_when_the_author_links_later(
    settings, team, repository, graphql, member, clock, django_capture_on_commit_callbacks
):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = API
    settings.TFORMANCE_HISTORY_DAYS = 0
    team_member_link(team=team, user=member, github_user=AUTHOR)
    graphql.add(
        *[
            pr_node(
                number=n,
                state="MERGED",
                created_at="2025-01-06T10:00:00Z",
                updated_at=f"2025-01-07T1{n}:00:00Z",
                merged_at=f"2025-01-07T1{n}:00:00Z",
                closed_at=f"2025-01-07T1{n}:00:00Z",
            )
            for n in range(1, 4)
        ]
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = history.history_run_start(repository=repository)
        integration_tasks.continue_history_run(run.pk)
    assert PullRequestEvent.objects.filter(kind="merged", live=False).count() == 3
    # Linked again (to another account and back): still history.
    team_member_link(team=team, user=None, member_id=TeamMember.objects.get(login="Codertocat").pk)
    with django_capture_on_commit_callbacks(execute=True):
        team_member_link(team=team, user=member, github_user=AUTHOR)

    assert questions() == []
    assert mail.outbox == []


# --- linked later ---------------------------------------------------------------------


def test_an_author_who_links_later_is_asked_about_the_last_14_days_merges(
    deliver,
    client,
    repository,
    team,
    owner,
    member,
    clock,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.PUBLIC_BASE_URL = "https://metrics.example.com"
    member.email = "bob@example.com"
    member.save(update_fields=["email"])
    deliver("pull_request", merged(1, at="2024-12-20T10:00:00Z"))  # 19 days ago
    deliver("pull_request", merged(2, at="2024-12-26T10:00:00Z"))  # 13 days ago
    deliver("pull_request", merged(3, at="2025-01-07T10:00:00Z"))
    assert questions() == []

    client.force_login(owner)
    person = TeamMember.objects.get(login="Codertocat")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/teams/acme/members/github/link/",
            {"person": str(person.pk), "account": str(member.pk)},
        )

    assert response.status_code == 302
    assert questions() == [(2, "bob", Status.ASKED), (3, "bob", Status.ASKED)]
    # One email with both.
    (email,) = mail.outbox
    assert email.subject == "2 of your merged pull requests: how much was written with AI?"
    assert "acme/api#2" in email.body and "acme/api#3" in email.body
    assert email.body.count("answer=none") == 2
    # A later merge is asked as usual, once.
    deliver("pull_request", merged(4))
    deliver("pull_request", merged(4))
    assert [n for n, *_ in questions()] == [2, 3, 4]
    assert len(mail.outbox) == 2


def test_linking_later_keeps_the_weekly_cap(deliver, repository, team, member, clock):
    team.merge_questions_per_week = 2
    team.save()
    for n in range(1, 6):
        deliver("pull_request", merged(n, at=f"2025-01-0{n + 1}T10:00:00Z"))

    team_member_link(team=team, user=member, github_user=AUTHOR)

    statuses = [status for _, _, status in questions()]
    assert statuses.count(Status.ASKED) == 2
    assert statuses.count(Status.NOT_ASKED) == 3
    assert set(
        MergeQuestion.objects.values_list("not_asked_reason", "sample_probability").filter(
            status=Status.NOT_ASKED
        )
    ) == {("sampled_out", 0.4)}


def test_the_email_after_a_link_is_retried_by_its_task(
    deliver,
    repository,
    team,
    member,
    clock,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from django.core.mail import EmailMultiAlternatives

    settings.PUBLIC_BASE_URL = "https://metrics.example.com"
    member.email = "bob@example.com"
    member.save(update_fields=["email"])
    deliver("pull_request", merged(3, at="2025-01-07T10:00:00Z"))
    real_send = EmailMultiAlternatives.send
    failures = iter([TimeoutError("mail server slow")])

    def flaky_send(self, fail_silently=False):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_send(self, fail_silently=fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky_send)

    with django_capture_on_commit_callbacks(execute=True):
        team_member_link(team=team, user=member, github_user=AUTHOR)

    assert questions() == [(3, "bob", Status.ASKED)]
    assert len(mail.outbox) == 1
    assert MergeQuestion.objects.get().emailed_at is not None
