"""factory-boy factories for every model the tests build."""

import uuid
from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from billing.models import (
    Customer,
    EventStatus,
    RevenueSignal,
    SignalKind,
    StripeConnection,
    StripeEvent,
    Subscription,
)
from custory.models import Membership, Role, User, Workspace
from journeys.models import Journey, MappingRule, Stage, Step
from tasks.models import FollowUpTask, TaskRule


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        """Users have confirmed their address (email verification is mandatory); False: not yet."""
        if create and extracted is not False:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"ws-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class StripeConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StripeConnection

    workspace = factory.SubFactory(WorkspaceFactory)
    label = "Stripe"
    account_id = factory.Sequence(lambda n: f"acct_{n:016d}")
    livemode = False


class StripeEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StripeEvent

    workspace = factory.SubFactory(WorkspaceFactory)
    connection = factory.SubFactory(
        StripeConnectionFactory, workspace=factory.SelfAttribute("..workspace")
    )
    stripe_id = factory.LazyFunction(lambda: f"evt_{uuid.uuid4().hex[:24]}")
    type = "invoice.payment_failed"
    api_version = "2024-06-20"
    created = factory.LazyFunction(timezone.now)
    payload = factory.LazyAttribute(
        lambda o: {"id": o.stripe_id, "object": "event", "type": o.type, "data": {"object": {}}}
    )
    status = EventStatus.PROCESSED


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    workspace = factory.SubFactory(WorkspaceFactory)
    stripe_id = factory.LazyFunction(lambda: f"cus_{uuid.uuid4().hex[:14]}")
    email = factory.Sequence(lambda n: f"customer{n}@example.org")
    name = factory.Faker("company")
    status = "active"
    currency = "usd"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    workspace = factory.SubFactory(WorkspaceFactory)
    customer = factory.SubFactory(CustomerFactory, workspace=factory.SelfAttribute("..workspace"))
    stripe_id = factory.LazyFunction(lambda: f"sub_{uuid.uuid4().hex[:14]}")
    status = "active"
    currency = "usd"


class RevenueSignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RevenueSignal

    workspace = factory.SubFactory(WorkspaceFactory)
    event = factory.SubFactory(StripeEventFactory, workspace=factory.SelfAttribute("..workspace"))
    connection = factory.SelfAttribute("event.connection")
    customer = factory.SubFactory(CustomerFactory, workspace=factory.SelfAttribute("..workspace"))
    kind = SignalKind.PAYMENT_FAILED
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    amount = 4900
    currency = "usd"


class JourneyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Journey

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Journey {n}")


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    journey = factory.SubFactory(JourneyFactory)
    workspace = factory.SelfAttribute("journey.workspace")
    name = factory.Sequence(lambda n: f"Stage {n}")


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    stage = factory.SubFactory(StageFactory)
    journey = factory.SelfAttribute("stage.journey")
    workspace = factory.SelfAttribute("stage.workspace")
    name = factory.Sequence(lambda n: f"Step {n}")


class MappingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MappingRule

    step = factory.SubFactory(StepFactory)
    journey = factory.SelfAttribute("step.journey")
    workspace = factory.SelfAttribute("step.workspace")
    kinds = factory.LazyFunction(lambda: [SignalKind.PAYMENT_FAILED.value])


class FollowUpTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpTask

    workspace = factory.SubFactory(WorkspaceFactory)
    title = factory.Sequence(lambda n: f"Follow up {n}")


class TaskRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskRule

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    kinds = factory.LazyFunction(lambda: [SignalKind.PAYMENT_FAILED.value])
    title_template = "Follow up: {kind} — {customer}"
