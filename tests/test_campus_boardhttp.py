"""Light devices' HTTP (campus/boardhttp.py): the bytes a board sends, answers read
as a board reads them, failures as OSError; against the stub's own HTTP stack."""
import asyncio

import pytest
from aiohttp import web

from campus import boardhttp
from campus.light import LightDevice, Stats
from provisioning.mosquitto import free_port


async def raw_server(answer, close=True):
    """A TCP server that records the first request's bytes and writes `answer`."""
    got = []

    async def handle(reader, writer):
        data = await reader.readuntil(b"\r\n\r\n")
        got.append(data)
        writer.write(answer)
        await writer.drain()
        if close:
            writer.close()
        else:
            await asyncio.sleep(5)  # a server that keeps the connection open
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, "http://127.0.0.1:%d" % server.sockets[0].getsockname()[1], got


def test_sends_what_the_firmware_sends_and_reads_to_content_length():
    async def go():
        # Content-Length honoured and the connection left open: the answer still completes.
        server, url, got = await raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing", close=False)
        async with server:
            s = boardhttp.Session(timeout=3)
            assert await s.fetch("GET", url + "/device/config", {"Authorization": "Basic eDp5"}) == (200, b"{}")
        host = url.split("//")[1].split(":")[0]
        # firmware/neosensor/http.py's request: HTTP/1.0, Host without the port, Connection: close.
        assert got[0] == (b"GET /device/config HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n"
                          b"Authorization: Basic eDp5\r\n\r\n" % host.encode())
    asyncio.run(go())


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 200 OK\r\nContent-Le", b"SSH-2.0-OpenSSH\r\n\r\n",
                                    b"HTTP/1.1 two hundred\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"])
def test_a_broken_answer_is_an_oserror(answer):
    async def go():
        server, url, _ = await raw_server(answer)
        async with server:
            with pytest.raises(OSError):
                await boardhttp.Session(timeout=3).fetch("GET", url + "/device/credentials?mac=x")
    asyncio.run(go())


def test_refused_connection_and_silent_server():
    async def go():
        with pytest.raises(OSError):
            await boardhttp.Session(timeout=3).fetch("GET", "http://127.0.0.1:%d/" % free_port())
        server, url, _ = await raw_server(b"", close=False)
        async with server:
            with pytest.raises(asyncio.TimeoutError):
                await boardhttp.Session(timeout=0.3).fetch("GET", url + "/")
    asyncio.run(go())


def test_a_light_device_handshakes_with_an_aiohttp_server_over_http_1_0():
    """The stub's HTTP stack (aiohttp) answers a board's HTTP/1.0: a query string, Basic
    auth, a posted form; a 403 is a 403 with its empty body."""
    seen = []

    async def credentials(request):
        seen.append((request.version, request.query.get("mac"), request.headers.get("Connection")))
        return web.json_response({"login": "senso_020000000001", "password": "pw"})

    async def config(request):
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"topics": ["b/r"], "zones": [{"topic": "b/r", "modules": [
            {"module": "humidity", "frequency": 60}]}]})

    async def refused(request):
        return web.Response(status=403)

    async def logger(request):
        form = await request.post()
        return web.json_response({"msg": form["msg"]})

    async def go():
        app = web.Application()
        app.add_routes([web.get("/device/credentials", credentials), web.get("/device/config", config),
                        web.post("/device/logger", logger), web.get("/no", refused)])
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = "http://127.0.0.1:%d" % runner.addresses[0][1]
        try:
            d = LightDevice("02:00:00:00:00:01", url, Stats())
            async with boardhttp.Session(timeout=5) as s:
                await d.handshake(s, tries=1)
                assert await s.fetch("GET", url + "/no") == (403, b"")
                assert await s.fetch("POST", url + "/device/logger", {
                    "Content-Type": "application/x-www-form-urlencoded"}, b"msg=hello+there") == (
                    200, b'{"msg": "hello there"}')
        finally:
            await runner.cleanup()
        assert d.creds["mqtt_login"] == "senso_020000000001" and d.base == "b/r"
        assert [m.name for m in d.modules] == ["humidity"]
        assert seen[0][0].major == 1 and seen[0][0].minor == 0
        assert seen[0][1:] == ("02:00:00:00:00:01", "close")
        assert seen[1].startswith("Basic ")
    asyncio.run(go())
