"""Data: the chart of accounts and the benchmark rates of DOMAIN.md section 9 (PBOC benchmark
frozen since 2015-10-24; LPR fixings from 2019-08-20). The regulator adds new fixings in the admin."""

from decimal import Decimal

from django.db import migrations

ACCOUNTS = (
    ("1001", "Bank cash", "银行存款-贷款银行", "asset"),
    ("1002", "Insurer cash", "银行存款-保险公司", "asset"),
    ("1003", "Risk fund cash", "风险补偿资金池存款", "asset"),
    ("1004", "SME cash", "企业存款", "asset"),
    ("1005", "Government subsidy budget", "财政补贴资金", "asset"),
    ("1101", "Loans receivable", "贷款本金", "asset"),
    ("1201", "Defaulted loans (clearing)", "违约贷款清算", "asset"),
    ("1202", "Claim on insurer", "应收保险赔款", "asset"),
    ("1203", "Claim on risk fund", "应收风险补偿", "asset"),
    ("2001", "Insurer claims payable", "应付保险赔款", "liability"),
    ("2002", "Risk fund claims payable", "应付风险补偿", "liability"),
    ("2003", "Subsidies payable", "应付补贴", "liability"),
    ("2004", "SME loans payable", "企业借款", "liability"),
    ("3001", "Risk fund capital", "风险补偿资金", "equity"),
    ("4001", "Interest income", "利息收入", "income"),
    ("4002", "Premium income", "保费收入", "income"),
    ("4004", "SME subsidy income", "企业补贴收入", "income"),
    ("5001", "Bank credit loss", "银行贷款损失", "expense"),
    ("5002", "Insurer claims expense", "保险赔付支出", "expense"),
    ("5003", "Risk fund loss expense", "风险补偿支出", "expense"),
    ("5004", "Subsidy expense", "补贴支出", "expense"),
    ("5005", "SME interest expense", "企业利息支出", "expense"),
    ("5006", "SME premium expense", "企业保费支出", "expense"),
)

# PBOC benchmark, frozen since 2015-10-24: up to 1 year, 1-5 years, beyond 5 years.
PBOC = [("2015-10-24", 1, 12, "0.0435"), ("2015-10-24", 13, 60, "0.0475"), ("2015-10-24", 61, None, "0.0490")]
# LPR (1Y for terms up to 60 months, 5Y beyond), effective dates of DOMAIN.md section 9.
LPR = [
    ("2019-08-20", "0.0425", "0.0485"),
    ("2019-09-20", "0.0420", "0.0485"),
    ("2019-11-20", "0.0415", "0.0480"),
    ("2020-02-20", "0.0405", "0.0475"),
    ("2020-04-20", "0.0385", "0.0465"),
    ("2021-12-20", "0.0380", "0.0465"),
    ("2022-01-20", "0.0370", "0.0460"),
    ("2022-05-20", "0.0370", "0.0445"),
    ("2022-08-22", "0.0365", "0.0430"),
    ("2023-06-20", "0.0355", "0.0420"),
    ("2023-08-21", "0.0345", "0.0420"),
    ("2024-02-20", "0.0345", "0.0395"),
    ("2024-07-22", "0.0335", "0.0385"),
    ("2024-10-21", "0.0310", "0.0360"),
    ("2025-05-20", "0.0300", "0.0350"),
]


def load(apps, schema_editor):
    Account = apps.get_model("fintech", "Account")
    BenchmarkRate = apps.get_model("fintech", "BenchmarkRate")
    for code, name, name_zh, kind in ACCOUNTS:
        Account.objects.update_or_create(code=code, defaults={"name": name, "name_zh": name_zh, "kind": kind})
    for on, lo, hi, rate in PBOC:
        BenchmarkRate.objects.update_or_create(
            effective_on=on,
            term_min_months=lo,
            defaults={"source": "pboc", "term_max_months": hi, "rate": Decimal(rate)},
        )
    for on, one_year, five_year in LPR:
        BenchmarkRate.objects.update_or_create(
            effective_on=on,
            term_min_months=1,
            defaults={"source": "lpr", "term_max_months": 60, "rate": Decimal(one_year)},
        )
        BenchmarkRate.objects.update_or_create(
            effective_on=on,
            term_min_months=61,
            defaults={"source": "lpr", "term_max_months": None, "rate": Decimal(five_year)},
        )


def unload(apps, schema_editor):
    apps.get_model("fintech", "BenchmarkRate").objects.all().delete()
    apps.get_model("fintech", "Account").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("fintech", "0004_servicing_ledger_risk_subsidies")]

    operations = [migrations.RunPython(load, unload)]
