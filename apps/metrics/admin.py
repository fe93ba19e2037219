from django.contrib import admin

from apps.metrics.models import PRReview, PullRequest, PullRequestEvent, TeamMember


@admin.register(TeamMember)
class TeamMemberAdmin(admin.ModelAdmin):
    list_display = ["login", "team", "github_id", "user", "is_bot"]
    list_filter = ["is_bot"]
    search_fields = ["login", "display_name", "github_id"]
    raw_id_fields = ["team", "user"]


@admin.register(PullRequest)
class PullRequestAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "team",
        "state",
        "author",
        "pr_created_at",
        "merged_at",
        "cycle_time_hours",
        "review_time_hours",
        "is_revert",
        "is_hotfix",
    ]
    list_filter = ["state", "is_draft", "is_revert", "is_hotfix"]
    search_fields = ["title", "github_id", "head_branch"]
    raw_id_fields = ["team", "repository", "author", "reverts"]


@admin.register(PRReview)
class PRReviewAdmin(admin.ModelAdmin):
    list_display = ["github_id", "pull_request", "reviewer", "state", "submitted_at", "team"]
    list_filter = ["state"]
    search_fields = ["github_id"]
    raw_id_fields = ["team", "pull_request", "reviewer"]


@admin.register(PullRequestEvent)
class PullRequestEventAdmin(admin.ModelAdmin):
    """Read-only: the processors write these, once per transition."""

    list_display = ["kind", "pull_request", "team", "occurred_at", "source", "live", "announced_at"]
    list_filter = ["kind", "source", "live"]
    raw_id_fields = ["team", "pull_request"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
