from django.contrib.auth import views as auth_views
from django.urls import path

from apps.teams import views
from apps.teams.throttle import ThrottledLoginView

urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("teams/new/", views.team_new, name="team_new"),
    path("teams/<slug:team_slug>/members/", views.team_members, name="team_members"),
    path(
        "teams/<slug:team_slug>/members/<int:pk>/role/", views.member_role, name="team_member_role"
    ),
    path(
        "teams/<slug:team_slug>/members/<int:pk>/remove/",
        views.member_remove,
        name="team_member_remove",
    ),
    path("teams/<slug:team_slug>/leave/", views.team_leave, name="team_leave"),
    path("teams/<slug:team_slug>/invitations/", views.invitation_new, name="team_invitation_new"),
    path(
        "teams/<slug:team_slug>/invitations/<int:pk>/revoke/",
        views.invitation_revoke_view,
        name="team_invitation_revoke",
    ),
    # The token is URL-safe base64; anything else is refused by the view's check.
    path("teams/<slug:team_slug>/join/<str:token>/", views.invitation_join, name="invitation_join"),
]
