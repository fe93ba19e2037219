from django.urls import path

from apps.notifications import views

urlpatterns = [
    path("teams/<slug:team_slug>/slack/", views.team_slack, name="team_slack"),
    path("teams/<slug:team_slug>/slack/connect/", views.slack_connect, name="slack_connect"),
    path(
        "teams/<slug:team_slug>/slack/disconnect/", views.slack_disconnect, name="slack_disconnect"
    ),
    path("teams/<slug:team_slug>/slack/settings/", views.slack_settings, name="slack_settings"),
    path(
        "teams/<slug:team_slug>/slack/squads/<int:squad_id>/",
        views.slack_squad_settings,
        name="slack_squad_settings",
    ),
    path(
        "teams/<slug:team_slug>/slack/messages/<int:pk>/retry/",
        views.slack_message_retry,
        name="slack_message_retry",
    ),
    path("teams/<slug:team_slug>/slack/check/", views.slack_check, name="slack_check"),
    path(
        "teams/<slug:team_slug>/slack/people/match/",
        views.slack_people_match,
        name="slack_people_match",
    ),
    path(
        "teams/<slug:team_slug>/slack/people/link/",
        views.slack_person_link,
        name="slack_person_link",
    ),
    path("teams/<slug:team_slug>/webhooks/", views.team_webhooks, name="team_webhooks"),
    path(
        "teams/<slug:team_slug>/webhooks/<int:pk>/delete/",
        views.webhook_endpoint_delete,
        name="webhook_endpoint_delete",
    ),
    path(
        "teams/<slug:team_slug>/webhooks/deliveries/<int:pk>/redeliver/",
        views.webhook_redeliver,
        name="webhook_redeliver",
    ),
    path("slack/interactivity/", views.slack_interactivity, name="slack_interactivity"),
    path("slack/oauth/callback/", views.slack_oauth_callback, name="slack_oauth_callback"),
]
