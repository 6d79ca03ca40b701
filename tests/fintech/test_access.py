"""fintech.access: the one answer to "who may see this row" and "does this actor act for this party
on this record" (DOMAIN.md section 11), as the API, the admin and the services ask it."""

import pytest

from fintech.access import acts_for, settling_party, visible
from fintech.models import Application, Loan, OrganizationKind, Region
from fintech.services.applications import application_submit, application_withdraw
from tests.builders import active_loan, application_at, cast
from tests.factories import OrganizationFactory, UserFactory

K = OrganizationKind
pytestmark = pytest.mark.django_db


def _regulator(region_code: str = "420100"):
    return UserFactory(
        organization=OrganizationFactory(kind=K.REGULATOR, region=Region.objects.get(code=region_code))
    )


def test_a_party_acts_for_its_own_side_of_a_loan_only():
    # given an active loan, and another bank, another region's regulator and a platform superuser
    loan, people = active_loan()
    other_bank = UserFactory(organization=OrganizationFactory(kind=K.BANK))
    regulator, elsewhere = _regulator(), _regulator("420200")
    platform = UserFactory(organization=None, is_superuser=True)

    # then the loan's bank acts for the bank, its policy's insurer for the insurer (through the
    # policy), a regulator of the SME's region for the regulator, and nobody else
    assert acts_for(people.bank, K.BANK, loan)
    assert not acts_for(people.bank, K.INSURER, loan)
    assert not acts_for(other_bank, K.BANK, loan)
    assert acts_for(people.insurer, K.INSURER, loan)
    assert acts_for(people.insurer, K.INSURER, loan.application)
    assert acts_for(regulator, K.REGULATOR, loan)
    assert not acts_for(elsewhere, K.REGULATOR, loan)
    assert not acts_for(platform, K.BANK, loan)  # platform staff administer; they act for no party
    # and the share of a loss each settles follows from it
    assert (settling_party(people.insurer, loan), settling_party(regulator, loan)) == (
        "insurer",
        "government",
    )
    assert settling_party(people.bank, loan) is None
    assert settling_party(elsewhere, loan) is None


def test_a_draft_is_the_smes_alone_until_it_is_submitted():
    # given a draft naming a bank, an insurer and an appraisal firm
    c = cast()
    app = application_at("draft", sme=c.sme, bank=c.bank, insurer=c.insurer, appraiser=c.appraiser)
    regulator = _regulator()

    def seen_by(user):
        return list(visible(user, Application.objects.all()).values_list("pk", flat=True))

    # then only the SME sees it
    assert (seen_by(c.sme), seen_by(c.bank), seen_by(c.insurer), seen_by(c.appraiser)) == (
        [app.pk],
        [],
        [],
        [],
    )
    assert seen_by(regulator) == []

    # when it is submitted, every party it names and the region's regulator see it
    application_submit(actor=c.sme, application_id=app.pk)
    assert [seen_by(u) for u in (c.sme, c.bank, c.insurer, c.appraiser, regulator)] == [[app.pk]] * 5
    # and another region's regulator does not
    assert seen_by(_regulator("420200")) == []


def test_a_draft_withdrawn_before_submission_stays_the_smes_alone():
    # given a draft naming a bank, an insurer and an appraisal firm, withdrawn by the SME unsubmitted
    c = cast()
    app = application_at("draft", sme=c.sme, bank=c.bank, insurer=c.insurer, appraiser=c.appraiser)
    application_withdraw(actor=c.sme, application_id=app.pk, reason="changed our plans")
    assert Application.objects.get(pk=app.pk).status == "withdrawn"

    def seen_by(user):
        return list(visible(user, Application.objects.all()).values_list("pk", flat=True))

    # then the parties it names and the region's regulator still never see it; the SME does
    assert [seen_by(u) for u in (c.sme, c.bank, c.insurer, c.appraiser, _regulator())] == [
        [app.pk],
        [],
        [],
        [],
        [],
    ]


def test_an_appraisal_firm_sees_no_loan_and_another_bank_sees_none_of_ours():
    loan, people = active_loan()
    other_bank = UserFactory(organization=OrganizationFactory(kind=K.BANK))

    def loans_of(user):
        return list(visible(user, Loan.objects.all()).values_list("pk", flat=True))

    assert (loans_of(people.bank), loans_of(people.insurer), loans_of(people.sme)) == ([loan.pk],) * 3
    assert (loans_of(people.appraiser), loans_of(other_bank)) == ([], [])
