from django.urls import path

from apps.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("docs/", views.docs_index, name="docs"),
    path("docs/<slug:name>/", views.doc, name="doc"),
]
