"""The stub's HTTPS listener: a server SSLContext from a certificate and key
file, with errors that name the file at fault (`neoc server --tls-cert/--tls-key`)."""
import ssl


class TLSFileError(ValueError):
    pass


def _read_pem(path, what, marker):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise TLSFileError("%s %s: no such file" % (what, path)) from None
    except OSError as exc:
        raise TLSFileError("%s %s: cannot read it (%s)" % (what, path, exc.strerror or exc)) from None
    if marker not in data:
        raise TLSFileError("%s %s: no PEM %s in it" % (what, path, marker.decode().strip("-").strip()))


def server_context(cert, key):
    """A server-side SSLContext (TLS 1.2+) loaded with `cert` (PEM, the chain
    after the leaf) and `key` (PEM); TLSFileError naming the file otherwise."""
    _read_pem(cert, "TLS certificate", b"-----BEGIN CERTIFICATE-----")
    _read_pem(key, "TLS key", b"PRIVATE KEY-----")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise TLSFileError("TLS key %s does not match the certificate %s" % (key, cert)) from None
        raise TLSFileError("TLS certificate %s or key %s unusable: %s" % (cert, key, exc.reason or exc)) from None
    return ctx
