from django.contrib import admin

from apps.integrations.models import (
    GitHubApp,
    HistoryRun,
    Installation,
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
    raw_id_fields = ["team"]
    readonly_fields = ["received_at", "processed_at"]


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
