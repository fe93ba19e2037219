from django.urls import path

from apps.metrics import (
    ai_views,
    deployment_views,
    people_views,
    question_views,
    settings_api,
    settings_views,
    views,
)

urlpatterns = [
    path("teams/<slug:team_slug>/", views.team_dashboard, name="team_dashboard"),
    path(
        "teams/<slug:team_slug>/pull-requests/",
        views.team_pull_requests,
        name="team_pull_requests",
    ),
    path(
        "teams/<slug:team_slug>/pull-requests.csv",
        views.team_pull_requests_csv,
        name="team_pull_requests_csv",
    ),
    path("teams/<slug:team_slug>/api-tokens/", views.api_tokens, name="team_api_tokens"),
    path(
        "teams/<slug:team_slug>/api-tokens/<int:pk>/revoke/",
        views.api_token_revoke_view,
        name="team_api_token_revoke",
    ),
    path("api/teams/<slug:team_slug>/metrics/", views.team_metrics_api, name="team_metrics_api"),
    path(
        "teams/<slug:team_slug>/members/github/",
        people_views.team_member_links,
        name="team_member_links",
    ),
    path(
        "teams/<slug:team_slug>/members/github/link/",
        people_views.team_member_link_view,
        name="team_member_link",
    ),
    path(
        "teams/<slug:team_slug>/your-pull-requests/",
        question_views.your_pull_requests,
        name="your_pull_requests",
    ),
    path(
        "teams/<slug:team_slug>/your-pull-requests/<int:pk>/answer/",
        question_views.your_pull_request_answer,
        name="your_pull_request_answer",
    ),
    path(
        "teams/<slug:team_slug>/merge-question/settings/",
        question_views.merge_questions_cap,
        name="merge_questions_cap",
    ),
    # An email's one-click link (?token=…&answer=…): the token is a query
    # parameter, so logs redact it (apps/common/redact.py).
    path("merge-question/", question_views.merge_question_link, name="merge_question_link"),
    path(
        "api/teams/<slug:team_slug>/deployments/",
        deployment_views.team_deployments_api,
        name="team_deployments_api",
    ),
    path(
        "teams/<slug:team_slug>/deployments/",
        deployment_views.team_deployments,
        name="team_deployments",
    ),
    path(
        "teams/<slug:team_slug>/deployments.csv",
        deployment_views.team_deployments_csv,
        name="team_deployments_csv",
    ),
    path("teams/<slug:team_slug>/settings/", settings_views.team_settings, name="team_settings"),
    path(
        "api/teams/<slug:team_slug>/settings/",
        settings_api.team_settings_api,
        name="team_settings_api",
    ),
    path(
        "api/teams/<slug:team_slug>/squads/", settings_api.team_squads_api, name="team_squads_api"
    ),
    path(
        "api/teams/<slug:team_slug>/squads/<int:squad_id>/",
        settings_api.team_squad_api,
        name="team_squad_api",
    ),
    path("teams/<slug:team_slug>/squads/", settings_views.team_squads, name="team_squads"),
    path(
        "teams/<slug:team_slug>/squads/<int:squad_id>/",
        settings_views.team_squad_edit,
        name="team_squad_edit",
    ),
    path("teams/<slug:team_slug>/me/", settings_views.team_me, name="team_me"),
    path("teams/<slug:team_slug>/ai-rules/", ai_views.team_ai_rules, name="team_ai_rules"),
]
