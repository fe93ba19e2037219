from django.contrib import admin
from django.http import HttpRequest

from apps.integrations.models import (
    GitHubApp,
    HistoryRun,
    Installation,
    ReconcileRun,
    ReconcileState,
    Repository,
    WebhookDelivery,
)


@admin.register(GitHubApp)
class GitHubAppAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "app_id", "owner_login", "created_at"]
    # Secrets are encrypted at rest and never shown, not even to staff.
    exclude = ["client_secret_encrypted", "webhook_secret_encrypted", "private_key_encrypted"]
    readonly_fields = ["app_id", "slug", "client_id", "created_at", "created_by"]


class RepositoryInline(admin.TabularInline):
    model = Repository
    extra = 0
    fields = ["full_name", "github_id", "private", "tracked", "accessible", "last_event_at"]
    readonly_fields = ["full_name", "github_id", "private", "last_event_at"]


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    list_display = [
        "installation_id",
        "account_login",
        "account_type",
        "team",
        "repository_selection",
        "suspended_at",
        "deleted_at",
        "last_event_at",
    ]
    list_filter = ["account_type", "repository_selection"]
    search_fields = ["account_login", "installation_id"]
    raw_id_fields = ["team", "claimed_by"]
    inlines = [RepositoryInline]


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ["full_name", "installation", "tracked", "accessible", "last_event_at"]
    list_filter = ["tracked", "accessible", "private"]
    search_fields = ["full_name", "github_id"]
    raw_id_fields = ["installation"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "delivery_id",
        "event",
        "action",
        "installation_id",
        "team",
        "status",
        "attempts",
        "received_at",
        "processed_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["delivery_id", "repository_full_name"]

    # Read-only: a stored delivery is the body GitHub signed and the record of
    # what became of it. Staff who could edit it could change what the metrics
    # say; a failed delivery is retried from its team's page.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ReconcileRun)
class ReconcileRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "trigger",
        "pages",
        "deliveries_seen",
        "missing",
        "recovered",
        "failed",
        "caught_up",
        "error",
    ]
    list_filter = ["trigger", "caught_up"]

    # What a run did is a record: read only.
    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ReconcileState)
class ReconcileStateAdmin(admin.ModelAdmin):
    # Editable on purpose: clearing the mark makes the next run look back again.
    list_display = ["high_water_id", "high_water_at", "walk_cursor", "running_since", "updated_at"]


@admin.register(HistoryRun)
class HistoryRunAdmin(admin.ModelAdmin):
    list_display = [
        "repository",
        "status",
        "pages_done",
        "pull_requests_stored",
        "reviews_stored",
        "resume_at",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status"]
    list_select_related = ["repository"]
    # Runs are the backfill's own bookkeeping: read here, changed by the service.
    readonly_fields = [field.name for field in HistoryRun._meta.fields]
