from django.db import migrations


def key_by_destination(apps, schema_editor):
    """Nudges' keys now end with their destination (`services/nudges.py`): a key
    of the form before (kind, pull request, event) gets its channel, so that a
    nudge sent before the upgrade is not sent again after it."""
    SlackMessage = apps.get_model("notifications", "SlackMessage")
    old = SlackMessage.objects.filter(key__startswith="nudge:").only("pk", "key", "channel")
    changed = []
    for message in old.iterator():
        if message.key.count(":") == 3:
            message.key = f"{message.key}:{message.channel}"
            changed.append(message)
    SlackMessage.objects.bulk_update(changed, ["key"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_squad_notification_settings")]

    operations = [migrations.RunPython(key_by_destination, migrations.RunPython.noop)]
