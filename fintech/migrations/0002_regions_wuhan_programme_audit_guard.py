"""Data: the 17 Hubei divisions, the Wuhan programme with every DOMAIN.md default, and (on
PostgreSQL) a trigger that keeps the audit log append-only."""

from decimal import Decimal

from django.db import migrations

HUBEI = [
    ("420100", "武汉市", "Wuhan"),
    ("420200", "黄石市", "Huangshi"),
    ("420300", "十堰市", "Shiyan"),
    ("420500", "宜昌市", "Yichang"),
    ("420600", "襄阳市", "Xiangyang"),
    ("420700", "鄂州市", "Ezhou"),
    ("420800", "荆门市", "Jingmen"),
    ("420900", "孝感市", "Xiaogan"),
    ("421000", "荆州市", "Jingzhou"),
    ("421100", "黄冈市", "Huanggang"),
    ("421200", "咸宁市", "Xianning"),
    ("421300", "随州市", "Suizhou"),
    ("422800", "恩施土家族苗族自治州", "Enshi"),
    ("429004", "仙桃市", "Xiantao"),
    ("429005", "潜江市", "Qianjiang"),
    ("429006", "天门市", "Tianmen"),
    ("429021", "神农架林区", "Shennongjia"),
]

WUHAN = {
    "code": "wuhan",
    "name": "武汉知识产权质押融资 (Wuhan patent-pledge financing)",
    "insurer_share": Decimal("0.50"),
    "government_share": Decimal("0.30"),
    "bank_share": Decimal("0.20"),
    "interest_subsidy_rate": Decimal("0.25"),
    "premium_subsidy_rate": Decimal("0.40"),
    "subsidy_period": "quarter",
    "benchmark_mode": "daily",
    "forfeit_after_late": False,
    "annual_subsidy_cap": Decimal("500000.00"),
    "loan_cap": Decimal("5000000.00"),
    "min_term_months": 1,
    "max_term_months": 36,
    "premium_rate_min": Decimal("0.005"),
    "premium_rate_max": Decimal("0.03"),
    "min_remaining_patent_months": 24,
    "valuation_validity_months": 12,
    "pledge_rate_a": Decimal("0.50"),
    "pledge_rate_b": Decimal("0.40"),
    "pledge_rate_c": Decimal("0.30"),
    "grace_days": 0,
    "default_days_past_due": 90,
}

AUDIT_GUARD = """
CREATE OR REPLACE FUNCTION fintech_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS fintech_auditlog_append_only ON fintech_auditlog;
CREATE TRIGGER fintech_auditlog_append_only
    BEFORE UPDATE OR DELETE ON fintech_auditlog
    FOR EACH ROW EXECUTE FUNCTION fintech_auditlog_append_only();
"""
AUDIT_GUARD_DROP = """
DROP TRIGGER IF EXISTS fintech_auditlog_append_only ON fintech_auditlog;
DROP FUNCTION IF EXISTS fintech_auditlog_append_only();
"""


def load(apps, schema_editor):
    Region = apps.get_model("fintech", "Region")
    Program = apps.get_model("fintech", "Program")
    for code, zh, en in HUBEI:
        Region.objects.update_or_create(code=code, defaults={"name_zh": zh, "name_en": en})
    program, _ = Program.objects.get_or_create(code=WUHAN["code"], defaults=WUHAN)
    # The Wuhan programme serves Wuhan (420100); other cities' programmes list their own regions.
    program.regions.set(Region.objects.filter(code="420100"))
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD)


def unload(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD_DROP)
    apps.get_model("fintech", "Program").objects.filter(code=WUHAN["code"]).delete()
    apps.get_model("fintech", "Region").objects.filter(code__in=[c for c, _, _ in HUBEI]).delete()


class Migration(migrations.Migration):
    dependencies = [("fintech", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
