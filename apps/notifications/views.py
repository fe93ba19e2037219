"""The team's Slack page (connect, people, what it is told) and Slack's return
from "Add to Slack". Members read the page; admins change it."""

from __future__ import annotations

from urllib.parse import parse_qs

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST, require_safe

from apps.metrics.squads import squad_of_team
from apps.notifications import selectors
from apps.notifications.forms import (
    SQUAD_DIRECT_CHOICES,
    WEEKDAYS,
    NotificationSettingsForm,
    SquadNotificationSettingsForm,
)
from apps.notifications.services import (
    connections,
    merge_question_slack,
    people,
    preferences,
    webhooks,
)
from apps.notifications.services import messages as slack_messages
from apps.notifications.services.connections import SlackRefused
from apps.notifications.services.merge_question_slack import InteractionRefused
from apps.teams.access import team_admin, team_member

ADMINS_ONLY = "Only team admins can change the team's Slack."


def _user_id(value: str) -> int | None:
    # Only ASCII digits, and within a bigint: anything else names no one.
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


@login_required
@require_safe
def team_slack(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    return render(
        request,
        "notifications/slack.html",
        {
            "team": team,
            "membership": membership,
            "connection": selectors.slack_connection_of(team=team),
            "configured": connections.slack_configured(),
            "people": selectors.slack_people_rows(team=team),
            "settings": selectors.notification_settings_of(team=team),
            "squads": selectors.squad_notification_rows(team=team),
            "recent": selectors.slack_messages_recent(team=team, direct=membership.is_admin),
            "weekdays": WEEKDAYS,
            "squad_direct_choices": SQUAD_DIRECT_CHOICES,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def slack_connect(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    try:
        url = connections.slack_install_start(
            team=membership.team, user_id=membership.user_id, session=request.session
        )
    except SlackRefused as refused:
        messages.error(request, str(refused))
        return redirect("team_slack", team_slug=team_slug)
    return redirect(url)


@login_required
@require_GET
def slack_oauth_callback(request: HttpRequest) -> HttpResponse:
    """Slack's return from "Add to Slack": the state names the team."""
    if request.GET.get("error"):
        return _refused(request, "Slack was not connected: the request was cancelled in Slack.")
    try:
        connection = connections.slack_install_finish(
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            user_id=request.user.pk,
            session=request.session,
        )
    except SlackRefused as refused:
        return _refused(request, str(refused))
    messages.success(request, f"Slack connected: {connection.slack_team_name}.")
    return redirect("team_slack", team_slug=connection.team.slug)


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request,
        "notifications/refused.html",
        {"title": "Slack not connected", "message": message},
        status=400,
    )


@login_required
@require_POST
def slack_disconnect(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    if connections.slack_disconnect(team=membership.team):
        messages.success(request, "Slack disconnected.")
    return redirect("team_slack", team_slug=team_slug)


@login_required
@require_POST
def slack_check(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    try:
        connection = connections.slack_connection_check(team=membership.team)
    except Exception as error:
        messages.error(request, f"Slack could not be reached: {getattr(error, 'error', error)}.")
        return redirect("team_slack", team_slug=team_slug)
    if connection is not None and connection.is_connected:
        messages.success(request, "Slack answers: the connection works.")
    elif connection is not None:
        messages.error(request, f"Slack refused the token ({connection.broken_reason}).")
    return redirect("team_slack", team_slug=team_slug)


@login_required
@require_POST
def slack_people_match(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    team = membership.team
    connection = connections.slack_connection_for(team_id=team.pk)
    if connection is None:
        messages.error(request, "Connect Slack first.")
        return redirect("team_slack", team_slug=team_slug)
    try:
        result = people.slack_people_match(team=team, connection=connection)
    except SlackRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            f"Matched {result.matched} by email; {result.not_found} not found in Slack.",
        )
    return redirect("team_slack", team_slug=team_slug)


@login_required
@require_POST
def slack_person_link(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    team = membership.team
    user_id = _user_id(request.POST.get("user", ""))
    if user_id is None:
        messages.error(request, "Choose a person.")
        return redirect("team_slack", team_slug=team_slug)
    if request.POST.get("action") == "unlink":
        people.slack_person_unlink(team=team, user_id=user_id)
        messages.success(request, "Slack user unlinked.")
        return redirect("team_slack", team_slug=team_slug)
    connection = connections.slack_connection_for(team_id=team.pk)
    if connection is None:
        messages.error(request, "Connect Slack first.")
        return redirect("team_slack", team_slug=team_slug)
    try:
        people.slack_person_link(
            team=team,
            connection=connection,
            user_id=user_id,
            slack_user_id=request.POST.get("slack_user_id", "")[:100],
        )
    except SlackRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Slack user linked.")
    return redirect("team_slack", team_slug=team_slug)


# Slack's interactivity requests: a form with one field, ``payload`` (JSON).
@csrf_exempt
@require_POST
def slack_interactivity(request: HttpRequest) -> HttpResponse:
    """The merge question's buttons, pressed in Slack. Forged, stale, another
    person's or malformed requests get a 4xx with the reason, never a 500."""
    body = request.body
    try:
        if len(body) > merge_question_slack.MAX_BODY:
            raise InteractionRefused(413, "The request is too large.")
        merge_question_slack.slack_signature_verify(
            body=body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            signature=request.headers.get("X-Slack-Signature", ""),
        )
        try:
            form = parse_qs(body.decode(), strict_parsing=True, max_num_fields=5)
        except (UnicodeDecodeError, ValueError):
            raise InteractionRefused(400, "The body is not Slack's form.") from None
        payload = form.get("payload")
        if not payload or len(payload) != 1:
            raise InteractionRefused(400, "The body holds no payload.")
        merge_question_slack.slack_interaction_answer(body=body, payload_text=payload[0])
    except InteractionRefused as refused:
        return JsonResponse({"error": refused.message}, status=refused.status)
    return HttpResponse(status=200)


WEBHOOKS_ADMINS_ONLY = "Only team admins can see and change the team's outbound webhooks."


@login_required
def team_webhooks(request: HttpRequest, team_slug: str) -> HttpResponse:
    """Outbound webhooks: register (POST), the endpoints and their delivery logs."""
    membership = team_admin(user=request.user, team_slug=team_slug, reason=WEBHOOKS_ADMINS_ONLY)
    team = membership.team
    new_secret = None
    if request.method == "POST":
        try:
            endpoint, new_secret = webhooks.webhook_endpoint_create(
                team=team,
                url=request.POST.get("url", "")[:2000],
                kinds=request.POST.getlist("kinds")[:20],
                user_id=membership.user_id,
            )
        except webhooks.WebhookRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"Endpoint added: {endpoint.url}.")
    endpoints = list(selectors.webhook_endpoints_of(team=team))
    for endpoint in endpoints:
        endpoint.recent = list(selectors.webhook_deliveries_recent(endpoint=endpoint))  # type: ignore[attr-defined]
    return render(
        request,
        "notifications/webhooks.html",
        {
            "team": team,
            "membership": membership,
            "endpoints": endpoints,
            "kinds": webhooks.KINDS,
            "new_secret": new_secret,
        },
        status=400 if request.method == "POST" and new_secret is None else 200,
    )


@login_required
@require_POST
def webhook_endpoint_delete(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=WEBHOOKS_ADMINS_ONLY)
    if webhooks.webhook_endpoint_delete(team=membership.team, endpoint_id=pk):
        messages.success(request, "Endpoint removed.")
    return redirect("team_webhooks", team_slug=team_slug)


@login_required
@require_POST
def webhook_redeliver(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=WEBHOOKS_ADMINS_ONLY)
    if webhooks.outbound_delivery_redeliver(team=membership.team, delivery_id=pk):
        messages.success(request, "Redelivery queued.")
    else:
        messages.error(request, "That delivery cannot be redelivered now.")
    return redirect("team_webhooks", team_slug=team_slug)


def _not_saved(request: HttpRequest, form: forms.BaseForm) -> HttpResponse | None:
    """The refusal page naming each field's error, or None for a valid form."""
    if form.is_valid():
        return None
    errors = "; ".join(
        f"{form.fields[name].label if name in form.fields else name}: {' '.join(e)}"
        for name, e in form.errors.items()
    )
    return render(
        request,
        "notifications/refused.html",
        {"title": "Settings not saved", "message": errors},
        status=400,
    )


@login_required
@require_POST
def slack_settings(request: HttpRequest, team_slug: str) -> HttpResponse:
    """What the team is told, where and when (admins)."""
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    form = NotificationSettingsForm(request.POST)
    if (refused := _not_saved(request, form)) is not None:
        return refused
    preferences.notification_settings_save(team=membership.team, values=form.cleaned_data)
    messages.success(request, "Notification settings saved.")
    return redirect("team_slack", team_slug=team_slug)


@login_required
@require_POST
def slack_squad_settings(request: HttpRequest, team_slug: str, squad_id: int) -> HttpResponse:
    """What a squad is told, where and when (admins); 404 for another team's squad."""
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    squad = squad_of_team(team=membership.team, squad_id=squad_id)
    form = SquadNotificationSettingsForm(request.POST)
    if (refused := _not_saved(request, form)) is not None:
        return refused
    preferences.squad_notification_settings_save(squad=squad, values=form.cleaned_data)
    messages.success(request, f"Notification settings of the squad {squad.name} saved.")
    return redirect(f"{reverse('team_slack', args=[team_slug])}#squad-{squad.pk}")


@login_required
@require_POST
def slack_message_retry(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    """An admin sends a failed message again (after fixing the channel, say)."""
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    if slack_messages.slack_message_retry(team_id=membership.team.pk, message_id=pk):
        messages.success(request, "The message will be sent again.")
    else:
        messages.error(request, "Only a failed message can be sent again.")
    return redirect("team_slack", team_slug=team_slug)
