"""Requests for scripts/instructions, over one keep-alive connection, one at a time.

    served_client.py PORT KIND N

Activates practicehub for the bench merchant, then sends N requests of KIND (get:
GET /v2/integrations/practicehub; put: PUT .../sync-interval alternating 30 and 60, so
each write changes the merchant). One connection and one request at a time, so the
server does the same work on every run: what callgrind counts is repeatable.
"""

import http.client
import sys

KEY = "rk_sandbox_bench_merchant_key_0001"


def main() -> None:
    port, kind, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    c = http.client.HTTPConnection("127.0.0.1", port)

    def send(method: str, path: str, body: str | None = None) -> None:
        headers = {"x-api-key": KEY}
        if body is not None:
            headers["content-type"] = "application/json"
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"{method} {path}: {r.status}")

    send(
        "POST",
        "/v2/integrations/practicehub/activate",
        '{"credentials":{"apiKey":"ph_bench","baseUrl":"https://clinic.example"}}',
    )
    for i in range(n):
        if kind == "get":
            send("GET", "/v2/integrations/practicehub")
        elif kind == "put":
            minutes = 30 if i % 2 == 0 else 60
            send(
                "PUT",
                "/v2/integrations/practicehub/sync-interval",
                '{"syncIntervalMinutes":%d}' % minutes,
            )
        else:
            sys.exit(f"usage: served_client.py PORT get|put N (not {kind!r})")


if __name__ == "__main__":
    main()
