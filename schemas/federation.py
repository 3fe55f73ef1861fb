"""An event type as received from a federated bus (another province), and what this bus's
own masking can still do to values the peer already masked. Pure.

The peer delivers to this bus under one of its subscriptions; its payload schema is the
projection of the national type under that subscription's rules. Holding the same agreement,
this side derives the same schema (same fingerprint), so it knows exactly which fields come,
which were masked on the way, and which may still be checked as identifiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from govbus.schemas.catalogue import EventType, FieldSpec
from govbus.schemas.projection import CLEAR, REDACT, projected_schema


def inbound_event_type(
    national: EventType, rules: Mapping[str, str], subscription_id: str, peer: str
) -> EventType:
    """``national`` as ``peer`` sends it under its subscription ``subscription_id``."""
    schema = projected_schema(national, rules, subscription_id)
    fields: dict[str, FieldSpec] = {}
    for raw in schema["fields"]:
        spec = national.fields[raw["name"]]
        rule = rules[raw["name"]]
        if rule == CLEAR:
            fields[spec.name] = spec
        else:
            # Masked on the way: no longer a checkable identifier or a date.
            fields[spec.name] = replace(
                spec, avro_type=raw["type"], format=None, nullable=rule == REDACT or spec.nullable
            )
    natural_key_sent = all(rules.get(k) == CLEAR for k in national.dedupe_key)
    return replace(
        national,
        owner=f"{peer}/{national.owner}",
        doc=f"{national.ce_type} as received from {peer} under its subscription {subscription_id}",
        dedupe_key=national.dedupe_key if natural_key_sent else (),
        schema=schema,
        fields=fields,
        peer=peer,
        received_rules=dict(rules),
    )


def delivered_rules(event: EventType, wanted: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """field -> (rule as delivered, rule to apply here) for a subscription's ``wanted`` rules.

    On a national event both are the wanted rule. On an event from a peer, a field the peer
    did not send is left out, and a field the peer masked cannot be unmasked: it is delivered
    as the peer masked it when this side asks for it in clear or with the same rule,
    pseudonymised or redacted when asked so, and redacted when this side asks for another
    transformation (of a value no longer in its original form -- withhold rather than guess).
    """
    if event.received_rules is None:
        return {name: (rule, rule) for name, rule in wanted.items()}
    out: dict[str, tuple[str, str]] = {}
    for name, rule in wanted.items():
        received = event.received_rules.get(name)
        if received is None:
            continue
        out[name] = _combine(received, rule)
    return out


def _combine(received: str, wanted: str) -> tuple[str, str]:
    if received == CLEAR:
        return wanted, wanted
    if REDACT in (received, wanted):
        return REDACT, REDACT
    if wanted in (CLEAR, received):
        return received, CLEAR
    if wanted == "pseudonym":
        return wanted, wanted
    return REDACT, REDACT
