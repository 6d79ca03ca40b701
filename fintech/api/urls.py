from django.urls import path

from . import (
    applications,
    collateral,
    defaults,
    events,
    ledger,
    loans,
    parties,
    patents,
    policies,
    repayment_files,
    repayments,
    risk_pool,
    scenarios,
    subsidies,
    valuations,
)

urlpatterns = [
    path("auth/register/", parties.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", parties.TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", parties.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("me/", parties.MeApi.as_view(), name="me"),
    path("organizations/", parties.OrganizationListApi.as_view(), name="organization-list"),
    path("programs/", parties.ProgramListApi.as_view(), name="program-list"),
    path("programs/<int:pk>/", parties.ProgramDetailApi.as_view(), name="program-detail"),
    path("patents/", patents.PatentListCreateApi.as_view(), name="patent-list"),
    path("patents/<int:pk>/", patents.PatentDetailApi.as_view(), name="patent-detail"),
    # Origination
    path("applications/", applications.ApplicationListCreateApi.as_view(), name="application-list"),
    path("applications/<int:pk>/", applications.ApplicationDetailApi.as_view(), name="application-detail"),
    path(
        "applications/<int:pk>/submit/",
        applications.ApplicationSubmitApi.as_view(),
        name="application-submit",
    ),
    path(
        "applications/<int:pk>/withdraw/",
        applications.ApplicationWithdrawApi.as_view(),
        name="application-withdraw",
    ),
    path(
        "applications/<int:pk>/decline/",
        applications.ApplicationDeclineApi.as_view(),
        name="application-decline",
    ),
    path("applications/<int:pk>/policy/", policies.PolicyIssueApi.as_view(), name="application-policy"),
    path(
        "applications/<int:pk>/approve/",
        applications.ApplicationApproveApi.as_view(),
        name="application-approve",
    ),
    path(
        "policies/<int:pk>/premium-payments/",
        policies.PremiumPaymentApi.as_view(),
        name="policy-premium-payments",
    ),
    path("valuations/", valuations.ValuationListApi.as_view(), name="valuation-list"),
    path("valuations/<int:pk>/", valuations.ValuationDetailApi.as_view(), name="valuation-detail"),
    path("valuations/<int:pk>/report/", valuations.ValuationReportApi.as_view(), name="valuation-report"),
    path("loans/", loans.LoanListApi.as_view(), name="loan-list"),
    path("loans/<int:pk>/", loans.LoanDetailApi.as_view(), name="loan-detail"),
    path("loans/<int:pk>/schedule/", loans.LoanScheduleApi.as_view(), name="loan-schedule"),
    path("loans/<int:pk>/pledge/", loans.PledgeApi.as_view(), name="loan-pledge"),
    path("loans/<int:pk>/disburse/", loans.DisburseApi.as_view(), name="loan-disburse"),
    path("loans/<int:pk>/extensions/", loans.LoanExtensionApi.as_view(), name="loan-extensions"),
    path("extensions/<int:pk>/", loans.ExtensionDetailApi.as_view(), name="extension-detail"),
    path("extensions/<int:pk>/endorse/", loans.ExtensionEndorseApi.as_view(), name="extension-endorse"),
    path("loans/<int:pk>/repayments/", repayments.LoanRepaymentApi.as_view(), name="loan-repayments"),
    path("loans/<int:pk>/payoff/", repayments.LoanPayoffApi.as_view(), name="loan-payoff"),
    path("loans/<int:pk>/prepayments/", repayments.LoanPrepaymentApi.as_view(), name="loan-prepayments"),
]

# These modules keep their other routes next to their views.
urlpatterns += (
    repayment_files.urlpatterns
    + repayments.urlpatterns
    + ledger.urlpatterns
    + defaults.urlpatterns
    + risk_pool.urlpatterns
    + subsidies.urlpatterns
    + scenarios.urlpatterns
    + events.urlpatterns
    + collateral.urlpatterns
)
