from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("fintech", "0015_field_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="RegulatorDashboard",
            fields=[],
            options={
                "verbose_name": "regulator dashboard",
                "verbose_name_plural": "regulator dashboard",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("fintech.program",),
        ),
    ]
