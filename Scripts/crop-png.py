#!/usr/bin/env python3
"""Crops a screenshot below its content and makes it small: python3 crop-png.py IN.png OUT.png [MARGIN].

Headless Chromium takes a screenshot of a window of fixed height; a page shorter than the
window leaves rows of its background colour at the bottom. This keeps the rows down to the
last one that differs from the bottom row's colour, plus MARGIN rows (24 by default), and
writes them with a palette of the 256 commonest colours (a report's flat colours cover
nearly every pixel; the others, edges of text and lines, take the nearest), which makes the
file about a third of the size. Standard library only: reads 8-bit RGB or RGBA,
non-interlaced PNG, as Chromium writes them.
"""
import struct
import sys
import zlib


def read(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        sys.exit(f"{path}: only 8-bit RGB/RGBA non-interlaced PNG is supported")
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, at = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = previous[i - channels] if i >= channels else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, colour, rows


def write(path, width, channels, rows):
    """Writes `rows` (RGB or RGBA, alpha dropped) as an 8-bit palette PNG."""
    pixels = [[row[i:i + 3] for i in range(0, len(row), channels)] for row in rows]
    counts = {}
    for row in pixels:
        for pixel in row:
            counts[pixel] = counts.get(pixel, 0) + 1
    palette = sorted(counts, key=counts.get, reverse=True)[:256]
    index = {colour: i for i, colour in enumerate(palette)}
    for colour in counts:
        if colour not in index:
            r, g, b = colour
            index[colour] = min(range(len(palette)), key=lambda i: 3 * (palette[i][0] - r) ** 2
                                + 4 * (palette[i][1] - g) ** 2 + 2 * (palette[i][2] - b) ** 2)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = bytearray()
    for row in pixels:
        raw.append(0)
        raw += bytes(index[pixel] for pixel in row)
    header = struct.pack(">IIBBBBB", width, len(rows), 8, 3, 0, 0, 0)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"PLTE", b"".join(palette))
                  + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    margin = int(sys.argv[3]) if len(sys.argv) == 4 else 24
    width, channels, colour, rows = read(sys.argv[1])
    background = rows[-1][:channels]
    plain = background * width
    last = len(rows) - 1
    while last > 0 and rows[last] == plain:
        last -= 1
    if last >= len(rows) - 1:
        print(f"warning: {sys.argv[1]}: the page fills the window; take a taller one", file=sys.stderr)
    write(sys.argv[2], width, channels, rows[:min(len(rows), last + 1 + margin)])


if __name__ == "__main__":
    main()
