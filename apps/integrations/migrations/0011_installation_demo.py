from django.db import migrations, models

# The installation `manage.py demo` makes (apps/integrations/demo/story.py),
# as it was when this migration was written: its id and its organisation.
DEMO_INSTALLATION_ID = 91900019
DEMO_ACCOUNT = "tformance-demo"


def mark_the_demo(apps, schema_editor):
    """A demo loaded before this field existed: mark its installation, and drop
    the history runs it started, which failed (no GitHub App can read the demo)."""
    installation = apps.get_model("integrations", "Installation")
    history_run = apps.get_model("integrations", "HistoryRun")
    demo = installation.objects.filter(
        installation_id=DEMO_INSTALLATION_ID, account_login=DEMO_ACCOUNT
    )
    demo.update(demo=True)
    history_run.objects.filter(repository__installation__in=demo).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0010_merge_history_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="installation",
            name="demo",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_the_demo, migrations.RunPython.noop),
    ]
