from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.teams.selectors import teams_for_user
from apps.web.services.health import broker_status, database_status


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"teams": teams_for_user(user=request.user)})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = database_status()
    broker = broker_status()
    ok = database == "up"
    return JsonResponse(
        {"status": "ok" if ok else "error", "database": database, "broker": broker},
        status=200 if ok else 503,
    )
