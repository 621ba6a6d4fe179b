"""A bounded burst of 20,000 status callbacks from a second process."""

from __future__ import annotations

import requests

from bench.webhooks import blast, callbacks, sent_reminders

from .conftest import Web


def test_a_burst_of_20000_callbacks_is_absorbed_with_none_lost(web: Web) -> None:
    pairs = sent_reminders(web.core, 5000)
    spec = {
        "base_url": web.url,
        "public_url": web.settings.public_url,
        "auth_token": web.twilio.auth_token,
        "concurrency": 8,
        "callbacks": callbacks(pairs),
    }
    result = blast(spec)
    assert result["requests"] == 20_000
    assert result["codes"] == {"204": 20_000}
    records = [web.core.store.load(rid.rpartition("-")[0]) for rid, _ in pairs]
    states = [None if r is None else r.reminders[0].state for r in records]
    assert states == ["delivered"] * 5000
    metrics = requests.get(web.url + "/metrics", timeout=5).text
    assert 'reminders_webhook_events_total{result="delivered",source="twilio"} 5000.0' in metrics
