from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("apps.teams.urls")),
    path("", include("apps.integrations.urls")),
    path("", include("apps.metrics.urls")),
    path("", include("apps.notifications.urls")),
    path("", include("apps.web.urls")),
]

handler403 = "apps.web.views.permission_denied"
