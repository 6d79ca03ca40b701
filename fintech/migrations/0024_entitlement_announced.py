"""Entitlements' `announced` mark: their `subsidy.computed` event is written (by a chunk, or by the
run's completion). The entitlements of runs already computed, approved or paid had theirs written
at completion. The SME's and the run's indexes become (SME, run) and (run, SME): a chunk reads one run's
entitlements of each of its SMEs, and each SME's of other runs."""

import django.db.models.deletion
from django.db import migrations, models


def mark_finalised(apps, schema_editor):
    SubsidyEntitlement = apps.get_model("fintech", "SubsidyEntitlement")
    SubsidyEntitlement.objects.filter(run__status__in=("computed", "approved", "paid")).update(announced=True)


class Migration(migrations.Migration):
    dependencies = [
        ("fintech", "0023_repayment_file_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="subsidyentitlement",
            name="announced",
            field=models.BooleanField(db_default=False, default=False, verbose_name="announced"),
        ),
        migrations.AlterField(
            model_name="subsidyentitlement",
            name="sme",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="subsidies",
                to="fintech.organization",
                verbose_name="SME",
            ),
        ),
        migrations.AlterField(
            model_name="subsidyentitlement",
            name="run",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entitlements",
                to="fintech.subsidyrun",
                verbose_name="run",
            ),
        ),
        migrations.AddIndex(
            model_name="subsidyentitlement",
            index=models.Index(fields=["run", "sme"], name="entitlement_run_sme_idx"),
        ),
        migrations.AddIndex(
            model_name="subsidyentitlement",
            index=models.Index(fields=["sme", "run"], name="entitlement_sme_run_idx"),
        ),
        migrations.RunPython(mark_finalised, migrations.RunPython.noop),
    ]
