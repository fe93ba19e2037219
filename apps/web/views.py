from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from apps.common.deadline import arrived_at
from apps.teams.access import StaffOnly
from apps.teams.selectors import teams_for_user
from apps.web.docs import doc_index, doc_read
from apps.web.services.health import broker_status, database_status
from apps.web.services.monitoring import (
    DeliveryCollector,
    HistoryCollector,
    ReconcileCollector,
    client_allowed,
)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"teams": teams_for_user(user=request.user)})


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    # Its own deadline, counted from arrival (HEALTH_DEADLINE_SECONDS): a
    # monitor learns of a frozen database in seconds, not when it thaws.
    database = database_status(
        answer_by=arrived_at(request.META) + settings.HEALTH_DEADLINE_SECONDS
    )
    broker = broker_status()
    ok = database == "up"
    return JsonResponse(
        {"status": "ok" if ok else "error", "database": database, "broker": broker},
        status=200 if ok else 503,
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for an operator's token or network only (404 to
    anyone else: the page does not say it exists)."""
    # REMOTE_ADDR, not X-Forwarded-For: a client sets that header itself.
    if not client_allowed(
        address=request.META.get("REMOTE_ADDR", ""),
        authorization=request.headers.get("Authorization", ""),
    ):
        raise Http404
    registry = CollectorRegistry(auto_describe=False)
    for collector in (DeliveryCollector(), HistoryCollector(), ReconcileCollector()):
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The styled 403 page (config/urls.py's handler403): the reason, and who to
    ask, which for a staff page is not a team's admin."""
    return render(
        request,
        "403.html",
        {"exception": str(exception), "staff_only": isinstance(exception, StaffOnly)},
        status=403,
    )


@login_required
@require_safe
def docs_index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/docs.html", {"docs": doc_index()})


@login_required
@require_safe
def doc(request: HttpRequest, name: str) -> HttpResponse:
    found = doc_read(name=name)
    if found is None:
        raise Http404("No such document.")
    return render(request, "web/doc.html", {"doc": found})
