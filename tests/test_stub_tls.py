"""`neoc server --tls-cert/--tls-key`: the stub's own HTTPS listener (issue 13).
A throw-away CA (trustme) signs the stub's certificate; a client trusting it
gets the admin API and /images over https, one that does not is refused."""
import os
import subprocess
import sys

import pytest
import requests

from harness import make_tls_files
from provisioning.stub_process import ROOT, StubServer


def test_the_stub_serves_the_api_and_images_over_https_to_a_client_trusting_its_ca(tmp_path):
    files, other = make_tls_files(tmp_path, "stub"), make_tls_files(tmp_path, "other")
    with StubServer(tmp_path / "s", tls=files) as stub:
        assert stub.url.startswith("https://")
        assert "neoc server: HTTPS on %s" % stub.url in stub.output()
        auth = {"Authorization": "Bearer " + stub.token}
        r = requests.get(stub.url + "/api/devices", headers=auth, verify=str(files["ca"]), timeout=10)
        assert r.status_code == 200 and r.json() == [], r.text
        (stub.data_dir / "images" / "esp8266").mkdir(parents=True, exist_ok=True)
        (stub.data_dir / "images" / "esp8266" / "probe.txt").write_bytes(b"over tls")
        r = requests.get(stub.url + "/images/esp8266/probe.txt", verify=str(files["ca"]), timeout=10)
        assert r.status_code == 200 and r.content == b"over tls", (r.status_code, r.text)
        for verify in (str(other["ca"]), True):   # a CA that did not sign it; the system's
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(stub.url + "/api/devices", headers=auth, verify=verify, timeout=10)
        with pytest.raises(requests.RequestException):   # plain HTTP on the TLS port
            requests.get(stub.url.replace("https:", "http:") + "/api/devices", headers=auth, timeout=10)


def _server(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "neoc", "server", "--data-dir", str(tmp_path / "d"),
                           "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"] + list(args),
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=env)


def test_a_bad_certificate_or_key_is_a_clear_error_naming_the_file(tmp_path):
    files, other = make_tls_files(tmp_path, "stub"), make_tls_files(tmp_path, "other")
    missing = tmp_path / "nope-key.pem"
    cases = [
        (["--tls-cert", str(files["cert"]), "--tls-key", str(missing)], "TLS key %s: no such file" % missing),
        (["--tls-cert", str(files["key"]), "--tls-key", str(files["key"])],
         "TLS certificate %s: no PEM" % files["key"]),
        (["--tls-cert", str(files["cert"]), "--tls-key", str(files["cert"])], "TLS key %s: no PEM" % files["cert"]),
        (["--tls-cert", str(files["cert"]), "--tls-key", str(other["key"])],
         "TLS key %s does not match the certificate %s" % (other["key"], files["cert"])),
        (["--tls-cert", str(files["cert"])], "--tls-cert and --tls-key go together"),
    ]
    if os.geteuid() != 0:   # root reads any file
        unreadable = tmp_path / "locked-key.pem"
        unreadable.write_bytes(files["key"].read_bytes())
        unreadable.chmod(0)
        cases.append((["--tls-cert", str(files["cert"]), "--tls-key", str(unreadable)],
                      "TLS key %s: cannot read it" % unreadable))
    for args, message in cases:
        p = _server(tmp_path, *args)
        assert p.returncode == 2 and message in p.stderr, (args, p.returncode, p.stderr)
        assert "Traceback" not in p.stderr
        assert not (tmp_path / "d").exists()   # refused before anything starts
