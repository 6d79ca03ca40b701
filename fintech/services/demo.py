"""The demo book behind `manage.py seed_demo` (idempotent: found by USCC and username)."""

from __future__ import annotations

from decimal import Decimal

from fintech.models import Organization, OrganizationKind, User
from fintech.services.parties import member_add, sme_register

DEMO_PASSWORD = "Demo-pledge-2025!"

# (kind, name, USCC, username) -- USCCs with valid GB 32100 check characters.
MEMBERS = [
    ("platform", "Wuhan IP Finance Platform 武汉知识产权金融平台", "91420100MA00090013", "platform"),
    ("bank", "Hankou Bank Optics Valley Branch 汉口银行光谷支行", "91420100MA00090026", "bank"),
    ("insurer", "Wuhan Guarantee Insurance 武汉保证保险", "91420100MA00090039", "insurer"),
    ("appraiser", "Hubei Zhongshen Appraisal 湖北中审资产评估", "91420100MA0009004C", "appraiser"),
    ("regulator", "East Lake High-tech Zone Finance Office 东湖高新区金融办", "91420100MA0009005F", "regulator"),
    ("regulator", "East Lake High-tech Zone Finance Office 东湖高新区金融办", "91420100MA0009005F", "regulator2"),
]
SMES = [
    ("Optics Valley Photonics 光谷光子科技", "91420100MA0009006J", "sme1", "software_it", 80, "30000000.00"),
    ("Jiangcheng Biotech 江城生物", "91420100MA0009007M", "sme2", "industry", 150, "60000000.00"),
]


def demo_seed() -> list[str]:
    """Create what is missing and describe the whole demo cast."""
    lines = ["Demo users (password for all: %s):" % DEMO_PASSWORD]
    for kind, name, uscc, username in MEMBERS:
        if not User.objects.filter(username=username).exists():
            member_add(kind=kind, org_name=name, uscc=uscc, region_code="420100", username=username,
                       password=DEMO_PASSWORD)
        lines.append(f"  {username:<11} {kind:<10} {name}")
    for name, uscc, username, industry, employees, revenue in SMES:
        if not Organization.objects.filter(uscc=uscc).exists():
            sme_register(username=username, password=DEMO_PASSWORD, name=name, uscc=uscc, region_code="420100",
                         industry=industry, employees=employees, annual_revenue=Decimal(revenue),
                         total_assets=Decimal("20000000.00"))
        lines.append(f"  {username:<11} {OrganizationKind.SME:<10} {name}")
    admin = User.objects.get(username="platform")
    if not admin.is_superuser:
        admin.is_superuser = True
        admin.save(update_fields=["is_superuser"])
    lines.append("Admin: http://127.0.0.1:8000/admin/ (log in as 'platform', 'bank' or 'insurer')")
    lines.append("API docs: http://127.0.0.1:8000/api/v1/docs/")
    return lines
