"""Echo server for scripts/interop.sh, on Python `websockets`.

Binds 127.0.0.1 on an ephemeral port, prints the port on stdout, and echoes
every text and binary message back unchanged until killed. permessage-deflate
is on (the library's default); the agreed extension goes to stderr.
"""
import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    # The extensions agreed (interop.sh checks that permessage-deflate was).
    print("extensions:", ws.response.headers.get("Sec-WebSocket-Extensions"), file=sys.stderr, flush=True)
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=16 * 1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
