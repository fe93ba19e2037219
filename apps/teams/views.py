from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.teams import selectors
from apps.teams.access import team_admin, team_member
from apps.teams.forms import TeamForm
from apps.teams.models import Membership
from apps.teams.services.invitations import (
    AlreadyMember,
    InvitationRefused,
    invitation_accept,
    invitation_check,
    invitation_create,
    invitation_revoke,
)
from apps.teams.services.memberships import (
    MembershipChangeRefused,
    membership_remove,
    membership_set_role,
)
from apps.teams.services.teams import team_create

ADMINS_ONLY = "Only team admins can invite people, change roles or remove members."


def _safe_next(request: HttpRequest) -> str:
    """Where to go after logging in or signing up: a path on this site, or ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = UserCreationForm(request.POST or None)
    next_url = _safe_next(request)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        # Someone who came with an invitation link goes back to it.
        return redirect(next_url or "team_new")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def team_new(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = team_create(name=form.cleaned_data["name"], creator=request.user)
        return redirect("team_dashboard", team_slug=team.slug)
    return render(request, "teams/team_new.html", {"form": form})


@login_required
@require_safe
def team_members(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    context = {
        "team": team,
        "membership": membership,
        "memberships": selectors.team_memberships(team=team),
        "roles": Membership.Role.choices,
    }
    if membership.is_admin:
        context["invitations"] = selectors.team_invitations(team=team)[:20]
    return render(request, "teams/team_members.html", context)


@login_required
@require_POST
def invitation_new(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    invitation, token = invitation_create(team=membership.team, created_by=request.user)
    link = request.build_absolute_uri(
        reverse("invitation_join", kwargs={"team_slug": team_slug, "token": token})
    )
    # Shown on this response only: the token is not stored, so no later page
    # (and no cookie) holds the link.
    return render(
        request,
        "teams/invitation_created.html",
        {"team": membership.team, "membership": membership, "invitation": invitation, "link": link},
    )


@login_required
@require_POST
def invitation_revoke_view(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    invitation = selectors.team_invitation_or_404(team=membership.team, pk=pk)
    invitation_revoke(invitation=invitation)
    messages.success(request, "The invitation link was revoked: it no longer lets anyone join.")
    return redirect("team_members", team_slug=team_slug)


@require_http_methods(["GET", "HEAD", "POST"])
def invitation_join(request: HttpRequest, team_slug: str, token: str) -> HttpResponse:
    """Opening the link shows what it is for; joining is a POST, so a chat
    app's link preview cannot use the link up."""
    try:
        invitation = invitation_check(team_slug=team_slug, token=token)
    except InvitationRefused as refusal:
        return render(
            request,
            "teams/invitation_refused.html",
            {"reason": str(refusal)},
            status=refusal.status,
        )
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method == "POST":
        try:
            joined = invitation_accept(team_slug=team_slug, token=token, user=request.user)
        except AlreadyMember as already:
            messages.info(request, str(already))
            return redirect("team_dashboard", team_slug=already.membership.team.slug)
        except InvitationRefused as refusal:
            return render(
                request,
                "teams/invitation_refused.html",
                {"reason": str(refusal)},
                status=refusal.status,
            )
        messages.success(request, f"Welcome to {joined.team.name}: you joined as a member.")
        return redirect("team_dashboard", team_slug=joined.team.slug)
    already = invitation.team.memberships.filter(user=request.user).exists()
    return render(
        request, "teams/invitation_join.html", {"invitation": invitation, "already": already}
    )


@login_required
@require_POST
def member_role(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    target = selectors.team_membership_or_404(team=membership.team, pk=pk)
    role = request.POST.get("role", "")
    try:
        changed = membership_set_role(membership=target, role=role)
    except MembershipChangeRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request, f"{changed.user.get_username()} is now {changed.get_role_display().lower()}."
        )
    return redirect("team_members", team_slug=team_slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    target = selectors.team_membership_or_404(team=membership.team, pk=pk)
    if target.pk == membership.pk:
        return team_leave(request, team_slug)
    try:
        membership_remove(membership=target)
    except MembershipChangeRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{target.user.get_username()} was removed from the team.")
    return redirect("team_members", team_slug=team_slug)


@login_required
@require_POST
def team_leave(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    try:
        membership_remove(membership=membership)
    except MembershipChangeRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("team_members", team_slug=team_slug)
    messages.success(request, f"You left {membership.team.name}.")
    return redirect("home")
