"""A TLS front for a plain TCP server (scripts/autobahn-wss.sh).

usage: tls_front.py CA_PEM_OUT UPSTREAM_PORT

Makes a CA and a certificate for 127.0.0.1 with `trustme`, writes the CA's
PEM to CA_PEM_OUT, listens with TLS on 127.0.0.1 (ephemeral port, printed on
stdout) and pipes each connection's bytes to and from 127.0.0.1:UPSTREAM_PORT
unchanged. An end on one side ends the other (FIN upstream, close_notify
downstream).
"""
import asyncio
import ssl
import sys

import trustme


async def pipe(reader, writer, half_close):
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        try:
            if half_close and writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
        except (ConnectionError, OSError, RuntimeError):
            pass


async def main(ca_path, upstream_port):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(ca_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, up_writer, True),
            pipe(up_reader, client_writer, False),
        )
        up_writer.close()
        client_writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    except KeyboardInterrupt:
        sys.exit(0)
