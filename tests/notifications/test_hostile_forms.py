"""Every form of the pages this wave added, posted by an admin as the page
shows it but with each field the person types given hostile values (numbers
out of range, NUL bytes, non-ASCII digits, empty and very long values, a list
where one value is expected); and the figures' query parameters likewise.
None may answer 5xx."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from apps.metrics.models import Squad, TeamMember

HOSTILE = [
    "",
    "\x00",
    "a\x00b",
    "\u0663",  # an Arabic-Indic digit three
    "\uff11\uff12",  # full-width digits one and two
    "-1",
    "99999999999999999999",
    "1e309",
    "x" * 100_000,
    "<script>",
    "25:99",
    "9999-99-99",
    "Europe/Nowhere",
]
PAGES = [
    "/teams/acme/settings/",
    "/teams/acme/squads/",
    "/teams/acme/ai-rules/",
    "/teams/acme/deployments/settings/",
    "/teams/acme/slack/",
    "/teams/acme/webhooks/",
]
QUERIES = [
    "/teams/acme/",
    "/teams/acme/pull-requests/",
    "/teams/acme/pull-requests.csv",
    "/teams/acme/deployments/",
    "/api/teams/acme/metrics/",
    "/api/teams/acme/deployments/",
]
PARAMETERS = ["days", "from", "to", "hours", "squad", "person", "repository", "figure", "value"]


class _Forms(HTMLParser):
    """The page's POST forms: each one's action, its hidden fields as they
    are, and the names of the fields a person fills."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str], set[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self.forms.append((found.get("action") or "", {}, set()))
        elif tag in ("input", "select", "textarea") and self.forms and found.get("name"):
            _, hidden, filled = self.forms[-1]
            name = found["name"] or ""
            if found.get("type") == "hidden":
                hidden[name] = found.get("value") or ""
            elif found.get("type") != "submit":
                filled.add(name)


@pytest.fixture
def squad(team):
    squad = Squad.objects.create(team=team, name="Web")
    squad.members.add(TeamMember.objects.create(team=team, github_id=7, login="ruth"))
    return squad


def test_no_form_answers_5xx_to_hostile_values(client, owner, connected, squad):
    client.force_login(owner)
    posted = 0
    for page in PAGES:
        parser = _Forms()
        parser.feed(client.get(page).content.decode())
        for action, hidden, filled in parser.forms:
            url = action or page
            if "logout" in url:
                continue  # the menu's: it would end the session
            for value in HOSTILE:
                for sent in (value, [value, value]):
                    data = {**hidden, **{name: sent for name in filled}}
                    response = client.post(url, data)
                    assert response.status_code < 500, (url, sorted(filled), value[:20])
                    posted += 1
    # Every page's forms were found (the settings, squads, AI rules, deployment
    # sources, Slack with its squad, and webhooks).
    assert posted > 300, posted


def test_no_query_answers_5xx_to_hostile_values(client, owner, squad):
    client.force_login(owner)
    for value in HOSTILE:
        for page in QUERIES:
            for name in PARAMETERS:
                response = client.get(page, {name: value})
                assert response.status_code < 500, (page, name, value[:20])
