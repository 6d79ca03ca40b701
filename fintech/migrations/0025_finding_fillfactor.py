"""Findings are rewritten every night (each open finding's last_seen_on, an unindexed column): on
PostgreSQL the table keeps half of each page free (fillfactor 50) so those updates stay on their
page (HOT: no new entry in the finding's six indexes), about ten times cheaper
(bench/collateral_watch.py). New pages only; VACUUM FULL or a rewrite applies it to old ones.
Nothing on SQLite."""

from django.db import migrations


def fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE fintech_finding SET (fillfactor = 50)")


def fillfactor_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE fintech_finding RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("fintech", "0024_entitlement_announced"),
    ]

    operations = [migrations.RunPython(fillfactor, fillfactor_default)]
