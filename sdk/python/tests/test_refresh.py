"""The SDK renews its SVID with the refresh token past the first SVID's expiry (a dev runtime with 3 s SVIDs)."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from conftest import SHORT_SVID_S, Admin

from arx import ARXClient, ArxError, SyncARXClient
from arx._client import _jwt_claims


def _authenticated_probe(dev: dict, token: str) -> int:
    """An agent call that needs a valid SVID: 404 for an unknown action when authenticated, 401 when not."""
    r = httpx.get(f"{dev['apiUrl']}/v1/actions/act_does_not_exist", headers={"authorization": f"Bearer {token}"})
    return r.status_code


def test_sync_client_keeps_working_past_its_first_svid_expiry(short_svid_dev, caplog):
    caplog.set_level(logging.DEBUG)
    admin = Admin(short_svid_dev)
    agent = admin.register("refresher")
    with SyncARXClient(base_url=short_svid_dev["apiUrl"], bootstrap_token=agent["bootstrap_token"], agent_id=agent["agent_id"], refresh_skew=1.0) as c:
        first = c.token()
        claims = _jwt_claims(first)
        assert claims["exp"] - claims["iat"] == SHORT_SVID_S
        seen = {first}
        deadline = time.time() + 3 * SHORT_SVID_S + 1  # well past the first SVID's expiry, three renewals
        while time.time() < deadline:
            token = c.token()
            assert _authenticated_probe(short_svid_dev, token) == 404
            seen.add(token)
            time.sleep(0.5)
        assert time.time() > claims["exp"] + SHORT_SVID_S  # well past the first SVID's exp
        assert len(seen) >= 3
        held = c._s.refresh_token
        assert held and held.startswith("arxrt_")
        assert held not in repr(c._s)
        assert held not in caplog.text and agent["bootstrap_token"] not in caplog.text
    # The bootstrap token was spent once: a new client with it is refused, the renewals were refresh grants.
    with SyncARXClient(base_url=short_svid_dev["apiUrl"], bootstrap_token=agent["bootstrap_token"]) as again:
        with pytest.raises(ArxError, match="invalid_grant"):
            again.token()


def test_async_client_renews_after_expiry_and_a_replayed_refresh_token_revokes_the_family(short_svid_dev):
    admin = Admin(short_svid_dev)
    agent = admin.register("refresher-async")

    async def go():
        async with ARXClient(base_url=short_svid_dev["apiUrl"], bootstrap_token=agent["bootstrap_token"], refresh_skew=0.5) as arx:
            first = await arx.token()
            spent = arx._s.refresh_token
            await asyncio.sleep(SHORT_SVID_S + 0.5)
            second = await arx.token()  # the first expired: renewed with the refresh token
            assert second != first
            assert _authenticated_probe(short_svid_dev, second) == 404
            return spent, arx._s.refresh_token

    spent, held = asyncio.run(go())

    def post(rt: str) -> httpx.Response:
        return httpx.post(f"{short_svid_dev['apiUrl']}/v1/identity/token", data={"grant_type": "refresh_token", "refresh_token": rt})

    # Within the grace window (ARX_REFRESH_GRACE_SECONDS) the token spent last is accepted once more, as
    # after a lost response; that spends the successor the client holds.
    regranted = post(spent)
    assert regranted.status_code == 200 and regranted.json()["refresh_token"] not in (spent, held)
    # A second replay is a reuse: refused, and the family is revoked, so no token of it refreshes again.
    r = post(spent)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    for rt in (held, regranted.json()["refresh_token"]):
        r = post(rt)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
