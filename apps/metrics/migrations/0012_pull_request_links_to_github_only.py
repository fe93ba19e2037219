"""Pull requests stored with an ``html_url`` that is not a page of GitHub's own
site (a ``javascript:`` URL, another site) lose it: pages link only to GitHub
(``github_link`` in apps/metrics/services/payloads.py, which now filters what
is stored)."""

from django.conf import settings
from django.db import migrations


def forget_other_links(apps, schema_editor) -> None:
    PullRequest = apps.get_model("metrics", "PullRequest")
    (
        PullRequest.objects.exclude(html_url="")
        .exclude(html_url__istartswith="https://github.com/")
        .exclude(html_url__istartswith=settings.GITHUB_WEB_URL.rstrip("/") + "/")
        .update(html_url="")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0011_one_person_per_account"),
    ]

    operations = [
        migrations.RunPython(forget_other_links, migrations.RunPython.noop),
    ]
