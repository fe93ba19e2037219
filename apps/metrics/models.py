from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce


class TeamMember(models.Model):
    """A GitHub user as seen by one team: an author or a reviewer.

    Keyed by GitHub's user id (logins change); may exist without an account."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="members")
    github_id = models.BigIntegerField()
    login = models.CharField(max_length=100)
    display_name = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="team_members",
    )
    is_bot = models.BooleanField(default=False)
    # GitHub's placeholder for deleted accounts (`ghost`, id 10137): one member
    # stands for every deleted person, so it counts in no one's figures.
    is_deleted_account = models.BooleanField(default=False)
    # When GitHub showed the user as `login` (the snapshot's updated_at), so that a
    # late older event cannot bring back a name the user has since changed. Null
    # until a dated snapshot names them (an undated event, or a linked account).
    login_seen_at = models.DateTimeField(null=True, blank=True)
    # When the delivery that showed `login` was received, which orders snapshots
    # from the same second; null for a REST read or an undated event.
    login_received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["login"]
        constraints = [
            models.UniqueConstraint(fields=["team", "github_id"], name="unique_member_per_team"),
            # An account is one GitHub person per team (services/members_link.py).
            models.UniqueConstraint(
                fields=["team", "user"],
                condition=models.Q(user__isnull=False),
                name="one_person_per_account_per_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.login} (bot)" if self.is_bot else self.login


class PullRequest(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        MERGED = "merged", "Merged"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="pull_requests")
    repository = models.ForeignKey(
        "integrations.Repository",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pull_requests",
    )
    github_id = models.BigIntegerField()
    # GitHub's id of the repository (as ``repository.github_id``): one repository's
    # pull requests are one history across an uninstall and reinstall, which
    # gives the same GitHub repository a second Repository row.
    repository_github_id = models.BigIntegerField(null=True, blank=True)
    number = models.PositiveIntegerField()
    # Text, not varchar: GitHub Enterprise titles and nested branch names can be
    # longer than any fixed limit, and a too-long value must not fail a delivery.
    title = models.TextField(blank=True)
    author = models.ForeignKey(
        TeamMember,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_pull_requests",
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    is_draft = models.BooleanField(default=False)
    pr_created_at = models.DateTimeField(null=True, blank=True)
    pr_updated_at = models.DateTimeField(null=True, blank=True)
    # When GitHub's delivery of the snapshot in pr_updated_at was received: it
    # orders snapshots from the same second (updated_at has one-second resolution).
    # Null when that snapshot was a REST read, which has no delivery.
    pr_received_at = models.DateTimeField(null=True, blank=True)
    ready_for_review_at = models.DateTimeField(null=True, blank=True)
    # The earliest counted review, and approval (apps/metrics/rules.py), from the
    # pull request's reviews as the write path last saw them.
    first_review_at = models.DateTimeField(null=True, blank=True)
    first_approval_at = models.DateTimeField(null=True, blank=True)
    # Its counted reviews (`rules.review_counts`): the review rounds the AI
    # figures compare, kept on the row as the first review is, so that no
    # figure counts reviews per pull request at read time.
    review_rounds = models.PositiveIntegerField(default=0)
    merged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When its first commit was authored (from the commits the write path keeps;
    # null until known) and when the first successful production deployment that
    # contains its merge commit finished (null until deployed): change lead time
    # runs between them, starting at pr_created_at where no commit is known.
    first_commit_at = models.DateTimeField(null=True, blank=True)
    deployed_at = models.DateTimeField(null=True, blank=True)
    # The commit its merge made on the base branch (merge, squash and rebase
    # merges alike): how a deployment's commits find the pull requests it shipped.
    merge_commit_sha = models.CharField(max_length=40, blank=True)
    # The first successful production deployment that contains it (deployed_at).
    deployment = models.ForeignKey(
        "Deployment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pull_requests",
    )
    # The body as last seen (the AI signals read its marker lines), and the AI
    # signals derived from the row, its commits and the team's rules
    # (services/ai_signals.py): each {"signal", "evidence", "commit"}; assisted
    # when there is one.
    body = models.TextField(blank=True)
    ai_signals = models.JSONField(default=list, blank=True)
    is_ai_assisted = models.BooleanField(default=False)
    # Durations in hours, each computed by apps/metrics/services/durations.py from
    # the timestamps above and stored here (`<duration>_<slot>`); the figures
    # aggregate these columns. Time to first review is review_time_hours; the
    # four phases of a merged pull request add up to cycle_time_hours.
    cycle_time_hours = models.FloatField(null=True, blank=True)
    review_time_hours = models.FloatField(null=True, blank=True)
    coding_hours = models.FloatField(null=True, blank=True)
    pickup_hours = models.FloatField(null=True, blank=True)
    review_hours = models.FloatField(null=True, blank=True)
    merge_hours = models.FloatField(null=True, blank=True)
    lead_time_hours = models.FloatField(null=True, blank=True)
    # The same durations counted in the team's working hours (its time zone,
    # working days and hours, holidays): the "working_hours" slot.
    cycle_time_working_hours = models.FloatField(null=True, blank=True)
    review_time_working_hours = models.FloatField(null=True, blank=True)
    coding_working_hours = models.FloatField(null=True, blank=True)
    pickup_working_hours = models.FloatField(null=True, blank=True)
    review_working_hours = models.FloatField(null=True, blank=True)
    merge_working_hours = models.FloatField(null=True, blank=True)
    lead_time_working_hours = models.FloatField(null=True, blank=True)
    additions = models.PositiveIntegerField(null=True, blank=True)
    deletions = models.PositiveIntegerField(null=True, blank=True)
    is_revert = models.BooleanField(default=False)
    is_hotfix = models.BooleanField(default=False)
    reverts = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reverted_by",
    )
    # What a revert says it reverts, kept so the link can be made when the reverted
    # pull request arrives later. A revert names its target by number (and by
    # "owner/repo" across repositories), never by id; blank means the same repository.
    reverts_number = models.PositiveIntegerField(null=True, blank=True)
    reverts_repository_full_name = models.CharField(max_length=200, blank=True)
    # GitHub's id of the repository the revert names, once known: its own (no
    # name, or the name its event's repository block had), else found by name.
    reverts_repository_github_id = models.BigIntegerField(null=True, blank=True)
    labels = models.JSONField(default=list, blank=True)
    # The people asked to review it and not yet reviewing, as the newest
    # snapshot lists them (GitHub's ``requested_reviewers``: a review or a
    # removed request takes a person off): ``{"github_id", "login"}`` each. The
    # waiting nudge writes to them directly (docs/slack.md).
    requested_reviewers = models.JSONField(default=list, blank=True)
    head_branch = models.TextField(blank=True)
    base_branch = models.TextField(blank=True)
    html_url = models.URLField(max_length=500, blank=True)
    # GitHub's updated_at (and receipt time, as for pr_received_at) of the
    # snapshots the draft flag and the size came from. The copy of a pull request
    # embedded in review events (and REST list items) lacks some of them, so they
    # keep their own clock: an older full snapshot may still fill them in after a
    # newer partial one.
    draft_snapshot_at = models.DateTimeField(null=True, blank=True)
    draft_received_at = models.DateTimeField(null=True, blank=True)
    size_snapshot_at = models.DateTimeField(null=True, blank=True)
    size_received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pr_created_at"]
        constraints = [
            models.UniqueConstraint(fields=["team", "github_id"], name="unique_pr_per_team"),
        ]
        indexes = [
            models.Index(fields=["team", "-pr_created_at"], name="pr_team_created"),
            models.Index(fields=["team", "repository", "number"], name="pr_team_repo_number"),
            models.Index(fields=["team", "reverts_number"], name="pr_team_reverts_number"),
            models.Index(
                fields=["team", "repository_github_id", "number"], name="pr_team_repo_gh_number"
            ),
            # The dashboard's periods: merged, closed and first reviewed in a range.
            # Covering: a list of the merged pull requests (the drill-down, its
            # CSV) counts and orders them from the index alone, not from
            # 40,000 rows scattered over the table (bench/bench_dashboard.py).
            models.Index(
                fields=["team", "merged_at"],
                include=["id", "author", "pr_created_at", "repository"],
                name="pr_team_merged_cover",
            ),
            models.Index(fields=["team", "closed_at"], name="pr_team_closed"),
            models.Index(fields=["team", "first_review_at"], name="pr_team_first_review"),
            # The lead-time target's period.
            models.Index(fields=["team", "deployed_at"], name="pr_team_deployed"),
            # The open ones counted from the index alone, with what the scope
            # and the bots' rule filter on (`figures._open_now`).
            models.Index(
                fields=["team", "author", "repository"],
                condition=models.Q(state="open"),
                name="pr_team_open",
            ),
            # Those waiting for a first review, longest first (`figures.waiting_for_review`):
            # the first few read in order, not every open one sorted.
            models.Index(
                F("team"),
                Coalesce("ready_for_review_at", "pr_created_at"),
                F("id"),
                condition=models.Q(state="open", is_draft=False, first_review_at__isnull=True),
                name="pr_team_waiting",
            ),
            # A deployment's commits matched to the pull requests they merged.
            models.Index(fields=["team", "merge_commit_sha"], name="pr_team_merge_commit"),
        ]

    def __str__(self) -> str:
        where = self.repository.full_name if self.repository_id else "unknown repository"
        return f"{where}#{self.number}: {self.title}"


class PRReview(models.Model):
    class State(models.TextChoices):
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        COMMENTED = "commented", "Commented"
        DISMISSED = "dismissed", "Dismissed"
        PENDING = "pending", "Pending"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="reviews")
    pull_request = models.ForeignKey(PullRequest, on_delete=models.CASCADE, related_name="reviews")
    github_id = models.BigIntegerField()
    reviewer = models.ForeignKey(
        TeamMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    state = models.CharField(max_length=20, choices=State.choices)
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["submitted_at"]
        verbose_name = "PR review"
        constraints = [
            models.UniqueConstraint(fields=["team", "github_id"], name="unique_review_per_team"),
        ]
        # The dashboard's review load: a team's reviews submitted in a range.
        indexes = [models.Index(fields=["team", "submitted_at"], name="review_team_submitted")]

    def __str__(self) -> str:
        return f"{self.get_state_display()} review {self.github_id} on {self.pull_request}"


class APIToken(models.Model):
    """A team's token for the JSON API, with the scopes it was created with.

    Only the SHA-256 of the token is stored: the token itself is shown once,
    when it is created. Tokens are long random strings, so a fast hash is
    enough (no password-style stretching needed)."""

    class Scope(models.TextChoices):
        # Reads the team's figures, deployments, settings and squads.
        READ = "read", "Read metrics"
        # Records deployments (POST /api/teams/<slug>/deployments/), for a CI.
        DEPLOYMENTS_WRITE = "deployments:write", "Record deployments"
        # Changes the team's settings and squads; reads everything too.
        ADMIN = "admin", "Change settings and squads"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    # The token's first characters, to tell tokens apart on the page.
    prefix = models.CharField(max_length=12)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Scope values (`Scope`), in their declared order; never empty.
    scopes = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def allows(self, scope: str) -> bool:
        """Whether the token may do what ``scope`` allows: an admin token reads too."""
        granted = set(self.scopes)
        return scope in granted or (scope == self.Scope.READ and self.Scope.ADMIN in granted)

    def scope_labels(self) -> list[str]:
        return [str(label) for value, label in self.Scope.choices if value in self.scopes]


# A pull request is opened, first reviewed and merged at most once: a second
# time for one of these (an earlier review arriving late) is not a new transition.
_ONCE_KINDS = ("opened", "first_review", "merged")


class PullRequestEvent(models.Model):
    """A pull request's move into a new state, recorded once (docs/lifecycle.md).

    Written by the processors in the transaction that changes the rows, whatever
    the source of the event; announced after commit when it is live (not from
    history, and not dated before its repository was tracked)."""

    class Kind(models.TextChoices):
        # In the order a pull request usually goes through them: events of the
        # same moment are announced in this order.
        OPENED = "opened", "Opened"
        READY_FOR_REVIEW = "ready_for_review", "Ready for review"
        FIRST_REVIEW = "first_review", "First review"
        APPROVED = "approved", "Approved"
        MERGED = "merged", "Merged"
        CLOSED = "closed", "Closed unmerged"
        REOPENED = "reopened", "Reopened"
        REVERTED = "reverted", "Reverted"

    # What happens to a pull request at most once, whatever it goes through.
    ONCE = _ONCE_KINDS

    team = models.ForeignKey(
        "teams.Team", on_delete=models.CASCADE, related_name="pull_request_events"
    )
    pull_request = models.ForeignKey(PullRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # When it happened on GitHub (merged_at for a merge, the revert's merge for
    # reverted, the snapshot's updated_at for a reopening).
    occurred_at = models.DateTimeField()
    # The source of the event that made the transition (processors.Source values).
    source = models.CharField(max_length=20)
    live = models.BooleanField()
    # Set when the announcement is claimed; a live event without it is announced
    # by the sweeper (its on-commit announcement was lost with its process).
    announced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["pull_request", "kind", "occurred_at"], name="unique_pr_event_per_time"
            ),
            models.UniqueConstraint(
                fields=["pull_request", "kind"],
                condition=models.Q(kind__in=_ONCE_KINDS),
                name="unique_pr_event_once",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "kind", "occurred_at"], name="pr_event_team_kind"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(live=True, announced_at__isnull=True),
                name="pr_event_unannounced",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}: {self.pull_request}"
        )


class RecomputeRun(models.Model):
    """One pass of `metrics_recompute` (the command, or its task): every stored
    duration and derived value of a team's pull requests (or every team's)
    derived again from the stored timestamps and reviews.

    It goes in lock order (team, then GitHub id) in batches, each committed with
    the run's position, so a run that stops resumes after the last batch done."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    # Null: every team's pull requests.
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    # The last pull request done, in lock order: (team id, GitHub id).
    last_team_id = models.BigIntegerField(default=0)
    last_github_id = models.BigIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moves with every batch: a running run that has not moved for long lost its worker.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["status", "updated_at"],
                name="recompute_run_active",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        scope = self.team.slug if self.team_id else "every team"
        return f"recompute of {scope}: {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class MergeQuestion(models.Model):
    """The author's own answer, on merge: "How much of this pull request was
    written with AI?" (docs/merge-question.md).

    One row per merged pull request whose author has an account (a database
    constraint: a redelivered, recovered or twice-processed merge, and an
    account linked later, find the row there), whether the person was asked or
    sampled out by the team's weekly cap. The answer is the person's: pages show
    it only to them, and team figures only where at least 3 people answered."""

    class Status(models.TextChoices):
        ASKED = "asked", "Asked"
        NOT_ASKED = "not_asked", "Not asked"

    class NotAskedReason(models.TextChoices):
        # The person had been asked the team's weekly number already.
        WEEKLY_CAP = "weekly_cap", "Weekly cap reached"
        # Left out by the random draw that keeps a busy person under the cap.
        SAMPLED_OUT = "sampled_out", "Sampled out"

    class Answer(models.TextChoices):
        NONE = "none", "None"
        LITTLE = "little", "A little"
        HALF = "half", "About half"
        MOST = "most", "Most"
        ALL = "all", "All"

    class Channel(models.TextChoices):
        """Where an answer came from: each channel answers through the same service."""

        APP = "app", "The app"
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"

    # A question, and the links that answer it, can be answered (and the answer
    # changed) this long after it was asked.
    LIFETIME = timedelta(days=14)
    TEXT = "How much of this pull request was written with AI?"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="merge_questions")
    pull_request = models.ForeignKey(
        PullRequest, on_delete=models.CASCADE, related_name="merge_questions"
    )
    # The GitHub person who authored it, and the account that person was linked
    # to when the question was decided: the answer belongs to that account (and
    # goes with it when the account is deleted).
    member = models.ForeignKey(
        TeamMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merge_questions"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    not_asked_reason = models.CharField(max_length=20, choices=NotAskedReason.choices, blank=True)
    # The chance this merge had of being asked when it was decided (1.0 for a
    # person under the cap); kept so the sample can be checked.
    sample_probability = models.FloatField(default=1.0)
    # When it was decided (asked or not), and until when it can be answered.
    asked_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answer = models.CharField(max_length=10, choices=Answer.choices, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_via = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    # Claimed before the email is sent: at most one email per question, whatever
    # the retries and workers.
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-asked_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["pull_request"], name="one_merge_question_per_pull_request"
            ),
            models.CheckConstraint(
                condition=models.Q(answer__in=["", "none", "little", "half", "most", "all"]),
                name="merge_question_answer_known",
            ),
            models.CheckConstraint(
                condition=models.Q(status="asked") | models.Q(answer=""),
                name="merge_question_answered_only_when_asked",
            ),
        ]
        indexes = [
            # The weekly cap and "Your pull requests": a person's questions by time.
            models.Index(fields=["team", "user", "asked_at"], name="merge_question_person"),
        ]

    def __str__(self) -> str:
        return f"Merge question on {self.pull_request} ({self.get_status_display()})"


class Deployment(models.Model):
    """A deployment of one commit of a repository to one environment
    (docs/deployments.md), from one of five sources: GitHub's deployments
    (`deployment`, `deployment_status`), an Actions workflow (`workflow_run`),
    releases (`release`), merges to the default branch, or the API.

    Keyed by team and `key`: the source and its own id (``github:<deployment
    id>``, ``workflow_run:<run id>``, ``release:<release id>``, ``merge:<pull
    request id>``, ``api:<idempotency key>``). Its status is the newest by
    GitHub's time (`status_at`, then the status's id): an older status arriving
    late changes nothing."""

    class Source(models.TextChoices):
        GITHUB = "github", "GitHub deployments"
        WORKFLOW = "workflow", "Actions workflow"
        RELEASE = "release", "Releases"
        MERGE = "merge", "Merges to the default branch"
        API = "api", "The API"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        ERROR = "error", "Error"
        INACTIVE = "inactive", "Inactive"

    # A deployment that finished and did not work.
    FAILED_STATUSES = (Status.FAILURE, Status.ERROR)
    # "inactive": GitHub marks an older deployment inactive when a newer one to
    # the same environment succeeds; it was a success.
    SUCCEEDED_STATUSES = (Status.SUCCESS, Status.INACTIVE)

    class Failure(models.TextChoices):
        STATUS = "status", "Its status was a failure"
        ROLLED_BACK = "rolled_back", "Rolled back by a later deployment of an older commit"
        REVERTED = "reverted", "A pull request it shipped was reverted"
        HOTFIXED = "hotfixed", "A hotfix followed it"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="deployments")
    key = models.CharField(max_length=200)
    source = models.CharField(max_length=10, choices=Source.choices)
    repository = models.ForeignKey(
        "integrations.Repository",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deployments",
    )
    # GitHub's id of the repository: one history across a reinstall (as PullRequest's).
    repository_github_id = models.BigIntegerField(null=True, blank=True)
    # GitHub's id of the deployment, run or release (null from the API or a merge).
    github_id = models.BigIntegerField(null=True, blank=True)
    environment = models.CharField(max_length=255, blank=True)
    # What GitHub said (deployment.production_environment): None when it did not.
    production_environment = models.BooleanField(null=True, blank=True)
    # Derived: production_environment, or the environment among the team's list.
    is_production = models.BooleanField(default=False)
    # Empty only for a release whose tag's commit is not read yet (`ref`).
    sha = models.CharField(max_length=40, blank=True)
    ref = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # GitHub's time of the status stored, and its id (orders statuses of one second).
    status_at = models.DateTimeField(null=True, blank=True)
    status_github_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The previous successful production deployment of the repository (same
    # source), whose commit its shipped commits are compared from.
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the pull requests it shipped were matched (null: not yet).
    shipped_at = models.DateTimeField(null=True, blank=True)
    # Derived from the repository's deployments and pull requests
    # (services/deployments.py, `deployments_assess`): whether it failed and why,
    # whether it reworked (shipped a revert, a hotfix, or rolled back), and its
    # failed deployment recovery time from the durations engine.
    failed = models.BooleanField(default=False)
    failure_reason = models.CharField(max_length=12, choices=Failure.choices, blank=True)
    failure_detail = models.CharField(max_length=300, blank=True)
    is_rework = models.BooleanField(default=False)
    recovered_at = models.DateTimeField(null=True, blank=True)
    recovery_time_hours = models.FloatField(null=True, blank=True)
    recovery_time_working_hours = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-finished_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="unique_deployment_per_team"),
        ]
        indexes = [
            models.Index(fields=["team", "finished_at"], name="deployment_team_finished"),
            models.Index(
                fields=["team", "repository_github_id", "finished_at"],
                name="deployment_team_repo",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.sha[:7]} to {self.environment or '?'}"

    @property
    def succeeded(self) -> bool:
        return self.status in self.SUCCEEDED_STATUSES


# The environments that are production unless a team says otherwise.
DEFAULT_PRODUCTION_ENVIRONMENTS = ["production", "prod", "live"]


class DeploymentSettings(models.Model):
    """A team's deployment settings: which environments are production, and how
    long after a deployment a revert or hotfix of what it shipped fails it."""

    team = models.OneToOneField(
        "teams.Team", on_delete=models.CASCADE, related_name="deployment_settings"
    )
    # Lower-case environment names.
    production_environments = models.JSONField(default=list)
    failure_window_days = models.PositiveSmallIntegerField(default=7)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"deployment settings of {self.team}"


class RepositoryDeploymentSource(models.Model):
    """Where one repository's deployments come from, chosen on the settings
    page; no row means the automatic choice (docs/deployments.md)."""

    class Choice(models.TextChoices):
        AUTO = "auto", "Automatic"
        GITHUB = "github", "GitHub deployments"
        WORKFLOW = "workflow", "Actions workflow"
        RELEASE = "release", "Releases"
        MERGE = "merge", "Merges to the default branch"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="+")
    repository_github_id = models.BigIntegerField()
    choice = models.CharField(max_length=10, choices=Choice.choices, default=Choice.AUTO)
    # The workflow file whose runs are deployments (".github/workflows/deploy.yml").
    workflow_path = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "repository_github_id"], name="one_deployment_source_per_repo"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.repository_github_id}: {self.choice}"


class Squad(models.Model):
    """A group of people inside one team (docs/working-hours.md): the figures
    filtered by ``squad=`` count its members' pull requests, on its
    repositories when it names any. A person may be in several squads; no squad
    crosses teams (its members and repositories are the team's)."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="squads")
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(TeamMember, related_name="squads", blank=True)
    repositories = models.ManyToManyField("integrations.Repository", related_name="+", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_squad_name_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.team})"


class Commit(models.Model):
    """A commit of a pull request, as GitHub listed the pull request's commits
    (the commits kind of row: `apps/metrics/services/commits.py`).

    Keyed by team, pull request and sha: the same commit may be in two pull
    requests (a branch merged into another), and is a row of each. What the
    AI signals read is kept (the message, its parsed trailers, the authors'
    GitHub accounts), so a rule added later reclassifies old pull requests
    through `metrics_recompute` without asking GitHub again."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="commits")
    pull_request = models.ForeignKey(PullRequest, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField(max_length=64)
    message = models.TextField(blank=True)
    authored_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    # The commit's authors that are GitHub accounts (the author and the
    # co-authors GitHub matched to accounts), GitHub's ids and logins in order.
    author_github_ids = models.JSONField(default=list, blank=True)
    author_logins = models.JSONField(default=list, blank=True)
    # The message's trailers ("Co-authored-by: Claude <noreply@anthropic.com>"),
    # as [key, value] pairs in order, parsed once as the commit arrives.
    trailers = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["authored_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "pull_request", "sha"], name="unique_commit_per_pull_request"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sha[:7]} of {self.pull_request}"


class TeamAIRules(models.Model):
    """What a team adds to the default rules of AI signals
    (`apps/metrics/services/ai_rules.py`): each a list of strings, matched as
    the defaults are. Changing them reclassifies the team's pull requests
    (a recompute run)."""

    team = models.OneToOneField("teams.Team", on_delete=models.CASCADE, related_name="ai_rules")
    agent_logins = models.JSONField(default=list, blank=True)
    reviewer_logins = models.JSONField(default=list, blank=True)
    co_author_names = models.JSONField(default=list, blank=True)
    markers = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team AI rules"
        verbose_name_plural = "team AI rules"

    def __str__(self) -> str:
        return f"AI rules of team {self.team_id}"


class DayFacts(models.Model):
    """A team's facts of one kind on one UTC day, kept ahead of time for the
    dashboard's period figures (`services/day_facts.py`, docs/metrics.md "Day
    facts"): parallel arrays, one element per pull request (or review) whose
    moment of that kind (opened, closed, merged, first reviewed, submitted)
    falls on the day, with what the figures read of it. Built from the rows by
    `day_facts_refresh`; a day whose rows changed since is stale
    (`DayFactsStale`) and read from the rows until rebuilt, so the figures stay
    exact. PostgreSQL only (arrays, triggers); SQLite reads the rows."""

    class Kind(models.TextChoices):
        CREATED = "created"
        CLOSED = "closed"
        MERGED = "merged"
        FIRST_REVIEW = "first_review"
        REVIEW = "review"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    day = models.DateField()
    at = ArrayField(models.DateTimeField())
    pull_request = ArrayField(models.BigIntegerField())
    author = ArrayField(models.BigIntegerField(null=True))
    repository = ArrayField(models.BigIntegerField(null=True))
    # Reviews: who gave each.
    reviewer = ArrayField(models.BigIntegerField(null=True), default=list)
    # Bits of `services.day_facts` (opened time known, revert, hotfix, approval,
    # AI-assisted, reverted, deployed, in a failed deployment).
    flags = ArrayField(models.SmallIntegerField(), default=list)
    # Merged: the index of `figures.SIZE_BUCKETS`.
    size = ArrayField(models.SmallIntegerField(), default=list)
    # Merged, for the AI figures: lines changed (additions + deletions, None
    # when unknown), review rounds, and the merge question's answer ("" asked
    # and unanswered, None when no question).
    lines = ArrayField(models.BigIntegerField(null=True), default=list)
    review_rounds = ArrayField(models.IntegerField(), default=list)
    answer = ArrayField(models.TextField(null=True), default=list)
    # The durations the figures read, in both slots (merged; first reviewed:
    # review_time only), named as PullRequest's columns.
    cycle_time_hours = ArrayField(models.FloatField(null=True), default=list)
    coding_hours = ArrayField(models.FloatField(null=True), default=list)
    pickup_hours = ArrayField(models.FloatField(null=True), default=list)
    review_hours = ArrayField(models.FloatField(null=True), default=list)
    merge_hours = ArrayField(models.FloatField(null=True), default=list)
    review_time_hours = ArrayField(models.FloatField(null=True), default=list)
    cycle_time_working_hours = ArrayField(models.FloatField(null=True), default=list)
    coding_working_hours = ArrayField(models.FloatField(null=True), default=list)
    pickup_working_hours = ArrayField(models.FloatField(null=True), default=list)
    review_working_hours = ArrayField(models.FloatField(null=True), default=list)
    merge_working_hours = ArrayField(models.FloatField(null=True), default=list)
    review_time_working_hours = ArrayField(models.FloatField(null=True), default=list)
    # Merged: the same facts packed as one record per element, the keys and each
    # slot's durations, read whole by the merged figures (`figures_packed.py`;
    # services/day_facts.py PACKED). Empty for other kinds.
    packed_keys = models.BinaryField(default=b"", db_default=b"")
    packed_hours = models.BinaryField(default=b"", db_default=b"")
    packed_working_hours = models.BinaryField(default=b"", db_default=b"")

    class Meta:
        verbose_name_plural = "day facts"
        constraints = [
            models.UniqueConstraint(fields=["team", "kind", "day"], name="unique_day_facts"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} facts of team {self.team_id} on {self.day}"


class DayFactsStale(models.Model):
    """A UTC day of a team whose pull requests or reviews changed after its
    `DayFacts` were built: written by PostgreSQL's triggers on every write to
    those rows (whatever wrote them), removed by `day_facts_refresh`. No unique
    key and no foreign key: concurrent writers append without waiting on each
    other, and a team's deletion leaves its markers for the refresh to drop."""

    team_id = models.BigIntegerField()
    day = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["team_id", "day"], name="day_facts_stale_team_day")]

    def __str__(self) -> str:
        return f"team {self.team_id} on {self.day}: stale"
