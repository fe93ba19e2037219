"""The delivery log: team admins see their team's deliveries and can retry
failed ones; staff see every delivery, unrouted ones too."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.integrations.models import Installation, WebhookDelivery
from apps.teams.models import Team
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import installation_repositories_event, ping_event

pytestmark = pytest.mark.django_db

TEAM_LOG = "/teams/acme/github/deliveries/"
ALL_LOG = "/github/deliveries/"


@pytest.fixture
def routed(deliver, team):
    """One processed delivery of the team's installation, one of another team's,
    and one unrouted ping."""
    installation_for(team=team, installation_id=77, login="acme-org")
    installation_for(
        team=Team.objects.create(name="Globex", slug="globex"), installation_id=88, login="globex"
    )
    deliver(
        "installation_repositories",
        installation_repositories_event(action="added", installation_id=77),
        delivery_id="ours",
    )
    deliver(
        "installation_repositories",
        installation_repositories_event(action="added", installation_id=88),
        delivery_id="theirs",
    )
    deliver("ping", ping_event(), delivery_id="unrouted")


@pytest.fixture
def failed(deliver, team):
    """A delivery of the team that failed (a repository without a name) and
    whose automatic retries are exhausted."""
    installation_for(team=team, installation_id=77, login="acme-org")
    deliver(
        "installation_repositories",
        installation_repositories_event(
            action="added", installation_id=77, added=[{"id": 501, "name": "x"}]
        ),
        delivery_id="broken",
    )
    delivery = WebhookDelivery.objects.get(delivery_id="broken")
    delivery.next_attempt_at = None
    delivery.save()
    return delivery


def test_it_shows_a_team_admin_the_teams_deliveries_only(client, owner, routed):
    client.force_login(owner)

    response = client.get(TEAM_LOG)

    assert response.status_code == 200
    shown = {d.delivery_id for d in response.context["deliveries"].rows}
    assert shown == {"ours"}
    assert b"installation_repositories.added" in response.content
    assert b"Processed" in response.content
    assert b'href="/teams/acme/github/deliveries/">Webhook deliveries</a>' in response.content


def test_it_filters_the_log_by_status(client, owner, routed, failed):
    client.force_login(owner)

    response = client.get(TEAM_LOG, {"status": "failed"})

    assert [d.delivery_id for d in response.context["deliveries"].rows] == ["broken"]


def test_it_shows_the_error_and_a_retry_button_for_a_failed_delivery(client, owner, failed):
    client.force_login(owner)

    response = client.get(TEAM_LOG)

    assert b"repositories[].full_name is not a repository name" in response.content
    assert f"/teams/acme/github/deliveries/{failed.pk}/retry/".encode() in response.content


def test_it_refuses_the_log_to_a_member_who_is_not_admin(client, member, routed):
    client.force_login(member)

    assert client.get(TEAM_LOG).status_code == 403


def test_it_hides_the_log_from_an_outsider(client, outsider, routed):
    client.force_login(outsider)

    assert client.get(TEAM_LOG).status_code == 404


def test_it_sends_anonymous_visitors_to_log_in(client, routed):
    assert client.get(TEAM_LOG).status_code == 302
    assert client.get(ALL_LOG).status_code == 302


def test_it_retries_a_failed_delivery(client, owner, failed, django_capture_on_commit_callbacks):
    # The repository's name is fixed in the stored payload, as a support person would.
    failed.payload = failed.payload.replace('"name": "x"', '"name": "x", "full_name": "acme-org/x"')
    failed.save()
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{TEAM_LOG}{failed.pk}/retry/")

    failed.refresh_from_db()
    assert response.status_code == 302
    assert (failed.status, failed.attempts, failed.last_error) == ("processed", 2, "")


def test_it_does_not_retry_a_delivery_that_has_not_failed(client, owner, routed):
    client.force_login(owner)
    ours = WebhookDelivery.objects.get(delivery_id="ours")

    response = client.post(f"{TEAM_LOG}{ours.pk}/retry/", follow=True)

    ours.refresh_from_db()
    assert (ours.status, ours.attempts) == ("processed", 1)
    assert b"has not failed" in response.content


def test_it_lets_no_one_retry_another_teams_delivery(client, owner, routed):
    client.force_login(owner)
    theirs = WebhookDelivery.objects.get(delivery_id="theirs")

    assert client.post(f"{TEAM_LOG}{theirs.pk}/retry/").status_code == 404


def test_it_lets_only_admins_retry(client, member, failed):
    client.force_login(member)

    assert client.post(f"{TEAM_LOG}{failed.pk}/retry/").status_code == 403
    failed.refresh_from_db()
    assert failed.attempts == 1


def test_it_shows_staff_every_delivery_including_unrouted_ones(client, routed):
    staff = get_user_model().objects.create_user("sam", password="pw", is_staff=True)
    client.force_login(staff)

    response = client.get(ALL_LOG)

    assert response.status_code == 200
    assert {d.delivery_id for d in response.context["deliveries"].rows} == {
        "ours",
        "theirs",
        "unrouted",
    }
    assert b"unrouted" in response.content


def test_it_refuses_the_full_log_to_non_staff(client, owner, routed):
    client.force_login(owner)

    assert client.get(ALL_LOG).status_code == 403


def test_it_never_shows_payloads_in_the_log(client, owner, team, deliver):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    repository_for(installation=installation, github_id=501, full_name="acme-org/hello")
    deliver(
        "installation_repositories",
        {**installation_repositories_event(action="added", installation_id=77), "secretish": "s3"},
    )
    client.force_login(owner)

    assert b"secretish" not in client.get(TEAM_LOG).content


def test_it_refuses_to_retry_once_the_installation_left_the_team(client, owner, team, failed):
    rivals = Team.objects.create(name="Rivals", slug="rivals")
    Installation.objects.filter(installation_id=77).update(team=rivals)
    client.force_login(owner)

    response = client.post(f"{TEAM_LOG}{failed.pk}/retry/", follow=True)

    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.team) == ("failed", 1, team)
    assert b"no longer connected to this team" in response.content


# --- pages -------------------------------------------------------------------------


@pytest.fixture
def many(team):
    """231 deliveries of the team, a minute apart; every third one ignored."""
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 3, 1, tzinfo=UTC)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            delivery_id=f"d-{n:03}",
            event="ping",
            team=team,
            payload="{}",
            received_at=start + timedelta(minutes=n),
            status="ignored" if n % 3 == 0 else "processed",
        )
        for n in range(231)
    )


def _ids(response) -> list[str]:
    return [d.delivery_id for d in response.context["deliveries"].rows]


def test_it_pages_the_log_and_says_what_it_shows(client, owner, many):
    client.force_login(owner)

    first = client.get(TEAM_LOG)
    assert _ids(first) == [f"d-{n:03}" for n in range(230, 130, -1)]
    page = first.content.decode()
    assert "Deliveries 1\u2013100 of 231, newest first." in page
    assert "Page 1 of 3" in page
    assert 'href="?page=2" rel="next"' in page

    second = client.get(TEAM_LOG, {"page": "2"})
    assert _ids(second) == [f"d-{n:03}" for n in range(130, 30, -1)]
    assert "Deliveries 101\u2013200 of 231" in second.content.decode()

    last = client.get(TEAM_LOG, {"page": "3"})
    assert _ids(last) == [f"d-{n:03}" for n in range(30, -1, -1)]
    page = last.content.decode()
    assert 'rel="next"' not in page
    assert 'href="?page=2" rel="prev"' in page


def test_it_keeps_the_status_filter_from_page_to_page(client, owner, many):
    client.force_login(owner)
    response = client.get(TEAM_LOG, {"status": "ignored", "page": "1"})
    page = response.content.decode()
    assert "of 77," in page
    assert len(_ids(response)) == 77
    assert 'rel="next"' not in page

    response = client.get(TEAM_LOG, {"status": "processed"})
    assert 'href="?status=processed&amp;page=2" rel="next"' in response.content.decode()


def test_it_says_a_page_past_the_end_is_empty(client, owner, many):
    client.force_login(owner)
    response = client.get(TEAM_LOG, {"page": "9"})
    assert response.status_code == 200
    assert "No deliveries on page 9: there are 3 pages." in response.content.decode()


@pytest.mark.parametrize("page", ["0", "-1", "abc", "٢", "1_0", "9999999", "2\x00", ""])
def test_it_refuses_a_page_that_is_not_a_number(client, owner, many, page):
    client.force_login(owner)
    response = client.get(TEAM_LOG, {"page": page})
    assert response.status_code == 400
    assert "&#x27;page&#x27; must be a whole number" in response.content.decode()


def test_it_pages_the_staff_log_too(client, many):
    staff = get_user_model().objects.create_user("olga", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get(ALL_LOG, {"page": "3"})
    assert len(_ids(response)) == 31
