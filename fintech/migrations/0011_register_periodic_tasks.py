"""Register the periodic tasks of Celery beat (the daily close, the patent expiry, the batch
watchdog) once, here, instead of after every migrate; reversible."""

from django.db import migrations


def register(apps, schema_editor):
    from fintech.services.beat import ensure_beat_schedule

    ensure_beat_schedule(apps, using=schema_editor.connection.alias)


def unregister(apps, schema_editor):
    from fintech.services.beat import remove_beat_schedule

    remove_beat_schedule(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("fintech", "0010_batch_engine_chunks_fsm_watchdog"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
