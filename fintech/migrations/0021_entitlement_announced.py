"""Entitlements' `announced` mark: their `subsidy.computed` event is written (by a chunk, or by the
run's completion). The entitlements of runs already computed, approved or paid had theirs written
at completion."""

from django.db import migrations, models


def mark_finalised(apps, schema_editor):
    SubsidyEntitlement = apps.get_model("fintech", "SubsidyEntitlement")
    SubsidyEntitlement.objects.filter(run__status__in=("computed", "approved", "paid")).update(announced=True)


class Migration(migrations.Migration):
    dependencies = [
        ("fintech", "0020_partial_prepayment_once_per_value_date"),
    ]

    operations = [
        migrations.AddField(
            model_name="subsidyentitlement",
            name="announced",
            field=models.BooleanField(db_default=False, default=False, verbose_name="announced"),
        ),
        migrations.RunPython(mark_finalised, migrations.RunPython.noop),
    ]
