"""Policy is data: who may receive which fields of which event types, masked how, and why.

One model used by the stream workers (routing, masking), the gateway (admin API,
authorization) and ``govbus policy``. Decisions here are pure functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from govbus.errors import ConfigError
from govbus.schemas.catalogue import Catalogue, EventType, FieldSpec
from govbus.schemas.topics import check_party_id

MaskRule = Literal[
    "clear",
    "redact",
    "mask",
    "pseudonym",
    "generalize.year",
    "generalize.year_month",
    "generalize.district",
    "generalize.age_band",
]
MASK_RULES: tuple[str, ...] = MaskRule.__args__  # type: ignore[attr-defined]
Status = Literal["active", "pending", "rejected", "revoked"]
Scalar = str | int | float | bool

MAX_FILTER_NODES = 32
MAX_FILTER_DEPTH = 4


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Model):
    """One test on one field of the event; exactly one operator is set."""

    field: str
    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", max_length=256)
    prefix: str | None = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def operator(self) -> tuple[str, Any]:
        ops = [
            (k, v)
            for k, v in (
                ("eq", self.eq),
                ("ne", self.ne),
                ("in", self.in_),
                ("prefix", self.prefix),
                ("lt", self.lt),
                ("le", self.le),
                ("gt", self.gt),
                ("ge", self.ge),
            )
            if v is not None
        ]
        if len(ops) != 1:
            raise ValueError(f"condition on {self.field} needs exactly one operator")
        return ops[0]


class Filter(_Model):
    """Declarative content filter (eligibility): all/any/not over conditions. No code runs."""

    all: list[Filter | Condition] | None = None
    any: list[Filter | Condition] | None = None
    not_: Filter | Condition | None = Field(default=None, alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Approval(_Model):
    """A provider's yes to its part of a conditional subscription: the event types it owns.
    ``provider`` None is an approval recorded in a policy file by the platform operator
    (``govbus policy apply``), who attests it for every conditional type of the subscription;
    the gateway always records the approving department."""

    approver: str
    approved_at: dt.datetime
    reference: str = ""
    provider: str | None = None


class Rejection(_Model):
    """A provider's no to its part; the sharing rules require the reason to be recorded."""

    provider: str
    rejecter: str
    rejected_at: dt.datetime
    reason: str


class Subscription(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,80}$")]
    subscriber: str
    event_types: list[str] = Field(min_length=1)
    fields: dict[str, MaskRule] = Field(min_length=1)
    legal_basis: str = Field(min_length=3)
    purpose: str = Field(min_length=3)
    filter: Filter | Condition | None = None
    status: Status = "active"
    approvals: list[Approval] = Field(default_factory=list)
    rejections: list[Rejection] = Field(default_factory=list)
    rejection_reason: str | None = None
    requested_at: dt.datetime | None = None
    requested_by: str | None = None  # "<department>:<credential>" of the requesting admin
    expires: dt.datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_approval(cls, data: Any) -> Any:
        """Policy files (and records written before approvals were per provider) carry one
        ``approval``: read it as a list of one."""
        if isinstance(data, dict) and "approval" in data:
            data = dict(data)
            single = data.pop("approval")
            if single is not None:
                data["approvals"] = [single, *data.get("approvals", [])]
        return data

    @field_validator("subscriber")
    @classmethod
    def _subscriber(cls, value: str) -> str:
        return check_party_id(value)

    def approved_by(self, provider: str) -> bool:
        """Has ``provider`` (the owner of a conditional type) approved its part?"""
        return any(a.provider in (None, provider) for a in self.approvals)


class InboundAgreement(_Model):
    """What this bus accepts from a federated peer (another province's bus): the peer's
    subscription for this bus, as agreed -- its id, event types and field rules. Held on
    this side too, so the payload schema the peer sends is derived and checked here, and a
    peer that starts sending more than agreed is refused, not trusted."""

    peer: str
    subscription: Subscription

    @field_validator("peer")
    @classmethod
    def _peer(cls, value: str) -> str:
        return check_party_id(value)

    @property
    def key(self) -> str:
        return inbound_key(self.peer, self.subscription.id)


INBOUND_KEY_PREFIX = "inbound:"


def inbound_key(peer: str, subscription_id: str) -> str:
    """An inbound agreement's key in the policy topic (``:`` never occurs in an id)."""
    return f"{INBOUND_KEY_PREFIX}{peer}:{subscription_id}"


class PolicyDocument(_Model):
    version: int = 1
    subscriptions: list[Subscription] = Field(default_factory=list)
    inbound: list[InboundAgreement] = Field(default_factory=list)


# ----------------------------------------------------------------- decisions (pure)


def is_live(sub: Subscription, event: EventType, now: dt.datetime) -> bool:
    """May this subscription receive this event type now? A conditional type only with the
    approval of that type's provider: another provider's approval of the same subscription
    does not reach it."""
    if sub.status != "active" or event.type not in sub.event_types:
        return False
    if sub.expires is not None and now >= sub.expires:
        return False
    if event.sharing == "not_shared":
        return False
    return not (event.sharing == "conditional" and not sub.approved_by(event.owner))


def rule_problem(spec: FieldSpec, rule: str) -> str | None:
    """Is this masking rule applicable to this field?"""
    logical = spec.logical_type
    if rule in ("clear", "redact", "pseudonym"):
        return None
    if rule == "mask":
        if spec.format in (
            "name",
            "citizen_id",
            "mobile",
            "bank_card",
            "address",
            "email",
            "credit_code",
            "certificate_no",
        ):
            return None
        return f"field {spec.name} has no display mask (format {spec.format})"
    if rule in ("generalize.year", "generalize.year_month", "generalize.age_band"):
        return None if logical == "date" else f"{rule} needs a date field, {spec.name} is not"
    if rule == "generalize.district":
        if spec.format in ("region_code", "address"):
            return None
        return f"{rule} needs a region code or address, {spec.name} is neither"
    return f"unknown rule {rule}"


def validate(doc: PolicyDocument, catalogue: Catalogue) -> list[str]:
    """Every problem that would make the policy unsafe or meaningless."""
    problems: list[str] = []
    seen: set[str] = set()
    for sub in doc.subscriptions:
        where = f"subscription {sub.id}"
        if sub.id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(sub.id)
        problems += subscription_problems(sub, catalogue, where)
    for agreement in doc.inbound:
        where = f"inbound agreement {agreement.key}"
        if agreement.key in seen:
            problems.append(f"{where}: duplicate")
        seen.add(agreement.key)
        problems += subscription_problems(agreement.subscription, catalogue, where)
    return problems


def subscription_problems(sub: Subscription, catalogue: Catalogue, where: str) -> list[str]:
    problems: list[str] = []
    for type_name in sub.event_types:
        event = catalogue.latest(type_name)
        if event is None:
            problems.append(f"{where}: unknown event type {type_name}")
            continue
        if event.sharing == "not_shared":
            problems.append(f"{where}: {type_name} is not shared ({event.legal_basis})")
        if event.sharing == "conditional" and sub.status == "active" and not sub.approvals:
            problems.append(
                f"{where}: {type_name} is conditional: an active subscription "
                "needs the provider's approval"
            )
        for name, rule in sub.fields.items():
            spec = event.fields.get(name)
            if spec is None:
                problems.append(f"{where}: {type_name} has no field {name}")
                continue
            problem = rule_problem(spec, rule)
            if problem:
                problems.append(f"{where}: {problem}")
        if sub.filter is not None:
            problems += [f"{where}: {p}" for p in filter_problems(sub.filter, event, sub.fields)]
    return problems


def filter_problems(
    node: Filter | Condition, event: EventType, granted: Mapping[str, str], depth: int = 0
) -> list[str]:
    """Shape and size, and that every condition tests a field the subscription receives in
    clear (``granted``: its field rules). Which events arrive is itself information: a
    filter on anything else would reveal what the subscription was not granted, or what
    its masks hide (docs/policy.md)."""
    count = 0
    problems: list[str] = []

    def walk(n: Filter | Condition, d: int) -> None:
        nonlocal count
        count += 1
        if d > MAX_FILTER_DEPTH:
            problems.append(f"filter deeper than {MAX_FILTER_DEPTH}")
            return
        if isinstance(n, Condition):
            rule = granted.get(n.field)
            if n.field not in event.fields:
                problems.append(f"filter: {event.type} has no field {n.field}")
            elif rule is None:
                problems.append(
                    f"filter: tests {n.field}, which the subscription is not granted; a "
                    "filter may only test fields it receives in clear"
                )
            elif rule != "clear":
                problems.append(
                    f"filter: tests {n.field}, which the subscription receives as {rule}; a "
                    "filter may only test fields it receives in clear"
                )
            try:
                n.operator()
            except ValueError as exc:
                problems.append(f"filter: {exc}")
            return
        children = [*(n.all or []), *(n.any or []), *([n.not_] if n.not_ else [])]
        if sum(x is not None for x in (n.all, n.any, n.not_)) != 1:
            problems.append("filter node needs exactly one of all/any/not")
        for child in children:
            walk(child, d + 1)

    walk(node, depth)
    if count > MAX_FILTER_NODES:
        problems.append(f"filter has {count} nodes, at most {MAX_FILTER_NODES}")
    return problems


# ----------------------------------------------------------------- loading


def parse_policy(data: Any) -> PolicyDocument:
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"policy is not valid: {details}") from None


def load_policy_file(path: Path, catalogue: Catalogue) -> PolicyDocument:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read policy {path}: {exc}") from None
    doc = parse_policy(data)
    problems = validate(doc, catalogue)
    if problems:
        raise ConfigError(f"policy {path} has problems: " + "; ".join(problems))
    return doc


def subscribers(doc: PolicyDocument) -> list[str]:
    return sorted({s.subscriber for s in doc.subscriptions})


def for_types(subs: Iterable[Subscription], event_type: str) -> list[Subscription]:
    return [s for s in subs if event_type in s.event_types]
