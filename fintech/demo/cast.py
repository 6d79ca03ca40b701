"""The people and the story of the demo book: data only. `book.py` drives the services with it.

Every USCC carries a valid GB 32100 check character; every patent number a valid ZC 0006-2003 one
(computed when the patent is registered). Offsets are in months from the book's start (`base`, the
15th of the month thirteen months ago) or in days before today, so the book is always "live".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DEMO_PASSWORD = "Demo-pledge-2025!"
REGION = "420100"  # Wuhan

D = Decimal


@dataclass(frozen=True)
class Member:
    kind: str
    name: str
    uscc: str
    username: str


# Two users in one organisation where a second person must approve (settlements, subsidy runs).
MEMBERS = [
    Member("platform", "Wuhan IP Finance Platform 武汉知识产权金融平台", "91420100MA00090013", "platform"),
    Member("bank", "Hankou Bank Optics Valley Branch 汉口银行光谷支行", "91420100MA00090026", "bank"),
    Member("bank", "China Construction Bank Hubei Branch 建设银行湖北省分行", "91420100MA00090114", "bank2"),
    Member("insurer", "PICC Property and Casualty Wuhan 人保财险武汉分公司", "91420100MA00090039", "insurer"),
    Member(
        "insurer", "PICC Property and Casualty Wuhan 人保财险武汉分公司", "91420100MA00090039", "insurer2"
    ),
    Member(
        "insurer", "Ping An Property and Casualty Hubei 平安产险湖北分公司", "91420100MA00090127", "pingan"
    ),
    Member(
        "insurer", "Ping An Property and Casualty Hubei 平安产险湖北分公司", "91420100MA00090127", "pingan2"
    ),
    Member("appraiser", "Hubei Zhongshen Appraisal 湖北中审资产评估", "91420100MA0009004C", "appraiser"),
    Member("appraiser", "Wuhan Zhicheng Appraisal 武汉智诚资产评估", "91420100MA0009013A", "appraiser2"),
    Member(
        "regulator",
        "East Lake High-tech Zone Finance Office 东湖高新区金融办",
        "91420100MA0009005F",
        "regulator",
    ),
    Member(
        "regulator",
        "East Lake High-tech Zone Finance Office 东湖高新区金融办",
        "91420100MA0009005F",
        "regulator2",
    ),
]


@dataclass(frozen=True)
class Sme:
    username: str
    name: str
    uscc: str
    industry: str
    employees: int
    revenue: str
    assets: str


# Different industries and size classes (2011 table): small, medium, small, micro, small, small.
SMES = [
    Sme(
        "sme1",
        "Optics Valley Photonics 光谷光子科技",
        "91420100MA0009006J",
        "software_it",
        80,
        "30000000.00",
        "20000000.00",
    ),
    Sme(
        "sme2",
        "Jiangcheng Precision Machinery 江城精密机械",
        "91420100MA0009007M",
        "industry",
        450,
        "120000000.00",
        "90000000.00",
    ),
    Sme(
        "sme3",
        "Huazhong Robotics 华中机器人",
        "91420100MA0009008Q",
        "industry",
        120,
        "45000000.00",
        "30000000.00",
    ),
    Sme(
        "sme4",
        "Guanggu Software 光谷软件",
        "91420100MA00090101",
        "software_it",
        8,
        "4000000.00",
        "2500000.00",
    ),
    Sme(
        "sme5",
        "Donghu Materials 东湖新材料",
        "91420100MA0009009U",
        "industry",
        60,
        "18000000.00",
        "12000000.00",
    ),
    Sme(
        "sme6",
        "Hanyang Smart Logistics 汉阳智慧物流",
        "91420100MA0009014D",
        "transport",
        250,
        "50000000.00",
        "40000000.00",
    ),
]

RFR, MARKET, COST = "relief_from_royalty", "market", "cost"


@dataclass(frozen=True)
class Valuation:
    """A report: the method of the patent's value and the five scores that give the grade."""

    method: str
    scores: tuple[int, int, int, int, int]  # legal, technical, economic, operating, economic benefit


# Scorecard 2025.1 (docs/rules.md section 3): A from 80, B from 70, C from 60.
GRADE_A = (88, 85, 84, 82, 80)  # 84.20
GRADE_B = (82, 76, 78, 72, 74)  # 76.80
GRADE_C = (68, 64, 66, 62, 60)  # 64.40


@dataclass(frozen=True)
class Story:
    """One application and how far it goes. `until` is the application's last status."""

    key: str
    sme: str
    bank: str
    insurer: str
    appraiser: str
    valuation: Valuation
    amount: str
    term: int
    method: str
    rate: str
    premium_rate: str
    until: str
    disbursed_month: int = 0  # months after base (loans that were disbursed)
    days_ago: int = 0  # for applications still in a queue: when they last moved
    late: tuple[tuple[int, int], ...] = ()  # (installment, days late)
    stop_after: int | None = None  # installments paid before the SME stopped paying
    reason: str = ""


STORIES = [
    # Paid every installment on its due date; settled at maturity.
    Story(
        "on-time",
        "sme1",
        "bank",
        "insurer",
        "appraiser",
        Valuation(RFR, GRADE_B),
        "1000000.00",
        12,
        "equal_principal",
        "0.045",
        "0.02",
        "settled",
        disbursed_month=0,
    ),
    # Interest monthly, principal at maturity: the fourth installment paid five days late.
    Story(
        "late",
        "sme2",
        "bank2",
        "pingan",
        "appraiser2",
        Valuation(MARKET, GRADE_A),
        "2000000.00",
        12,
        "interest_monthly_principal_at_maturity",
        "0.042",
        "0.015",
        "active",
        disbursed_month=2,
        late=((4, 5),),
    ),
    # Two installments paid, then nothing: the daily close defaults it on due date + 91 days.
    Story(
        "defaulted",
        "sme3",
        "bank",
        "pingan",
        "appraiser",
        Valuation(COST, GRADE_C),
        "600000.00",
        12,
        "equal_installment",
        "0.048",
        "0.025",
        "defaulted",
        disbursed_month=1,
        stop_after=2,
    ),
    # A six-month loan settled at maturity.
    Story(
        "short",
        "sme1",
        "bank2",
        "insurer",
        "appraiser2",
        Valuation(RFR, GRADE_A),
        "500000.00",
        6,
        "interest_monthly_principal_at_maturity",
        "0.042",
        "0.01",
        "settled",
        disbursed_month=5,
    ),
    # Equal installments, paid on time so far.
    Story(
        "running",
        "sme5",
        "bank",
        "insurer",
        "appraiser",
        Valuation(RFR, GRADE_B),
        "700000.00",
        12,
        "equal_installment",
        "0.0435",
        "0.02",
        "active",
        disbursed_month=8,
    ),
    # Approved by the bank; the premium and the pledge are still to come.
    Story(
        "approved",
        "sme4",
        "bank2",
        "pingan",
        "appraiser2",
        Valuation(MARKET, GRADE_B),
        "300000.00",
        12,
        "equal_principal",
        "0.045",
        "0.02",
        "approved",
        days_ago=4,
    ),
    # Queues: the bank's, the insurer's, the appraiser's, and a draft.
    Story(
        "bank-queue",
        "sme2",
        "bank",
        "insurer",
        "appraiser",
        Valuation(RFR, GRADE_A),
        "900000.00",
        12,
        "equal_principal",
        "0.044",
        "0.015",
        "bank_review",
        days_ago=2,
    ),
    Story(
        "insurer-queue",
        "sme5",
        "bank2",
        "pingan",
        "appraiser2",
        Valuation(COST, GRADE_B),
        "400000.00",
        12,
        "interest_monthly_principal_at_maturity",
        "0.045",
        "0.02",
        "underwriting",
        days_ago=3,
    ),
    Story(
        "appraiser-queue",
        "sme6",
        "bank",
        "insurer",
        "appraiser",
        Valuation(RFR, GRADE_B),
        "800000.00",
        12,
        "equal_principal",
        "0.045",
        "0.02",
        "valuation",
        days_ago=6,
    ),
    Story(
        "draft",
        "sme6",
        "bank2",
        "pingan",
        "appraiser2",
        Valuation(RFR, GRADE_B),
        "500000.00",
        12,
        "equal_principal",
        "0.045",
        "0.02",
        "draft",
        days_ago=1,
    ),
    # Declined by the insurer after a grade-C valuation; withdrawn by the SME while in valuation.
    Story(
        "declined",
        "sme3",
        "bank2",
        "insurer",
        "appraiser",
        Valuation(RFR, GRADE_C),
        "1500000.00",
        12,
        "equal_principal",
        "0.045",
        "0.02",
        "declined",
        days_ago=20,
        reason="Grade C and a second loan outstanding: above our appetite.",
    ),
    Story(
        "withdrawn",
        "sme4",
        "bank",
        "insurer",
        "appraiser2",
        Valuation(RFR, GRADE_B),
        "200000.00",
        12,
        "equal_principal",
        "0.045",
        "0.02",
        "withdrawn",
        days_ago=30,
        reason="Financed by an equity round instead.",
    ),
]

FUND_TOP_UP = D("5000000.00")
RECOVERY = D("120000.00")  # a licence of the defaulted loan's pledged patent, 30 days after default
