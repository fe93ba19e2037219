from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.teams.access import team_member
from apps.teams.forms import TeamForm
from apps.teams.services.teams import team_create


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("team_new")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def team_new(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = team_create(name=form.cleaned_data["name"], creator=request.user)
        return redirect("team_members", team_slug=team.slug)
    return render(request, "teams/team_new.html", {"form": form})


@login_required
def team_members(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    members = team.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "teams/team_detail.html",
        {"team": team, "membership": membership, "memberships": members},
    )
