"""A provider's burst of status callbacks, from its own process.

    python -m bench.webhook_load SPEC.json  ->  prints a JSON result

SPEC: ``{"base_url", "public_url", "auth_token", "concurrency",
"callbacks": [[reminder id, message sid, status], ...]}``. Each callback is
form-encoded and signed as Twilio signs it (the SDK's RequestValidator), and
posted over keep-alive connections from ``concurrency`` threads. The result
counts answers by status code and gives requests/s and latency percentiles.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

PATH = "/webhooks/twilio/status"


def run(spec: dict[str, Any]) -> dict[str, Any]:
    validator = RequestValidator(spec["auth_token"])
    requests: list[tuple[str, bytes, dict[str, str]]] = []
    for rid, sid, status in spec["callbacks"]:
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
        path = f"{PATH}?r={rid}"
        signature = validator.compute_signature(spec["public_url"] + path, params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        requests.append((path, urlencode(params).encode(), headers))
    target = urlsplit(spec["base_url"])
    codes: dict[int, int] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    cursor = iter(range(len(requests)))

    def worker() -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        mine: list[float] = []
        seen: dict[int, int] = {}
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            path, body, headers = requests[index]
            started = time.perf_counter()
            for attempt in range(3):
                try:
                    connection.request("POST", path, body, headers)
                    answer = connection.getresponse()
                    answer.read()
                    break
                except (ConnectionError, http.client.HTTPException):
                    connection.close()
                    connection = http.client.HTTPConnection(
                        target.hostname, target.port, timeout=60
                    )
                    if attempt == 2:
                        raise
            mine.append(time.perf_counter() - started)
            seen[answer.status] = seen.get(answer.status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for code, count in seen.items():
                codes[code] = codes.get(code, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(spec.get("concurrency", 8))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000, 2)

    return {
        "requests": len(requests),
        "codes": {str(code): count for code, count in sorted(codes.items())},
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(requests) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as spec_file:
        print(json.dumps(run(json.load(spec_file))))
