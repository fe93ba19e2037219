from django.urls import path

from apps.web import team_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("docs/", views.docs_index, name="docs"),
    path("docs/<slug:name>/", views.doc, name="doc"),
    path(
        "teams/<slug:team_slug>/members/github/",
        team_views.team_member_links,
        name="team_member_links",
    ),
    path(
        "teams/<slug:team_slug>/members/github/link/",
        team_views.team_member_link_view,
        name="team_member_link",
    ),
]
