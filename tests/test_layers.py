"""The house's rooms and their arrows: every import between the project's
modules (at any depth in a file, lazy ones included) is walked from the
sources, and each must point to the same room or one the room stands on.
No import circle between modules either.

A failure names the file, the line and the import that breaks the rule.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# room -> (source folders as (folder, module prefix), rooms it may import).
# Lowest first. "board" stands for a board's built-in modules (machine,
# network, ...): the virtual board's fakes play them.
ROOMS = {
    "neocampus": ([("neocampus", "neocampus")], ()),
    "drivers": ([("drivers", "drivers")], ("neocampus",)),
    "board": ([("firmware/virtual", "")], ()),
    "firmware": ([("firmware/neosensor", "neosensor"), ("firmware/lib/umqtt", "umqtt"),
                  ("firmware/boot.py", ""), ("firmware/main.py", "")], ("neocampus", "drivers", "board")),
    "toolchain": ([("toolchain", "toolchain")], ()),
    "virtual_board": ([("virtual_board", "virtual_board")], ("neocampus", "drivers", "toolchain")),
    "provisioning": ([("provisioning", "provisioning")], ("neocampus", "drivers", "toolchain")),
    "rpi_agent": ([("rpi_agent", "rpi_agent")], ("neocampus", "drivers")),
    # Pi install media: the agent's own config parser checks what the images will install.
    "noobs_image": ([("noobs_image", "noobs_image")], ("neocampus", "rpi_agent")),
    # The campus on one machine (demo, fleet simulation): drives all the device and server rooms.
    "campus": ([("campus", "campus")], ("neocampus", "drivers", "toolchain", "virtual_board", "provisioning",
                                         "rpi_agent")),
    # The command line: on top of every room, imported by none.
    "neoc": ([("neoc", "neoc")], ("neocampus", "drivers", "toolchain", "virtual_board", "provisioning",
                                   "rpi_agent", "noobs_image", "campus")),
}


def _modules():
    """{module name: (room, path)} of every project source file."""
    found = {}
    for room, (folders, _) in ROOMS.items():
        for folder, prefix in folders:
            base = ROOT / folder
            files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py")) if base.is_dir() else []
            for path in files:
                if "__pycache__" in path.parts:
                    continue
                rel = path.relative_to(base.parent if base.suffix == ".py" else base).with_suffix("")
                parts = [p for p in rel.parts if p != "__init__"]
                name = ".".join(([prefix] if prefix else []) + parts)
                found[name or prefix] = (room, path)
    return found


MODULES = _modules()


# Rooms whose `import socket` or `import machine` means the board's built-in
# module, which the virtual board's fakes stand for; elsewhere it is CPython's.
ON_A_BOARD = ("board", "firmware")


def _target(name, room=None):
    """The project module an imported name lands in, or None (stdlib, third party)."""
    while name:
        if name in MODULES and (MODULES[name][0] != "board" or room in ON_A_BOARD):
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module, path):
    """[(line, text, target module)] of the project imports in one file."""
    room = MODULES[module][0]
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [(a.name, "import " + a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from a import b` imports a, and a.b when b is a module.
            names = [(base + "." + a.name if _target(base + "." + a.name, room) == base + "." + a.name else base,
                      "from %s%s import %s" % ("." * node.level, node.module or "", a.name)) for a in node.names]
        else:
            continue
        for name, text in names:
            target = _target(name, room)
            if target is not None and target != module:
                out.append((node.lineno, text, target))
    return out


EDGES = {name: _imports(name, path) for name, (_, path) in MODULES.items()}


def test_the_walk_sees_every_room_it_knows_and_their_imports():
    # Guards the walk itself: were it to find nothing, the tests below could not fail.
    rooms = {room for room, _ in MODULES.values()}
    assert {"neocampus", "drivers", "board", "firmware", "toolchain", "virtual_board", "provisioning",
            "neoc"} <= rooms
    assert any(t == "toolchain.deploy" for _, _, t in EDGES["virtual_board.runner"])
    assert any(t == "neosensor.plan" for _, _, t in EDGES["neosensor.setup"])
    assert any(t == "umqtt.simple" for _, _, t in EDGES["neosensor.link"])
    # A board's `import socket` is its built-in (the fakes' socket.py here); CPython's is not ours.
    assert any(t == "socket" for _, _, t in EDGES["umqtt.simple"])
    assert not any(t == "socket" for _, _, t in EDGES["virtual_board.runner"])


def test_no_arrow_from_a_room_to_one_above_it():
    wrong = []
    for name, edges in EDGES.items():
        room, path = MODULES[name]
        allowed = set(ROOMS[room][1]) | {room}
        for line, text, target in edges:
            if MODULES[target][0] not in allowed:
                wrong.append("%s:%d: %s (room %s may import only %s)" % (
                    path.relative_to(ROOT), line, text, room, ", ".join(sorted(allowed))))
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def _cycles():
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for _, _, w in EDGES[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(EDGES):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_between_modules():
    cycles = _cycles()
    detail = []
    for comp in cycles:
        for name in comp:
            for line, text, target in EDGES[name]:
                if target in comp:
                    detail.append("  %s:%d: %s" % (MODULES[name][1].relative_to(ROOT), line, text))
    assert not cycles, "import circles: %s\n%s" % (cycles, "\n".join(detail))


@pytest.mark.parametrize("room", ["toolchain", "virtual_board", "provisioning"])
def test_the_command_line_package_is_imported_by_no_room_below_it(room):
    # The one upward arrow the house had: libraries imported from neoc/.
    hits = [(name, t) for name, edges in EDGES.items() if MODULES[name][0] == room
            for _, _, t in edges if MODULES[t][0] == "neoc"]
    assert hits == []
