# TLS for the board's two clients, the https handshake (http.py) and MQTT on
# port 8883 (link.py): the server is verified when ca.pem (the CA bundle the
# flashing tool writes) is on the flash. Loaded only by a board that uses it.
def wrap(s, host):
    """`s` (connected) wrapped in TLS for `host`; OSError when refused."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        # A CA bundle written by the flashing tool turns verification on.
        with open("ca.pem", "rb") as f:
            pem = f.read()
    except OSError:
        pem = None
    if pem:
        # MicroPython's mbedTLS takes DER: one load per certificate of the bundle.
        from binascii import a2b_base64
        for block in pem.split(b"-----BEGIN CERTIFICATE-----")[1:]:
            body = block.split(b"-----END CERTIFICATE-----")[0]
            ctx.load_verify_locations(cadata=a2b_base64(body.replace(b"\n", b"").replace(b"\r", b"")))
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    try:
        return ctx.wrap_socket(s, server_hostname=host)
    except ValueError as e:
        # mbedTLS reports a refused certificate as ValueError: to the caller it
        # is a network failure like any other (retried, never a crash).
        raise OSError("TLS: " + str(e).strip())


def wrap_socket(sock, server_hostname=None):
    """As an SSLContext's: what umqtt.simple (forked) calls for MQTT over TLS."""
    return wrap(sock, server_hostname)
