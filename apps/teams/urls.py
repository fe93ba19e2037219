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
]
