"""Admins grant and revoke through the gateway; the running worker follows within seconds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from tests.integration.helpers import start_worker
from tests.integration.test_gateway import BIRTH, Gateway, problem, publish, pull_until
from tests.keys import delivery_id


def test_conditional_grant_needs_the_provider_and_revocation_stops_delivery(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    worker = start_worker(bootstrap, uid, state_dir, worker_env, tmp_path, [])
    conn = runtime.model_copy(update={"policy_topic": worker_env["GOVBUS_POLICY_TOPIC"]})
    settings = GatewaySettings(rate_limit_per_minute=10_000)
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    dept = f"ps_{uid}"
    requester = keys.issue(dept, ["admin", "subscriber"])
    provider = keys.issue("health", ["admin"])
    try:
        with Gateway(conn, settings) as gw:
            admin = f"{gw.url}/v1/admin/subscriptions"
            body: dict[str, Any] = {
                "id": f"ps-{uid}",
                "subscriber": dept,
                "event_types": [BIRTH],
                "fields": {"certificate_no": "clear", "mother_id": "mask"},
                "legal_basis": "Household Registration Regulations art. 7",
                "purpose": "register the newborn",
            }
            problem(
                httpx.post(
                    admin, json=body, headers={"X-API-Key": keys.issue(dept, ["subscriber"])}
                ),
                403,
                "forbidden",
            )
            problem(
                httpx.post(
                    admin,
                    json={**body, "fields": {"shoe_size": "clear"}},
                    headers={"X-API-Key": requester},
                ),
                422,
                "invalid-subscription",
            )
            r = httpx.post(admin, json=body, headers={"X-API-Key": requester}, timeout=30)
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "pending"  # birth data is conditional
            problem(
                httpx.post(admin, json=body, headers={"X-API-Key": requester}),
                409,
                "subscription-exists",
            )

            pending_ids = publish(2, f"{uid}-pending")
            time.sleep(3)
            r = httpx.get(
                f"{gw.url}/v1/events",
                params={"limit": 500, "wait": 2},
                headers={"X-API-Key": requester},
                timeout=30,
            )
            served = {e["id"] for e in r.json().get("events", [])}
            assert not served & {delivery_id(dept, "health", e) for e in pending_ids}

            decision = {"reason": "statutory duty", "reference": "HC-2026-9"}
            problem(
                httpx.post(
                    f"{admin}/ps-{uid}/approve", json=decision, headers={"X-API-Key": requester}
                ),
                403,
                "not-provider",
            )
            r = httpx.post(
                f"{admin}/ps-{uid}/approve",
                json=decision,
                headers={"X-API-Key": provider},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "active"
            assert [a["provider"] for a in r.json()["approvals"]] == ["health"]
            assert r.json()["approvals"][0]["approver"].startswith("health:")
            problem(
                httpx.post(
                    f"{admin}/ps-{uid}/approve", json=decision, headers={"X-API-Key": provider}
                ),
                409,
                "not-pending",
            )
            problem(
                httpx.post(
                    f"{admin}/ps-{uid}/reject", json=decision, headers={"X-API-Key": provider}
                ),
                409,
                "not-pending",
            )

            approved = publish(2, f"{uid}-approved")
            wanted = {delivery_id(dept, "health", e) for e in approved}
            events, cursor = pull_until(gw, requester, wanted)
            assert wanted <= {e["id"] for e in events}
            assert all(
                set(e["data"]) == {"certificate_no", "mother_id"}
                for e in events
                if e["id"] in wanted
            )

            r = httpx.post(
                f"{admin}/ps-{uid}/revoke",
                json={"reason": "purpose fulfilled"},
                headers={"X-API-Key": requester},
                timeout=30,
            )
            assert r.json()["status"] == "revoked"
            time.sleep(3)  # the worker follows the policy topic within seconds
            after = publish(2, f"{uid}-after")
            time.sleep(5)
            r = httpx.get(
                f"{gw.url}/v1/events",
                params={"limit": 500, "wait": 2, "cursor": cursor},
                headers={"X-API-Key": requester},
                timeout=30,
            )
            assert not {e["id"] for e in r.json()["events"]} & {
                delivery_id(dept, "health", e) for e in after
            }

            listing = httpx.get(admin, headers={"X-API-Key": provider}).json()["subscriptions"]
            assert [s["status"] for s in listing if s["id"] == f"ps-{uid}"] == ["revoked"]
            problem(
                httpx.post(
                    f"{admin}/nope-{uid}/approve", json=decision, headers={"X-API-Key": provider}
                ),
                404,
                "no-such-subscription",
            )

            r = httpx.post(
                f"{gw.url}/v1/admin/keys",
                json={"department": dept, "roles": ["subscriber"]},
                headers={"X-API-Key": requester},
            )
            assert r.status_code == 201
            new_key = r.json()["key"]
            assert (
                httpx.get(f"{gw.url}/v1/events", headers={"X-API-Key": new_key}).status_code == 200
            )
            assert (
                httpx.delete(
                    f"{gw.url}/v1/admin/keys/{r.json()['key_id']}",
                    headers={"X-API-Key": requester},
                ).status_code
                == 204
            )
            problem(
                httpx.get(f"{gw.url}/v1/events", headers={"X-API-Key": new_key}),
                401,
                "unauthorized",
            )
    finally:
        worker.stop()
