from django.contrib import admin
from django.urls import include, path

# The integrations' URLs first: the webhook, the busiest by far, is then the
# first pattern tried.
urlpatterns = [
    path("", include("apps.integrations.urls")),
    path("admin/", admin.site.urls),
    path("", include("apps.teams.urls")),
    path("", include("apps.web.urls")),
]
