"""The JSON Schemas of every JSON file a build writes, and the check.

Our own schemas (schemas/*.schema.json) describe the NOOBS/PINN metadata as
the installers read it (../shared/docs/pi-image-formats.md); the Imager list
is checked against Imager's own schema in the tests
(tests/fixtures/rpi-imager-os-list-schema.json) and against ours here, which
is stricter about the one kind of entry a build writes.
"""
import functools
import importlib.resources
import json

import jsonschema

# file name in a build -> schema
FOR_FILE = {
    "os.json": "os.schema.json",
    "partitions.json": "partitions.schema.json",
    "flavours.json": "flavours.schema.json",
    "os_list_v3.json": "os_list_v3.schema.json",
    "repo_list.json": "repo_list.schema.json",
    "os_list_imager.json": "imager_os_list.schema.json",
}


@functools.lru_cache(maxsize=None)
def load(name):
    return json.loads(importlib.resources.files("noobs_image").joinpath("schemas", name).read_text())


class SchemaError(ValueError):
    pass


def check(doc, schema_name, where=""):
    validator = jsonschema.Draft7Validator(load(schema_name), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        path = "/".join(str(p) for p in e.absolute_path) or "(top)"
        raise SchemaError("%s: %s at %s (schema %s)" % (where or schema_name, e.message, path, schema_name))
    return doc


def check_file(path):
    import os
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        return check(json.load(f), FOR_FILE[name], path)
