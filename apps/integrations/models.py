from django.conf import settings
from django.db import models


class GitHubApp(models.Model):
    """The GitHub App created through the manifest flow.

    Environment settings win over this row; secrets are stored encrypted
    (Fernet) and never shown."""

    app_id = models.BigIntegerField(unique=True)
    slug = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    owner_login = models.CharField(max_length=100, blank=True)
    html_url = models.URLField(blank=True)
    client_id = models.CharField(max_length=100)
    client_secret_encrypted = models.TextField()
    webhook_secret_encrypted = models.TextField()
    private_key_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = "GitHub App"

    def __str__(self) -> str:
        return f"{self.name} (app {self.app_id})"


class Installation(models.Model):
    class RepositorySelection(models.TextChoices):
        ALL = "all", "All repositories"
        SELECTED = "selected", "Selected repositories"

    installation_id = models.BigIntegerField(unique=True)
    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="installations",
    )
    account_login = models.CharField(max_length=100, blank=True)
    account_id = models.BigIntegerField(null=True, blank=True)
    account_type = models.CharField(max_length=20, blank=True)  # "Organization" or "User"
    # When GitHub told us account_login (receipt time): an installation_target
    # rename has its own clock, so an older installation event cannot undo it.
    account_login_changed_at = models.DateTimeField(null=True, blank=True)
    repository_selection = models.CharField(
        max_length=10, choices=RepositorySelection.choices, blank=True
    )
    permissions = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    suspended_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # When GitHub told us the state recorded above (account, selection,
    # permissions, events, suspension, deletion): the receipt time of the
    # delivery that last changed it, or the time of a read from the API. Older
    # events than this change nothing (see services/installations.py).
    state_changed_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # Made by `manage.py demo`: its events are the demo's story, not GitHub's,
    # so nothing is read from GitHub for it (no history, no re-sync).
    demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account_login"]

    def __str__(self) -> str:
        who = self.account_login or "unknown account"
        return f"{who} (installation {self.installation_id})"

    @property
    def is_active(self) -> bool:
        return self.deleted_at is None and self.suspended_at is None


class Repository(models.Model):
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="repositories"
    )
    github_id = models.BigIntegerField()
    full_name = models.CharField(max_length=200)
    private = models.BooleanField(default=False)
    tracked = models.BooleanField(default=False)
    tracked_at = models.DateTimeField(null=True, blank=True)
    # False once the installation no longer grants access (removed on GitHub).
    accessible = models.BooleanField(default=True)
    # When GitHub told us ``accessible`` (receipt time of the delivery, or the
    # time of a read from the API); older events than this leave it alone.
    access_changed_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    archived = models.BooleanField(default=False)
    # Deleted on GitHub: no longer tracked, and why is kept in untracked_reason.
    deleted_at = models.DateTimeField(null=True, blank=True)
    untracked_reason = models.CharField(max_length=300, blank=True)
    # When GitHub showed the name, privacy and archived flag recorded here: the
    # repository block's updated_at, then the delivery's receipt time (see
    # services/repositories.py). An older block changes none of them.
    snapshot_updated_at = models.DateTimeField(null=True, blank=True)
    snapshot_received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["full_name"]
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "github_id"], name="unique_repository_per_installation"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        # The values of apps.metrics.services.processors.Source that arrive as
        # deliveries (the history backfill does not).
        WEBHOOK = "webhook", "Webhook"
        RECOVERY = "recovery", "Recovered from GitHub's delivery log"
        REPLAY = "replay", "Replay"
        DEMO = "demo", "Demo"

    # Unique by the constraint in Meta: a unique field would also get PostgreSQL
    # a second, LIKE-pattern index, one more to write on every delivery.
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=100)
    action = models.CharField(max_length=100, blank=True)
    hook_id = models.BigIntegerField(null=True, blank=True)
    installation_id = models.BigIntegerField(null=True, blank=True)
    # Indexed by delivery_team_received, which starts with it.
    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_deliveries",
        db_index=False,
    )
    repository_full_name = models.CharField(max_length=200, blank=True)
    # GitHub's id of the payload's repository: names change, and tracking a
    # repository re-queues its ignored deliveries by this id.
    repository_github_id = models.BigIntegerField(null=True, blank=True)
    # The raw request body, as GitHub signed it. Kept as text: storing it costs
    # less than a JSON column on the hot path, and the signature stays checkable.
    payload = models.TextField()
    received_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    # Why a delivery was ignored, in a sentence a person can read.
    status_reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When a failed delivery is due for its next automatic attempt; null once
    # retries are exhausted or the error cannot be cured by retrying.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # How it reached us: GitHub's POST, reconcile (GitHub's delivery log), replay, demo.
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEBHOOK)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["delivery_id"], name="unique_delivery_id"),
        ]
        # Every index is written on each delivery stored and again when it is
        # processed (the status changes). The drain's and the re-queue's indexes
        # are partial: a processed delivery, nearly all of them, is in neither.
        indexes = [
            models.Index(fields=["team", "-received_at"], name="delivery_team_received"),
            models.Index(
                fields=["received_at"],
                name="delivery_waiting",
                condition=models.Q(status="received"),
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_retry_due",
                condition=models.Q(status="failed"),
            ),
            models.Index(
                fields=["installation_id", "repository_github_id"],
                name="delivery_ignored_repository",
                condition=models.Q(status="ignored"),
            ),
        ]

    def __str__(self) -> str:
        kind = f"{self.event}.{self.action}" if self.action else self.event
        return f"{kind} {self.delivery_id} ({self.status})"


class ReconcileState(models.Model):
    """Where reconcile stands in GitHub's delivery log (one row, pk 1).

    The log is read newest first. A walk goes from its newest delivery down to
    the high-water mark (the newest delivery of the last walk that finished),
    or, before any walk finished, down to a time (``walk_floor_at``). A walk
    longer than one run's pages resumes at ``walk_cursor`` in the next run;
    once it reaches the mark, its newest delivery becomes the mark."""

    high_water_id = models.BigIntegerField(null=True, blank=True)
    high_water_at = models.DateTimeField(null=True, blank=True)
    walk_cursor = models.CharField(max_length=1000, blank=True)
    walk_newest_id = models.BigIntegerField(null=True, blank=True)
    walk_newest_at = models.DateTimeField(null=True, blank=True)
    walk_floor_at = models.DateTimeField(null=True, blank=True)
    # The lock: a run holds it from here until it ends; a run that died
    # leaves it, and it lapses after RECONCILE_LEASE.
    running_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"reconciled down to delivery {self.high_water_id or '—'}"


class ReconcileRun(models.Model):
    """What one reconcile run did, for the delivery log page."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        COMMAND = "command", "Command"
        POLL = "poll", "Poll"

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    # Set for ``--since``: the run read down to this time, not to the mark.
    since = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    # Entries of the log read (each attempt, redeliveries included).
    deliveries_seen = models.PositiveIntegerField(default=0)
    # Events not stored here when the run saw them (one per guid).
    missing = models.PositiveIntegerField(default=0)
    # Of those, stored by this run (the others arrived by webhook meanwhile, or failed).
    recovered = models.PositiveIntegerField(default=0)
    # Log entries or GitHub copies that could not be read or fetched.
    failed = models.PositiveIntegerField(default=0)
    # True when the walk reached the mark (or its floor) in this run.
    caught_up = models.BooleanField(default=False)
    # Why the run ended before that, in a sentence (empty when it did not).
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"reconcile {self.started_at:%Y-%m-%d %H:%M:%S}: {self.recovered} recovered"


class HistoryRun(models.Model):
    """One load of a repository's past pull requests and reviews (the backfill).

    Each page read from GitHub is applied and the cursor stored in one
    transaction, so a run that stops (a killed worker, a rate limit) resumes
    from the page after the last one stored."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting_rate_limit", "Waiting for the rate limit"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Untracked, or the installation lost access: nothing more to load.
        STOPPED = "stopped", "Stopped"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.WAITING)

    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="history_runs"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    # Pull requests updated before this are not loaded; null: all of them.
    window_start = models.DateTimeField(null=True, blank=True)
    # GraphQL's endCursor of the last page stored; null: start from the newest.
    cursor = models.TextField(blank=True, default="")
    page_size = models.PositiveSmallIntegerField(default=100)
    pages_done = models.PositiveIntegerField(default=0)
    pull_requests_stored = models.PositiveIntegerField(default=0)
    reviews_stored = models.PositiveIntegerField(default=0)
    # The repository's pull request count (GitHub's totalCount), and the oldest
    # updatedAt read so far: together they estimate the pages left.
    total_count = models.PositiveIntegerField(null=True, blank=True)
    reached_updated_at = models.DateTimeField(null=True, blank=True)
    # Transient failures in a row (GitHub down); reset by a page stored.
    failures = models.PositiveSmallIntegerField(default=0)
    # When a rate-limited run may go on (GitHub's resetAt, or retry-after).
    resume_at = models.DateTimeField(null=True, blank=True)
    # Secondary limits in a row: each waits longer.
    secondary_limits = models.PositiveSmallIntegerField(default=0)
    # GitHub's points (the sum of each answer's rateLimit.cost) and requests
    # the run used: its share of the installation's hourly budget.
    points_used = models.PositiveIntegerField(default=0)
    requests_made = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moves on every page: a running run that has not moved for long lost its worker.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["repository"],
                condition=models.Q(status__in=["queued", "running", "waiting_rate_limit"]),
                name="one_active_history_run_per_repository",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "resume_at"],
                name="history_run_active",
                condition=models.Q(status__in=["queued", "running", "waiting_rate_limit"]),
            ),
        ]

    def __str__(self) -> str:
        return f"history of {self.repository_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class DeploymentHistoryCursor(models.Model):
    """Where the reading of a repository's past deployments of one source
    (GitHub deployments, releases, the deployment workflow's runs) stands:
    each page read from GitHub is applied and its cursor moved in one
    transaction, so a read that stops (a killed worker, a rate limit) goes on
    from the page after the last one stored (docs/history.md, "Deployments")."""

    class Source(models.TextChoices):
        DEPLOYMENTS = "deployments", "GitHub deployments"
        RELEASES = "releases", "Releases"
        WORKFLOW_RUNS = "workflow_runs", "Workflow runs"

    class Status(models.TextChoices):
        READING = "reading", "Reading"
        WAITING = "waiting_rate_limit", "Waiting for the rate limit"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Untracked, or gone from the installation: nothing more to read.
        STOPPED = "stopped", "Stopped"

    ACTIVE = (Status.READING, Status.WAITING)

    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="deployment_history_cursors"
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.READING)
    # Items created before this are not read; null: all of them.
    window_start = models.DateTimeField(null=True, blank=True)
    # GitHub's Link rel="next" of the last page stored; empty: the first page.
    next_url = models.TextField(blank=True, default="")
    pages_done = models.PositiveIntegerField(default=0)
    items_stored = models.PositiveIntegerField(default=0)
    requests_made = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Transient failures in a row (GitHub down); reset by a page stored.
    failures = models.PositiveSmallIntegerField(default=0)
    # When a waiting read may go on (GitHub's reset, or a failure's backoff).
    resume_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    # Moves on every page: a read that has not moved for long lost its worker.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "source"], name="one_deployment_history_cursor_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} history of {self.repository_id} ({self.status})"
