"""API tokens gain scopes; every token made before could only read, so it keeps
exactly that (`read`)."""

from django.db import migrations, models


def existing_tokens_read(apps, schema_editor) -> None:
    APIToken = apps.get_model("metrics", "APIToken")
    APIToken.objects.all().update(scopes=["read"])


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0012_pull_request_links_to_github_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(default=list),
        ),
        migrations.RunPython(existing_tokens_read, migrations.RunPython.noop),
    ]
