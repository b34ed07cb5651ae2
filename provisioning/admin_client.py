"""Client of the stub's admin API (used by `neoc device`, `neoc readings` and tests).

    admin = AdminClient("http://127.0.0.1:8000", token)
    admin.add_device("aa:bb:cc:dd:ee:ff", location="u4/302",
                     modules=[{"module": "temperature", "frequency": 60}])
    admin.readings(topic="u4/302")

Every method returns decoded JSON; an HTTP error raises AdminError carrying
the status and the server's message.
"""
import requests

from neocampus.ids import mac_stored


class AdminError(RuntimeError):
    def __init__(self, status, message):
        super().__init__("HTTP %d: %s" % (status, message))
        self.status = status
        self.message = message


class AdminClient:
    def __init__(self, url, token, timeout=10.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["Authorization"] = "Bearer %s" % token

    def _call(self, method, path, json=None, params=None, data=None):
        resp = self.http.request(method, self.url + path, json=json, params=params, data=data,
                                 timeout=self.timeout)
        if resp.status_code >= 400:
            try:
                message = resp.json().get("error", resp.text)
            except ValueError:
                message = resp.text
            raise AdminError(resp.status_code, message)
        return resp.json()

    @staticmethod
    def _mac(mac):
        # Colons in a path segment are fine, but the stored form keeps URLs uniform.
        return mac_stored(mac)

    # -- devices -------------------------------------------------------------
    def add_device(self, mac, location, kind="neosensor", modules=None, server=None, port=None, rooms=None,
                   claim_window=None):
        """location: "building/room" or (building, room); modules: names or dicts
        {"module", "frequency", "unit", "driver", "params": [{"param", "value"}]};
        rooms (kind "display" only): the "building/room"s it may read, default its own."""
        body = {"mac": mac, "kind": kind, "modules": list(modules or [])}
        if rooms is not None:
            body["rooms"] = list(rooms)
        if claim_window is not None:
            body["claim_window"] = claim_window  # seconds, 0 for no limit; else the server's default
        if isinstance(location, (tuple, list)):
            body["building"], body["room"] = location
        else:
            body["location"] = location
        if server is not None:
            body["server"] = server
        if port is not None:
            body["port"] = port
        return self._call("POST", "/api/devices", json=body)

    def device(self, mac):
        return self._call("GET", "/api/devices/%s" % self._mac(mac))

    def devices(self):
        return self._call("GET", "/api/devices")

    def update(self, mac, **fields):
        return self._call("PATCH", "/api/devices/%s" % self._mac(mac), json=fields)

    def disable(self, mac):
        return self._call("POST", "/api/devices/%s/disable" % self._mac(mac))

    def enable(self, mac):
        return self._call("POST", "/api/devices/%s/enable" % self._mac(mac))

    def delete(self, mac):
        return self._call("DELETE", "/api/devices/%s" % self._mac(mac))

    def reset_credentials(self, mac, claim_window=None):
        body = None if claim_window is None else {"claim_window": claim_window}
        return self._call("POST", "/api/devices/%s/reset-credentials" % self._mac(mac), json=body)

    def order(self, mac, order, value=None, module=None, dest=None):
        """A device order (<loc>/device/command, dest = MAC); with `module`, an order
        to <loc>/<module>/command addressed to that module's unitID (or `dest`)."""
        body = {"order": order}
        if value is not None:
            body["value"] = value
        if module is not None:
            body["module"] = module
        if dest is not None:
            body["dest"] = dest
        return self._call("POST", "/api/devices/%s/order" % self._mac(mac), json=body)

    def logs(self, mac):
        return self._call("GET", "/api/devices/%s/logs" % self._mac(mac))

    def status(self, mac):
        return self._call("GET", "/api/devices/%s/status" % self._mac(mac))

    # -- data ----------------------------------------------------------------
    def readings(self, topic=None, unit=None, since=None, limit=None, after=None):
        params = {k: v for k, v in (("topic", topic), ("unit", unit), ("since", since), ("limit", limit),
                                    ("after", after)) if v is not None}
        return self._call("GET", "/api/readings", params=params)

    def collector(self):
        return self._call("GET", "/api/collector")

    # -- firmware releases ---------------------------------------------------
    def releases(self):
        return self._call("GET", "/api/releases")

    def put_release_file(self, board, revision, path, data):
        """Upload one file of a release (path as on the flash); {"size", "sha256"} as stored."""
        return self._call("PUT", "/api/releases/%s/%d/files/%s" % (board, revision, path.lstrip("/")), data=data)

    def publish_release(self, board, manifest):
        """Make a release whose files are uploaded the board type's default.json."""
        return self._call("POST", "/api/releases/%s" % board, json=manifest)
