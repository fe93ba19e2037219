"""The delivery log: what GitHub sent and what became of it."""

from __future__ import annotations

import re
from collections.abc import Callable

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


# A page number: ASCII digits only (int() would take "٢" or "1_0"), not too many.
_PAGE = re.compile(r"[1-9][0-9]{0,5}", re.ASCII)


class BadPage(ValueError):
    pass


def _page_number(request: HttpRequest) -> int:
    value = request.GET.get("page", "1")
    if not _PAGE.fullmatch(value):
        raise BadPage("'page' must be a whole number from 1 to 999999.")
    return int(value)


def _status(request: HttpRequest) -> str:
    status = request.GET.get("status", "")
    return status if status in WebhookDelivery.Status.values else ""


def _render_log(
    request: HttpRequest,
    context: dict[str, object],
    read: Callable[[str, int], selectors.DeliveryPage],
) -> HttpResponse:
    status = _status(request)
    base = {"statuses": WebhookDelivery.Status.choices, "status": status, **context}
    try:
        page = _page_number(request)
    except BadPage as exc:
        return render(
            request, "integrations/deliveries.html", {**base, "error": str(exc)}, status=400
        )
    query = f"status={status}&" if status else ""
    return render(
        request,
        "integrations/deliveries.html",
        {**base, "deliveries": read(status, page), "page_query": query},
    )


@login_required
def team_deliveries(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = _admin_membership(request, team_slug)
    team = membership.team
    return _render_log(
        request,
        {"team": team, "membership": membership},
        lambda status, page: selectors.team_deliveries(team=team, status=status, page=page),
    )


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
    runs = selectors.reconcile_runs()
    return _render_log(
        request,
        {"team": None, "reconcile_runs": runs, "last_reconcile": runs[0] if runs else None},
        lambda status, page: selectors.all_deliveries(status=status, page=page),
    )
