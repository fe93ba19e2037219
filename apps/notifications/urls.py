from django.urls import path

from apps.notifications import views

urlpatterns = [
    path("teams/<slug:team_slug>/slack/", views.team_slack, name="team_slack"),
    path("teams/<slug:team_slug>/slack/connect/", views.slack_connect, name="slack_connect"),
    path(
        "teams/<slug:team_slug>/slack/disconnect/", views.slack_disconnect, name="slack_disconnect"
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
    path("slack/interactivity/", views.slack_interactivity, name="slack_interactivity"),
    path("slack/oauth/callback/", views.slack_oauth_callback, name="slack_oauth_callback"),
]
