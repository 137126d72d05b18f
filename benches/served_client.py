"""Requests for scripts/instructions, over one keep-alive connection, one at a time.

    served_client.py PORT KIND N
    served_client.py PORT get N CONNS

Activates practicehub for the bench merchant, then sends N requests of KIND (get:
GET /v2/integrations/practicehub; put: PUT .../sync-interval alternating 30 and 60, so
each write changes the merchant). One connection and one request at a time, so the
server does the same work on every run: what callgrind counts is repeatable.

KIND mixed (scripts/symbol-order): N GETs and N PUTs, alternating.

With CONNS (scripts/cache-misses): N GETs over CONNS keep-alive connections, one on
each before any answer is read, so CONNS requests are in flight at a time as under
`wrk -c64`, always in the same order.
"""

import http.client
import socket
import sys

KEY = "rk_sandbox_bench_merchant_key_0001"


def answer(s: socket.socket, buf: bytes) -> bytes:
    """Reads one answer (with a Content-Length) from `s`; returns what followed it."""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    if lines[0].split(" ")[1] != "200":
        sys.exit(f"GET: {lines[0]}")
    lengths = [int(v) for k, _, v in (x.partition(":") for x in lines[1:]) if k.lower() == "content-length"]
    if not lengths:
        sys.exit("GET: an answer without Content-Length")
    length = lengths[0]
    while len(rest) < length:
        rest += s.recv(65536)
    return rest[length:]


def fan_out(port: int, n: int, conns: int) -> None:
    """`n` GETs, `conns` in flight: one sent on each connection, then the answers read."""
    request = f"GET /v2/integrations/practicehub HTTP/1.1\r\nhost: bench\r\nx-api-key: {KEY}\r\n\r\n".encode()
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
    bufs = [b""] * conns
    for _ in range(n // conns):
        for s in socks:
            s.sendall(request)
        for i, s in enumerate(socks):
            bufs[i] = answer(s, bufs[i])


def main() -> None:
    port, kind, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    conns = int(sys.argv[4]) if len(sys.argv) > 4 else 1
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
    if conns > 1:
        if kind != "get":
            sys.exit("usage: served_client.py PORT get N CONNS")
        fan_out(port, n, conns)
        return
    if kind not in ("get", "put", "mixed"):
        sys.exit(f"usage: served_client.py PORT get|put|mixed N (not {kind!r})")
    for i in range(n):
        if kind in ("get", "mixed"):
            send("GET", "/v2/integrations/practicehub")
        if kind in ("put", "mixed"):
            minutes = 30 if i % 2 == 0 else 60
            send(
                "PUT",
                "/v2/integrations/practicehub/sync-interval",
                '{"syncIntervalMinutes":%d}' % minutes,
            )


if __name__ == "__main__":
    main()
