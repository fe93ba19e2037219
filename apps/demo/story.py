"""What happens in the demo organisation over 90 days, as the webhook
deliveries GitHub would have sent, oldest first.

Deterministic: the same seed and the same anchor give the same deliveries, with
the same delivery ids, so the demo run twice stores each once. The anchor is the
start of the current UTC day, and nothing after it is sent."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.demo import payloads
from github_app import webhook_payloads as github_payloads

ORGANIZATION = payloads.organization("tformance-demo", 91900019)
INSTALLATION_ID = 91900019
DAYS = 90
SEED = 19
# Names the delivery ids, so they are the same on every run.
_DELIVERY_NAMESPACE = uuid.UUID("6f1d3c8e-19a0-4c5e-9d5b-7d3f0c1e2a19")


@dataclass(frozen=True)
class Repo:
    github_id: int
    full_name: str
    tracked: bool
    first_number: int

    @property
    def payload(self) -> dict[str, Any]:
        return payloads.repository(
            github_id=self.github_id, full_name=self.full_name, owner=ORGANIZATION
        )

    @property
    def stub(self) -> dict[str, Any]:
        return payloads.repository_stub(github_id=self.github_id, full_name=self.full_name)


REPOSITORIES = (
    Repo(91901, "tformance-demo/api", tracked=True, first_number=412),
    Repo(91902, "tformance-demo/web", tracked=True, first_number=1187),
    Repo(91903, "tformance-demo/mobile", tracked=True, first_number=236),
    # Granted on GitHub, not tracked: its events are stored and ignored.
    Repo(91904, "tformance-demo/sandbox", tracked=False, first_number=12),
)
TRACKED = tuple(repo for repo in REPOSITORIES if repo.tracked)
# The api deploys with GitHub deployments, each weekday afternoon when there is
# something new; the others have none (their source is their merges).
DEPLOYED = REPOSITORIES[0]
DEPLOY_HOUR = timedelta(hours=16, minutes=30)
# The first deployment from this day fails (and is deployed again, working);
# the first from the other is rolled back.
FAILED_DAY, ROLLBACK_DAY = 38, 61

PEOPLE = (
    payloads.user("amara-okafor", 7190101),
    payloads.user("bruno-lima", 7190102),
    payloads.user("chen-wei", 7190103),
    payloads.user("dana-kovacs", 7190104),
    payloads.user("eli-brennan", 7190105),
    payloads.user("farah-haddad", 7190106),
)
BOT = payloads.user("dependabot[bot]", 49699333, kind="Bot")
# GitHub's Copilot coding agent (it opens pull requests as "Copilot"), and
# Copilot's code review: AI, unlike dependabot (docs/ai.md).
AGENT = payloads.user("Copilot", 198982749, kind="Bot")
AI_REVIEWER = payloads.user("copilot-pull-request-reviewer[bot]", 175728472, kind="Bot")
CLAUDE_MARKER = "🤖 Generated with [Claude Code](https://claude.com/claude-code)"
ADMIN_ON_GITHUB = PEOPLE[0]

# Each repository's work: (change, branch) templates crossed with the areas it
# touches, so ninety days read like a real backlog, not one title repeated.
_CHANGES = [
    ("Add pagination to {area}", "paginate-{slug}"),
    ("Cache {area} lookups", "cache-{slug}"),
    ("Validate {area} input", "validate-{slug}"),
    ("Speed up the {area} list", "faster-{slug}"),
    ("Fix time zones in {area}", "tz-{slug}"),
    ("Add an audit trail to {area}", "audit-{slug}"),
    ("Move {area} into its own module", "split-{slug}"),
    ("Test {area} edge cases", "test-{slug}"),
    ("Log slow {area} queries", "slow-{slug}"),
    ("Clean up {area} error messages", "errors-{slug}"),
]
_AREAS = {
    "tformance-demo/api": [
        "invoices",
        "refunds",
        "orders",
        "sessions",
        "tax rules",
        "exports",
        "payments",
        "customers",
        "rate limits",
        "webhooks",
    ],
    "tformance-demo/web": [
        "checkout",
        "the account pages",
        "signup",
        "search",
        "the cart",
        "order history",
        "the product page",
    ],
    "tformance-demo/mobile": [
        "the offline queue",
        "push notifications",
        "login",
        "the cart screen",
        "app start",
    ],
    "tformance-demo/sandbox": ["the linter trial", "the GraphQL spike", "design tokens"],
}
_HOTFIXES = [
    ("Hotfix: totals rounded twice on discounted orders", "hotfix/double-rounding"),
    ("Hotfix: login loop after password reset", "hotfix/reset-loop"),
    ("Hotfix: crash on orders without an address", "hotfix/missing-address"),
    ("Hotfix: wrong currency on receipts", "hotfix/receipt-currency"),
]
_BUMPS = ["django", "celery", "pytest", "react", "typescript", "eslint", "kotlin-stdlib"]


@dataclass(frozen=True)
class DemoDelivery:
    """One webhook delivery: its event, its body, and a name that fixes its id."""

    key: str
    event: str
    at: datetime
    payload: dict[str, Any]

    @property
    def delivery_id(self) -> str:
        return str(uuid.uuid5(_DELIVERY_NAMESPACE, self.key))


@dataclass(frozen=True)
class PlannedReview:
    github_id: int
    reviewer: dict[str, Any]
    state: str
    at: datetime
    dismissed_at: datetime | None = None
    body: str | None = None


@dataclass
class PlannedPullRequest:
    repo: Repo
    github_id: int
    number: int
    title: str
    body: str
    author: dict[str, Any]
    head_ref: str
    created_at: datetime
    draft_until: datetime | None = None
    labels: list[str] = field(default_factory=list)
    requested: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[datetime] = field(default_factory=list)
    reviews: list[PlannedReview] = field(default_factory=list)
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merged_by: dict[str, Any] | None = None
    additions: int = 40
    deletions: int = 10

    @property
    def is_revert(self) -> bool:
        return self.title.startswith('Revert "')

    def snapshot(self, at: datetime) -> dict[str, Any]:
        """The pull request as GitHub showed it at ``at``."""
        pushes = sum(1 for push in self.pushes if push <= at)
        merged = self.merged_at if self.merged_at and self.merged_at <= at else None
        closed = self.closed_at if self.closed_at and self.closed_at <= at else None
        closed = merged or closed
        return payloads.pull_request(
            github_id=self.github_id,
            number=self.number,
            title=self.title,
            body=self.body,
            author=self.author,
            repo=self.repo.payload,
            head_ref=self.head_ref,
            created_at=self.created_at,
            updated_at=at,
            state="closed" if closed else "open",
            draft=self.draft_until is not None and at < self.draft_until,
            merged_at=merged,
            closed_at=closed,
            labels=self.labels,
            requested_reviewers=[] if closed else self.requested,
            additions=self.additions + 12 * pushes,
            deletions=self.deletions + 3 * pushes,
            commits=1 + pushes,
        )

    def deliveries(self) -> list[DemoDelivery]:
        key = f"{self.repo.full_name}#{self.number}"
        out: list[DemoDelivery] = []

        def pr_event(action: str, at: datetime, sender: dict[str, Any], **extra: Any) -> None:
            body: dict[str, Any] = {
                "action": action,
                "number": self.number,
                "pull_request": self.snapshot(at),
                **extra,
                "repository": self.repo.payload,
                "installation": payloads.installation_ref(INSTALLATION_ID),
                "sender": sender,
            }
            if action == "closed" and self.merged_at is not None:
                body["pull_request"]["merged_by"] = self.merged_by or self.author
            out.append(DemoDelivery(f"{key}:{action}:{payloads.iso(at)}", "pull_request", at, body))

        def review_event(action: str, review: PlannedReview, at: datetime, state: str) -> None:
            body = {
                "action": action,
                "review": payloads.review(
                    github_id=review.github_id,
                    reviewer=review.reviewer,
                    state=state,
                    submitted_at=review.at,
                    pull_request_object=self.snapshot(at),
                    body=review.body,
                ),
                "pull_request": payloads.review_copy(self.snapshot(at)),
                "repository": self.repo.payload,
                "installation": payloads.installation_ref(INSTALLATION_ID),
                "sender": review.reviewer if action == "submitted" else self.author,
            }
            out.append(
                DemoDelivery(
                    f"{key}:review-{review.github_id}:{action}", "pull_request_review", at, body
                )
            )

        pr_event("opened", self.created_at, self.author)
        for index in range(len(self.labels)):
            at = self.created_at + timedelta(seconds=30 * (index + 1))
            label = self.snapshot(at)["labels"][index]
            pr_event("labeled", at, self.author, label=label)
        if self.draft_until is not None:
            pr_event("ready_for_review", self.draft_until, self.author)
        for push in self.pushes:
            pr_event("synchronize", push, self.author, before="0" * 40, after="f" * 40)
        for review in self.reviews:
            review_event("submitted", review, review.at, review.state)
            if review.dismissed_at is not None:
                review_event("dismissed", review, review.dismissed_at, "dismissed")
        if self.merged_at is not None:
            pr_event("closed", self.merged_at, self.merged_by or self.author)
        elif self.closed_at is not None:
            pr_event("closed", self.closed_at, self.author)
        return out


class _Planner:
    def __init__(self, *, anchor: datetime, seed: int) -> None:
        # A story, not a secret: the same seed must give the same deliveries.
        self.rng = random.Random(seed)  # noqa: S311
        self.anchor = anchor
        self.start = anchor - timedelta(days=DAYS)
        self.numbers = {repo.full_name: repo.first_number for repo in REPOSITORIES}
        self.next_pr_id = 1919000000
        self.next_review_id = 2919000000
        self.used_titles: dict[tuple[tuple[str, str], str], int] = {}
        # Whether the story has a draft still open at its end (one at least, whatever the day).
        self.open_draft = False
        self.pulls: list[PlannedPullRequest] = []

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(seconds=int(self.rng.uniform(low, high) * 3600))

    def new_pull(
        self, *, repo: Repo, author: dict[str, Any], title: str, head: str, at: datetime, body: str
    ) -> PlannedPullRequest:
        number = self.numbers[repo.full_name]
        self.numbers[repo.full_name] += 1
        self.next_pr_id += 1
        pull = PlannedPullRequest(
            repo=repo,
            github_id=self.next_pr_id,
            number=number,
            title=title,
            body=body,
            author=author,
            head_ref=head,
            created_at=at,
            additions=self.rng.randint(5, 400),
            deletions=self.rng.randint(0, 120),
        )
        self.pulls.append(pull)
        return pull

    def review(
        self,
        pull: PlannedPullRequest,
        reviewer: dict[str, Any],
        state: str,
        at: datetime,
        **kw: Any,
    ) -> PlannedReview:
        self.next_review_id += 1
        review = PlannedReview(self.next_review_id, reviewer, state, at, **kw)
        pull.reviews.append(review)
        return review

    def work_title(self, repo: Repo) -> tuple[str, str]:
        """A change to an area of the repository, each pair used once while any is left."""
        pairs = [(change, area) for change in _CHANGES for area in _AREAS[repo.full_name]]
        fresh = [pair for pair in pairs if pair not in self.used_titles]
        (title, branch), area = self.rng.choice(fresh or pairs)
        self.used_titles[((title, branch), area)] = 1
        slug = area.removeprefix("the ").replace(" ", "-")
        title = title.format(area=area)
        return title[0].upper() + title[1:], branch.format(slug=slug)

    def human_pull(self, at: datetime, *, hotfix: bool = False) -> PlannedPullRequest:
        rng = self.rng
        repo = rng.choices(TRACKED, weights=[5, 3, 2])[0]
        if hotfix:
            # Hotfixes go to the api, the repository that deploys: each ships.
            repo = DEPLOYED
        author = rng.choice(PEOPLE)
        if hotfix:
            title, head = rng.choice(_HOTFIXES)
            body = "Customers hit this in production. Minimal fix, test added."
        else:
            title, head = self.work_title(repo)
            head = f"{author['login'].split('-')[0]}/{head}"
            body = f"{title}.\n\nTested locally and on staging."
        pull = self.new_pull(repo=repo, author=author, title=title, head=head, at=at, body=body)
        if hotfix:
            pull.labels = ["hotfix"]
        elif rng.random() < 0.2:
            pull.labels = [rng.choice(["enhancement", "bug", "tech-debt"])]
        others = [person for person in PEOPLE if person is not author]
        reviewers = rng.sample(others, 2 if rng.random() < 0.35 else 1)
        pull.requested = list(reviewers)
        if not hotfix and (rng.random() < 0.04 or at > self.anchor - timedelta(days=3)):
            # Waiting for its first review; some still drafts (made ready after
            # the anchor, so never within the story).
            if rng.random() < 0.4 or not self.open_draft:
                pull.draft_until = self.anchor + timedelta(days=30)
                self.open_draft = True
            return pull
        ready = at
        if not hotfix and rng.random() < 0.22:
            ready = at + self.hours(2, 30)
            pull.draft_until = ready
        moment = ready + (self.hours(0.2, 2) if hotfix else self.hours(0.5, 28))
        first = reviewers[0]
        roll = rng.random()
        if not hotfix and roll < 0.2:
            self.review(pull, first, "changes_requested", moment, body="A few things to change.")
            push = moment + self.hours(1, 8)
            pull.pushes.append(push)
            moment = push + self.hours(0.5, 10)
            self.review(pull, first, "approved", moment)
        elif not hotfix and roll < 0.3:
            # New commits after an approval: the stale approval is dismissed.
            approval = self.review(
                pull, first, "approved", moment, dismissed_at=moment + self.hours(2, 6)
            )
            push = approval.dismissed_at - timedelta(seconds=20)  # type: ignore[operator]
            pull.pushes.append(push)
            moment = approval.dismissed_at + self.hours(0.5, 6)  # type: ignore[operator]
            self.review(pull, first, "approved", moment)
        else:
            state = "commented" if roll > 0.93 else "approved"
            self.review(pull, first, state, moment)
            if state == "commented":
                moment += self.hours(1, 6)
                self.review(pull, first, "approved", moment)
        for extra in reviewers[1:]:
            self.review(pull, extra, "approved", moment + self.hours(0.1, 4))
            moment = max(r.at for r in pull.reviews)
        outcome = rng.random()
        if not hotfix and outcome < 0.05:
            pass  # reviewed, still open (waiting for a rebase, or for CI)
        elif not hotfix and outcome < 0.13:
            pull.closed_at = moment + self.hours(1, 30)
        else:
            pull.merged_at = moment + (self.hours(0.1, 1) if hotfix else self.hours(0.2, 8))
            pull.merged_by = rng.choice([author, first])
        return pull

    def bot_pull(self, at: datetime) -> PlannedPullRequest:
        rng = self.rng
        repo = rng.choice(TRACKED[:2])
        package = rng.choice(_BUMPS)
        old = f"{rng.randint(1, 5)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"
        new = old.rsplit(".", 1)[0] + f".{int(old.rsplit('.', 1)[1]) + 1}"
        pull = self.new_pull(
            repo=repo,
            author=BOT,
            title=f"Bump {package} from {old} to {new}",
            head=f"dependabot/pip/{package}-{new}",
            at=at,
            body=f"Bumps {package} from {old} to {new}.",
        )
        pull.labels = ["dependencies"]
        reviewer = rng.choice(PEOPLE)
        moment = at + self.hours(1, 20)
        self.review(pull, reviewer, "approved", moment)
        pull.merged_at = moment + self.hours(0.1, 2)
        pull.merged_by = reviewer
        return pull

    def revert_of(self, target: PlannedPullRequest) -> PlannedPullRequest:
        assert target.merged_at is not None  # noqa: S101
        rng = self.rng
        author = rng.choice([p for p in PEOPLE if p is not target.author])
        at = target.merged_at + self.hours(2, 8)
        pull = self.new_pull(
            repo=target.repo,
            author=author,
            title=f'Revert "{target.title}"',
            head=f"revert-{target.number}-{target.head_ref}",
            at=at,
            body=(
                f"Reverts {target.repo.full_name}#{target.number}\n\n"
                "It broke checkout for orders with a discount; reverting while we look."
            ),
        )
        moment = at + self.hours(0.2, 1)
        self.review(pull, target.author, "approved", moment)
        pull.merged_at = moment + self.hours(0.1, 0.5)
        pull.merged_by = author
        return pull

    def plan(self) -> list[PlannedPullRequest]:
        rng = self.rng
        hotfix_days = set(rng.sample(range(10, DAYS - 3), len(_HOTFIXES)))
        for day in range(DAYS):
            date = self.start + timedelta(days=day)
            if date.weekday() >= 5:
                continue
            if date.weekday() == 0:
                self.bot_pull(date + timedelta(hours=5, minutes=rng.randint(0, 50)))
            for _ in range(rng.choice([0, 1, 1, 1, 2, 2])):
                self.human_pull(date + self.hours(8, 18))
            if day in hotfix_days:
                self.human_pull(date + self.hours(9, 17), hotfix=True)
        # Two reverts, each linked to the merged pull request it undoes.
        merged = [
            p
            for p in self.pulls
            if p.merged_at and p.author is not BOT and not p.labels and p.merged_at.day
        ]
        # One within the last 30 days, so the team page's figures show one.
        for target in (merged[len(merged) // 3], merged[(9 * len(merged)) // 10]):
            self.revert_of(target)
        # A few pull requests in the untracked repository.
        sandbox = REPOSITORIES[3]
        for day in (20, 47, 71):
            title, head = self.work_title(sandbox)
            pull = self.new_pull(
                repo=sandbox,
                author=rng.choice(PEOPLE),
                title=title,
                head=head,
                at=self.start + timedelta(days=day, hours=11),
                body="Experiment, not for merging.",
            )
            pull.closed_at = pull.created_at + self.hours(20, 60)
        return self.pulls


def _ai_story(planner: _Planner, *, seed: int) -> None:
    """AI in the story, drawn from its own random sequence (the rest of the story
    stays as it was): Copilot's coding agent opens a pull request most weeks, a
    person reviews and merges it; Copilot's code review comments on some
    people's pull requests (AI reviews, never a first review); some people label
    theirs `ai-assisted` or leave Claude Code's marker in the description. The
    commits, with their AI co-authors, come after the deliveries (apps/demo/commits.py)."""
    people_pulls = [p for p in planner.pulls if p.author in PEOPLE and not p.is_revert]
    planner.rng = random.Random(seed * 1000 + 26)  # noqa: S311
    rng = planner.rng
    for pull in people_pulls:
        roll = rng.random()
        if roll < 0.08 and "hotfix" not in pull.labels:
            pull.labels = [*pull.labels, "ai-assisted"]
        elif roll < 0.16:
            pull.body = f"{pull.body}\n\n{CLAUDE_MARKER}"
        if pull.reviews and rng.random() < 0.25:
            first = min(review.at for review in pull.reviews)
            at = max(pull.created_at + timedelta(minutes=5), first - timedelta(minutes=20))
            planner.review(pull, AI_REVIEWER, "commented", at)
    for week in range(1, DAYS // 7):
        if rng.random() < 0.25:
            continue
        at = planner.start + timedelta(days=7 * week + rng.randint(0, 4), hours=rng.randint(8, 17))
        repo = rng.choice(TRACKED[:2])
        title, head = planner.work_title(repo)
        pull = planner.new_pull(
            repo=repo,
            author=AGENT,
            title=title,
            head=f"copilot/{head}",
            at=at,
            body=f"{title}.\n\nCreated by Copilot coding agent for the issue assigned to it.",
        )
        reviewer = rng.choice(PEOPLE)
        planner.review(pull, AI_REVIEWER, "commented", at + planner.hours(0.1, 0.5))
        moment = at + planner.hours(1, 20)
        planner.review(pull, reviewer, "approved", moment)
        if at > planner.anchor - timedelta(days=2):
            continue  # still open at the story's end
        pull.merged_at = moment + planner.hours(0.2, 4)
        pull.merged_by = reviewer


def _deployment(deployment_id: int, sha: str, finished: datetime, state: str) -> list[DemoDelivery]:
    """A GitHub deployment of the api to production: created, then its final status."""
    created = finished - timedelta(minutes=9)
    fields = {
        "deployment_id": deployment_id,
        "sha": sha,
        "environment": "production",
        "production_environment": True,
        "created_at": payloads.iso(created),
        "repository_id": DEPLOYED.github_id,
        "repository_full_name": DEPLOYED.full_name,
        "installation_id": INSTALLATION_ID,
    }
    deployment = github_payloads.deployment_payload(**fields)
    status = github_payloads.deployment_status_payload(
        state=state, status_id=deployment_id, status_at=payloads.iso(finished), **fields
    )
    for body in (deployment, status):
        body["repository"] = DEPLOYED.payload
        body["sender"] = ADMIN_ON_GITHUB
    return [
        DemoDelivery(f"deployment:{deployment_id}", "deployment", created, deployment),
        DemoDelivery(f"deployment:{deployment_id}:{state}", "deployment_status", finished, status),
    ]


def _deployments(pulls: list[PlannedPullRequest], *, start: datetime) -> list[DemoDelivery]:
    """The api's deployments: each weekday at 16:30 UTC its newest merge, when
    new; one fails (and is deployed again), one is rolled back to the commit
    before it; the hotfixes ship with the next one."""
    merged = sorted(
        (pull for pull in pulls if pull.repo is DEPLOYED and pull.merged_at is not None),
        key=lambda pull: pull.merged_at,  # type: ignore[arg-type, return-value]
    )
    out: list[DemoDelivery] = []
    next_id = 3919000000
    live: str | None = None
    failed = rolled_back = False
    for day in range(DAYS):
        at = start + timedelta(days=day) + DEPLOY_HOUR
        heads = [pull for pull in merged if pull.merged_at and pull.merged_at < at]
        if at.weekday() >= 5 or not heads:
            continue
        sha = payloads.merge_commit_sha(heads[-1].github_id)
        if sha == live:
            continue
        next_id += 1
        if day >= FAILED_DAY and not failed:
            out += _deployment(next_id, sha, at, "failure")
            next_id += 1
            out += _deployment(next_id, sha, at + timedelta(hours=2), "success")
            failed = True
        elif day >= ROLLBACK_DAY and not rolled_back and live is not None:
            out += _deployment(next_id, sha, at, "success")
            next_id += 1
            # Something is wrong: back to what ran before, until a fix ships.
            out += _deployment(next_id, live, at + timedelta(hours=3), "success")
            rolled_back = True
            continue
        else:
            out += _deployment(next_id, sha, at, "success")
        live = sha
    return out


def demo_anchor(now: datetime | None = None) -> datetime:
    """The end of the demo's 90 days: the start of the current UTC day."""
    now = (now or datetime.now(tz=UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def demo_deliveries(*, anchor: datetime, seed: int = SEED) -> list[DemoDelivery]:
    """Every delivery of the story, oldest first: the installation, a ping, then
    the pull requests' and reviews' events up to ``anchor``."""
    start = anchor - timedelta(days=DAYS + 1)
    setup = [
        DemoDelivery(
            "installation:created",
            "installation",
            start,
            payloads.installation_created(
                installation_id=INSTALLATION_ID,
                account=ORGANIZATION,
                repositories=[repo.stub for repo in REPOSITORIES],
                sender=ADMIN_ON_GITHUB,
                created=start,
            ),
        ),
        DemoDelivery(
            "ping",
            "ping",
            start + timedelta(seconds=5),
            payloads.ping(
                installation_id=INSTALLATION_ID,
                sender=ADMIN_ON_GITHUB,
                created=start,
            ),
        ),
    ]
    planner = _Planner(anchor=anchor, seed=seed)
    planner.plan()
    _ai_story(planner, seed=seed)
    pulls = planner.pulls
    events = [
        delivery
        for delivery in [
            *(delivery for pull in pulls for delivery in pull.deliveries()),
            *_deployments(pulls, start=anchor - timedelta(days=DAYS)),
        ]
        if delivery.at < anchor
    ]
    events.sort(key=lambda delivery: (delivery.at, delivery.key))
    return setup + events
