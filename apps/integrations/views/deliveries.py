"""The delivery log: what GitHub sent and what became of it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.integrations import selectors
from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline.requeue import RetryRefused, retry_delivery
from apps.teams.access import staff_only, team_admin
from apps.teams.models import Membership

ADMINS_ONLY = "Only team admins see the webhook deliveries."


def _admin_membership(request: HttpRequest, team_slug: str) -> Membership:
    return team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)


def _render_log(request: HttpRequest, context: dict[str, object]) -> HttpResponse:
    return render(
        request,
        "integrations/deliveries.html",
        {
            "statuses": WebhookDelivery.Status.choices,
            "status": request.GET.get("status", ""),
            **context,
        },
    )


@login_required
def team_deliveries(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = _admin_membership(request, team_slug)
    team = membership.team
    deliveries = selectors.team_deliveries(team=team, status=request.GET.get("status"))
    return _render_log(request, {"team": team, "membership": membership, "deliveries": deliveries})


@login_required
@require_POST
def retry(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    team = _admin_membership(request, team_slug).team
    delivery = selectors.team_delivery_or_404(team=team, pk=pk)
    try:
        retry_delivery(delivery=delivery)
    except RetryRefused as refusal:
        messages.warning(request, str(refusal))
    else:
        messages.success(request, f"Delivery {delivery.delivery_id} is queued again.")
    return redirect("github_deliveries", team_slug=team.slug)


@login_required
def all_deliveries(request: HttpRequest) -> HttpResponse:
    staff_only(user=request.user, reason="Only staff see every team's deliveries.")
    deliveries = selectors.all_deliveries(status=request.GET.get("status"))
    runs = selectors.reconcile_runs()
    return _render_log(
        request,
        {
            "team": None,
            "deliveries": deliveries,
            "reconcile_runs": runs,
            "last_reconcile": runs[0] if runs else None,
        },
    )
