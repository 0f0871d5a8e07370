#!/usr/bin/env python3
"""Writes the generated seeds of the gzip and mmdb fuzz targets (Fuzz/Seeds/{gzip,mmdb}/).

The parser seeds are plain text and written by hand. Run from anywhere; the output is
deterministic (gzip headers carry no time), so running it again changes nothing.
"""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "Tests", "LogSurgeTests", "Fixtures")


def write(target, name, data):
    directory = os.path.join(HERE, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as file:
        file.write(data)


def gz(data, level=6, **header):
    return gzip.compress(data, compresslevel=level, mtime=0) if not header else member(data, level, **header)


def member(data, level, name=None, comment=None, extra=None, header_crc=False):
    """A gzip member with the optional header fields (FEXTRA, FNAME, FCOMMENT, FHCRC)."""
    flags = (4 if extra is not None else 0) | (8 if name else 0) | (16 if comment else 0) | (2 if header_crc else 0)
    head = bytes([0x1F, 0x8B, 8, flags, 0, 0, 0, 0, 0, 3])
    if extra is not None:
        head += struct.pack("<H", len(extra)) + extra
    if name:
        head += name + b"\0"
    if comment:
        head += comment + b"\0"
    if header_crc:
        head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = compressor.compress(data) + compressor.flush()
    return head + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def gzip_seeds():
    combined = open(os.path.join(FIXTURES, "combined.log"), "rb").read()
    vhost = open(os.path.join(FIXTURES, "vhost.log"), "rb").read()
    write("gzip", "combined.gz", gz(combined))
    write("gzip", "two-members.gz", gz(vhost[:300]) + gz(vhost[300:], level=1))
    write("gzip", "empty-member-and-padding.gz", gz(b"") + gz(b"last line without newline") + bytes(9))
    write("gzip", "stored.gz", gz(combined[:400], level=0))
    write("gzip", "header-fields.gz", member(vhost, 9, name=b"access.log", comment=b"rotated", extra=b"ab\x02\x00xy", header_crc=True))
    write("gzip", "truncated.gz", gz(combined)[:-7])
    write("gzip", "long-lines-crlf.gz", gz(b"x" * 250 + b"\r\n" + b"short\r\n" + b"y" * 199 + b"\n\n" + b"z" * 201))
    write("gzip", "plain-crlf.log", b"a line\r\n" + b"w" * 230 + b"\nlast, no newline")


# --- MaxMind DB ---------------------------------------------------------------------------

def control(kind, size):
    extended = kind > 7
    first = (0 if extended else kind) << 5
    if size < 29:
        tail = b""
        first |= size
    elif size < 285:
        first |= 29
        tail = bytes([size - 29])
    elif size < 65821:
        first |= 30
        tail = struct.pack(">H", size - 285)
    else:
        first |= 31
        tail = struct.pack(">I", size - 65821)[1:]
    return bytes([first]) + (bytes([kind - 7]) if extended else b"") + tail


def unsigned(kind, value):
    raw = value.to_bytes(16, "big").lstrip(b"\0")
    return control(kind, len(raw)) + raw


class Data:
    """A data section; with `pointers`, map keys and repeated values are written once."""

    def __init__(self, pointers):
        self.bytes = bytearray()
        self.pointers = pointers
        self.written = {}

    def pointer(self, offset):
        if offset < 2048:
            return bytes([0x20 | (offset >> 8), offset & 0xFF])
        if offset < 526336:
            value = offset - 2048
            return bytes([0x28 | (value >> 16)]) + struct.pack(">H", value & 0xFFFF)
        return bytes([0x38]) + struct.pack(">I", offset)

    def encode(self, value):
        if isinstance(value, bool):
            return control(14, int(value))
        if isinstance(value, int):
            return unsigned(6 if value < 2**32 else 9, value)
        if isinstance(value, float):
            return control(3, 8) + struct.pack(">d", value)
        if isinstance(value, str):
            raw = value.encode()
            return control(2, len(raw)) + raw
        if isinstance(value, list):
            return control(11, len(value)) + b"".join(self.value(item) for item in value)
        if isinstance(value, dict):
            return control(7, len(value)) + b"".join(self.value(k) + self.value(v) for k, v in value.items())
        raise TypeError(value)

    def value(self, value):
        """The bytes that stand for `value` where it is used: itself, or a pointer to it."""
        encoded = self.encode(value)
        if not self.pointers:
            return encoded
        if encoded not in self.written:
            self.written[encoded] = len(self.bytes)
            self.bytes += encoded
        return self.pointer(self.written[encoded])

    def record(self, value):
        """Writes a record; returns its offset in the section."""
        encoded = self.value(value) if self.pointers else self.encode(value)
        offset = len(self.bytes)
        self.bytes += encoded
        return offset


def mmdb(ip_version, record_size, networks, aliases=(), pointers=False):
    """A database of (bits, prefix length, record) networks; aliases are (bits, length) that
    point at the IPv4 subtree (the node after 96 zero bits), as MaxMind's writer does."""
    width = 32 if ip_version == 4 else 128
    root = [None, None]

    def place(bits, length, value):
        """Makes `value` the child for the network, splitting the nodes on its way."""
        node = root
        for depth in range(length - 1):
            bit = (bits >> (width - 1 - depth)) & 1
            if not isinstance(node[bit], list):
                node[bit] = [node[bit], node[bit]]
            node = node[bit]
        node[(bits >> (width - length)) & 1] = value

    for bits, length, record in networks:
        place(bits, length, ("record", record))
    if aliases:
        ipv4 = root
        for _ in range(96):
            ipv4 = ipv4[0]
        for bits, length in aliases:
            place(bits, length, ipv4)
    numbers, order = {}, []

    def number(node):
        if isinstance(node, list) and id(node) not in numbers:
            numbers[id(node)] = len(order)
            order.append(node)
            number(node[0])
            number(node[1])

    number(root)
    data = Data(pointers)
    offsets = {}
    node_count = len(order)

    def value(child):
        if child is None:
            return node_count
        if isinstance(child, list):
            return numbers[id(child)]
        key = repr(child[1])
        if key not in offsets:
            offsets[key] = data.record(child[1])
        return node_count + 16 + offsets[key]

    tree = bytearray()
    for node in order:
        left, right = value(node[0]), value(node[1])
        if record_size == 24:
            tree += left.to_bytes(3, "big") + right.to_bytes(3, "big")
        elif record_size == 28:
            tree += (left & 0xFFFFFF).to_bytes(3, "big") + bytes([(left >> 24) << 4 | right >> 24]) + (right & 0xFFFFFF).to_bytes(3, "big")
        else:
            tree += left.to_bytes(4, "big") + right.to_bytes(4, "big")
    metadata = Data(False).encode({
        "binary_format_major_version": 2, "binary_format_minor_version": 0, "build_epoch": 1_700_000_000,
        "database_type": "logsurge-fuzz-seed", "description": {"en": "logsurge fuzz seed"},
        "ip_version": ip_version, "languages": ["en"], "node_count": node_count, "record_size": record_size,
    })
    return bytes(tree) + bytes(16) + bytes(data.bytes) + b"\xab\xcd\xefMaxMind.com" + metadata


def v4(text, length):
    a, b, c, d = (int(part) for part in text.split("."))
    return (a << 24 | b << 16 | c << 8 | d, length)


def country(code, registered=None):
    record = {"country": {"iso_code": code, "names": {"en": code + " land"}}}
    if registered:
        record["registered_country"] = {"iso_code": registered}
    return record


def mmdb_seeds():
    ipv4 = [
        (*v4("1.0.0.0", 8), country("AU")),
        (*v4("2.0.0.0", 7), {"continent": {"code": "EU"}, "registered_country": {"iso_code": "FR"}}),
        (*v4("8.8.8.0", 24), country("US", "US")),
        (*v4("81.2.69.0", 24), country("GB")),
        (*v4("81.2.69.160", 27), {"country": {"iso_code": "gb", "is_in_european_union": True}, "location": {"latitude": 51.5, "accuracy_radius": 100}}),
        (*v4("128.0.0.0", 1), {"traits": {"is_anycast": False, "asn": [15169, 2**40]}}),
    ]
    write("mmdb", "ipv4-24.mmdb", mmdb(4, 24, ipv4))
    ipv6 = [(bits, 96 + length, record) for bits, length, record in ipv4] + [
        (0x2A02_D500 << 96, 32, country("DE")),
        (0x2001_0DB8 << 96, 32, country("ZZ", "NL")),
        (0x2C0F_FF40 << 96, 26, {"country": {"iso_code": "ZA"}, "extra": b"\x00\x01".hex()}),
    ]
    aliases = [((0xFFFF << 32), 96), (0x2001 << 112, 32), (0x2002 << 112, 16)]
    write("mmdb", "ipv6-28-aliases.mmdb", mmdb(6, 28, ipv6, aliases=aliases))
    write("mmdb", "ipv6-32-pointers.mmdb", mmdb(6, 32, ipv6, aliases=aliases, pointers=True))


if __name__ == "__main__":
    gzip_seeds()
    mmdb_seeds()
