"""TLS echo server for scripts/interop.sh, on Python `websockets` + `ssl`.

A CA and a certificate for 127.0.0.1 and localhost are made at start with
`trustme`; the CA's PEM is written to the path in argv[1] (for wsclient's
--ca). Binds 127.0.0.1 on an ephemeral port, prints the port on stdout, and
echoes every message, but only to a client that sends
`Authorization: Bearer interop` (others get 401).
"""
import asyncio
import http
import ssl
import sys

import trustme
from websockets.asyncio.server import serve

TOKEN = "Bearer interop"


def process_request(connection, request):
    if request.headers.get("Authorization") != TOKEN:
        return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing token\n")
    return None


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(ca_path):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(ca_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    async with serve(
        echo,
        "127.0.0.1",
        0,
        ssl=context,
        process_request=process_request,
        max_size=16 * 1024 * 1024,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        sys.exit(0)
