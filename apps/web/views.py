from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from apps.common.deadline import arrived_at
from apps.teams.selectors import teams_for_user
from apps.web.services.health import broker_status, database_status
from apps.web.services.monitoring import DeliveryCollector, client_allowed


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"teams": teams_for_user(user=request.user)})


@never_cache
@require_GET
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
@require_GET
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
    registry.register(DeliveryCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
