"""Draw the guide's wiring pictures from the one wiring table
(drivers/wiring/table.py): for every board and every breakout, an SVG with
the board's header, the breakout's pins and the four wires between them
(docs/wiring/BOARD-CHIP.svg), and the page that shows them with the address
options and pull-up advice (docs/wiring.md).

    python tools/gen_wiring.py           # (make wiring) write them
    python tools/gen_wiring.py --check   # exit 1 when the files differ from the table

Every pin is a <g class="pin" id="..."> holding its <text> label, so a test
can find each pin of the table in the picture.
"""
import argparse
import itertools
import pathlib
import sys
from xml.sax.saxutils import escape

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.wiring.table import BOARDS, BREAKOUTS, WIRES, pin_name  # noqa: E402

DOCS = ROOT / "docs"
OUT = DOCS / "wiring"
PAGE = DOCS / "wiring.md"
COMMAND = "make wiring"

PITCH = 24          # pin pitch in the picture
PIN = 12            # a pin's square
TOP = 70            # room for the titles
COLOURS = dict(WIRES)
FONT = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""


def slug(chip):
    return chip.lower()


def picture_name(board, chip):
    return "%s-%s.svg" % (board, slug(chip))


def _pin(out, pid, x, y, label, role, anchor, number=None):
    """One pin: its square (filled with the wire colour when wired) and its label."""
    fill = COLOURS.get(role, "#c9a227" if role is None else "#ffffff")
    out.append('<g class="pin" id="%s">' % pid)
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#111" stroke-width="1.5"/>'
               % (x - PIN // 2, y - PIN // 2, PIN, PIN, fill if role else "#d9d9d9"))
    dx = -12 if anchor == "end" else 12
    weight = ' font-weight="bold"' if role else ""
    out.append('<text x="%d" y="%d" font-size="13" text-anchor="%s" %s fill="#ffffff"%s>%s</text>'
               % (x + dx, y + 5, anchor, FONT, weight, escape(label)))
    if number is not None:
        out.append('<text x="%d" y="%d" font-size="9" text-anchor="middle" %s fill="#ffffff">%d</text>'
                   % (x, y - PIN // 2 - 2, FONT, number))
    out.append("</g>")


def crossings(paths):
    """How many times the wires (orthogonal polylines) cross one another."""
    segs = {role: list(zip(pts, pts[1:])) for role, pts in paths.items()}
    n = 0
    roles = list(segs)
    for i, a in enumerate(roles):
        for b in roles[i + 1:]:
            for h in segs[a] + segs[b]:
                if h[0][1] != h[1][1]:
                    continue      # not horizontal
                other = segs[b] if h in segs[a] else segs[a]
                for v in other:
                    if v[0][0] != v[1][0]:
                        continue  # not vertical
                    x, (ya, yb) = v[0][0], sorted((v[0][1], v[1][1]))
                    (xa, xb), y = sorted((h[0][0], h[1][0])), h[0][1]
                    if xa < x < xb and ya < y < yb:
                        n += 1
    return n


def svg(board_key, chip):
    board, brk = BOARDS[board_key], BREAKOUTS[chip]
    cols = board["header"]
    rows = max(len(c) for c in cols)
    numbered = board.get("numbered")
    two = len(cols) == 2
    # The board: one pin column along its right edge, two along both edges,
    # or (the Pi's header) two columns side by side, labels outside them.
    bx, by = 60, TOP
    bw = 240 if numbered else 190
    bh = rows * PITCH + 30
    if numbered:
        col_x = [bx + bw // 2 - 12, bx + bw // 2 + 12]
        anchors = ["end", "start"]
    elif two:
        col_x, anchors = [bx + 24, bx + bw - 24], ["start", "end"]
    else:
        col_x, anchors = [bx + bw - 24], ["end"]
    # The breakout, to the right, its pins along its left edge.
    kx = bx + bw + 240
    kw = 170
    pins = brk["pins"]
    kh = len(pins) * PITCH + 30
    ky = TOP + max(0, (bh - kh) // 2)
    title = "%s + %s" % (board["title"], brk["title"])
    width = max(kx + kw + 40, int(len(title) * 12) + 40)
    height = max(by + bh, ky + kh) + 170
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (width, height, width, height),
           "<title>%s: wiring a %s on a %s</title>" % (escape(chip), escape(brk["title"]), escape(board["title"])),
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           '<text x="20" y="28" font-size="19" font-weight="bold" %s fill="#111">%s</text>' % (FONT, escape(title)),
           '<text x="20" y="50" font-size="13" %s fill="#444">%s</text>' % (FONT, escape(
               "Board: %s. Four wires: 3V3, GND, SDA, SCL." % board["where"]))]
    # Where each wire starts (board pin) and ends (breakout pin).
    start, end = {}, {}
    for role, (c, r) in board["i2c"].items():
        start[role] = (col_x[c], by + 22 + r * PITCH, c == 0 and two)
    for i, p in enumerate(pins):
        for role, name in brk["i2c"].items():
            if name == p:
                end[role] = (kx + 20, ky + 22 + i * PITCH)
    # Lanes: each wire runs up or down its own lane between the board and the
    # breakout. A wire from a left column goes round under the board, the
    # lowest pin innermost; of every order of the lanes, the one where the
    # wires cross the least is drawn.
    left = sorted((r for r in start if start[r][2]), key=lambda r: -start[r][1])
    colours = dict(WIRES)

    def route(order):
        paths = {}
        for lane, role in enumerate(order):
            x0, y0, round_left = start[role]
            x1, y1 = end[role]
            lx = bx + bw + 50 + lane * 30
            if round_left:
                k = left.index(role)
                ox = bx - 16 - k * 10
                below = by + bh + 18 + k * 12
                paths[role] = [(x0, y0), (ox, y0), (ox, below), (lx, below), (lx, y1), (x1, y1)]
            else:
                paths[role] = [(x0, y0), (lx, y0), (lx, y1), (x1, y1)]
        return paths

    paths = min((route(order) for order in itertools.permutations(r for r, _ in WIRES)), key=crossings)
    # The wires first: the board and the breakout, drawn over them, hide
    # their ends, and each wire leaves the board's edge at its pin's row.
    for role, _ in WIRES:
        out.append('<polyline class="wire" data-role="%s" points="%s" fill="none" stroke="%s" stroke-width="5" '
                   'stroke-linejoin="round" stroke-linecap="round"/>'
                   % (role, " ".join("%d,%d" % p for p in paths[role]), colours[role]))
    pcb = "#2e7d32" if numbered else "#1f3f66"
    out.append('<rect x="%d" y="%d" width="%d" height="%d" rx="10" fill="%s" stroke="#111" stroke-width="2"/>'
               % (bx, by, bw, bh, pcb))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="#6a1b9a" stroke="#111" stroke-width="2"/>'
               % (kx, ky, kw, kh))
    roles = {pos: role for role, pos in board["i2c"].items()}
    for c, col in enumerate(cols):
        for r, label in enumerate(col):
            _pin(out, "board-%d-%d" % (c, r), col_x[c], by + 22 + r * PITCH, label, roles.get((c, r)), anchors[c],
                 number=2 * r + c + 1 if numbered else None)
    kroles = {name: role for role, name in brk["i2c"].items()}
    for i, p in enumerate(pins):
        _pin(out, "breakout-%d" % i, kx + 20, ky + 22 + i * PITCH, p, kroles.get(p), "start")
    # The legend and the notes a student needs at the bench.
    y = max(by + bh, ky + kh) + 80
    for i, (role, colour) in enumerate(WIRES):
        x = 20 + i * 120
        out.append('<rect x="%d" y="%d" width="26" height="8" fill="%s"/>' % (x, y - 8, colour))
        out.append('<text x="%d" y="%d" font-size="13" %s fill="#111">%s</text>' % (x + 32, y, FONT, role))
    notes = ["Address: " + brk["addresses"], "Pull-ups: " + board.get("pullups", brk["pullups"])]
    for i, line in enumerate(notes):
        out.append('<text x="20" y="%d" font-size="13" %s fill="#111">%s</text>' % (y + 28 + 20 * i, FONT,
                                                                                 escape(line)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def page():
    lines = ["# Wiring diagrams", "",
             "<!-- Generated by tools/gen_wiring.py from drivers/wiring/table.py (`%s`): do not edit. -->" % COMMAND,
             "",
             "Every sensor here speaks I2C: four wires, whatever the board. **3V3** (red) to the breakout's "
             "VIN/VCC/VDD, **GND** (black) to GND, **SDA** (blue) to SDA, **SCL** (yellow) to SCL. Never 5 V on a "
             "3.3 V board's pins. Then check it: `neoc board scan PORT` (or `neoc agent scan` on a Pi) names "
             "what is wrong in plain words.", "",
             "Pull-ups: I2C needs a resistor from SDA and from SCL to 3V3. Most breakouts carry them (10 kΩ); a "
             "bare chip or a DAC breakout needs two 4.7 kΩ. With several breakouts on one bus their pull-ups add "
             "up in parallel: up to three or four is fine; beyond that, cut the extra ones off. Keep the wires "
             "short (under 50 cm): long ones garble the data (CRC failures in the scan).", "",
             "Boards:", ""]
    for key, b in BOARDS.items():
        lines.append("- **%s**: SDA %s, SCL %s, 3V3 %s, GND %s%s" % (
            b["title"], pin_name(key, "SDA"), pin_name(key, "SCL"), pin_name(key, "3V3"), pin_name(key, "GND"),
            "; " + b["pullups"] if b.get("pullups") else ""))
    lines.append("")
    for chip, brk in BREAKOUTS.items():
        lines += ["## %s" % chip, "", "%s. Address: %s. Pull-ups: %s." % (brk["title"], brk["addresses"],
                                                                          brk["pullups"]), ""]
        for key, b in BOARDS.items():
            lines.append("![%s wired to the %s](wiring/%s)" % (chip, b["title"], picture_name(key, chip)))
            lines.append("")
    return "\n".join(lines)


def generate():
    """{path: text} of every generated file."""
    files = {PAGE: page()}
    for board in BOARDS:
        for chip in BREAKOUTS:
            files[OUT / picture_name(board, chip)] = svg(board, chip)
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale or missing")
    args = ap.parse_args(argv)
    files = generate()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    extra = sorted(set(OUT.glob("*.svg")) - set(files)) if OUT.is_dir() else []
    if args.check:
        for p in stale + extra:
            print("stale: %s (run %s)" % (p.relative_to(ROOT), COMMAND))
        return 1 if stale or extra else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for p in extra:
        p.unlink()
    for p in stale:
        p.write_text(files[p])
    print("%d files written, %d unchanged, %d removed" % (len(stale), len(files) - len(stale), len(extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
