#!/usr/bin/env python3
"""Build logsurge's embedded country database (a MaxMind DB file) from Tor's GeoIP files.

Reads Debian's tor-geoipdb files (IPFire Location data, CC BY-SA 4.0):
  /usr/share/tor/geoip   IPv4 lines "INTLOW,INTHIGH,CC"
  /usr/share/tor/geoip6  IPv6 lines "LOW,HIGH,CC" with textual IPv6 addresses
and writes one IPv6-tree MMDB whose data records are {"country": {"iso_code": CC}}:
  - IPv4 ranges live under ::/96 (as MaxMind's own databases do), and ::ffff:0:0/96
    is aliased to that subtree, so every reader finds IPv4-mapped addresses too;
  - "??" (unknown) ranges get no record: the lookup answers "not found";
  - one data record per country, shared by every network of that country;
  - record size 24 when it fits, else 28, else 32;
  - metadata: database_type "logsurge-country", languages ["en"], a description naming
    the source and the Debian package version, and build_epoch = the "Generated:" date in
    the source header (else the newest source file's mtime).
The output is deterministic: the same input files give the same bytes. Next to the database
it writes country_db_stamp.h (its SHA-256 and size), which embed.c includes so that a new
database rebuilds the embedding object.

Python 3 standard library only. Usage:
  Scripts/build-country-db.py [--geoip FILE] [--geoip6 FILE] [--package-version V]
                              [--output Sources/CGeoData/country.mmdb]
"""

import argparse
import email.utils
import hashlib
import ipaddress
import os
import struct
import subprocess
import sys

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
IPV4_ROOT_DEPTH = 96  # IPv4 a.b.c.d lives at ::a.b.c.d


# ---------------------------------------------------------------- data encoding

def control(type_number, size):
    """Control byte(s) for a value of MMDB type `type_number` with payload size `size`."""
    if type_number <= 7:
        first = type_number << 5
        extended = b""
    else:
        first = 0
        extended = bytes([type_number - 7])
    if size < 29:
        return bytes([first | size]) + extended
    if size < 29 + 256:
        return bytes([first | 29]) + extended + bytes([size - 29])
    if size < 285 + 65536:
        return bytes([first | 30]) + extended + struct.pack(">H", size - 285)
    return bytes([first | 31]) + extended + (size - 65821).to_bytes(3, "big")


def encode(value):
    """Encodes a Python value (str, bool, int with an explicit type, list, dict) as MMDB data."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return control(2, len(raw)) + raw
    if isinstance(value, tuple):  # ("uint16" | "uint32" | "uint64", int)
        kind, number = value
        type_number = {"uint16": 5, "uint32": 6, "uint64": 9}[kind]
        raw = number.to_bytes(8, "big").lstrip(b"\x00")
        return control(type_number, len(raw)) + raw
    if isinstance(value, list):
        return control(11, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        out = control(7, len(value))
        for key in sorted(value):
            out += encode(key) + encode(value[key])
        return out
    raise TypeError(f"cannot encode {value!r}")


# ---------------------------------------------------------------- reading the source

def read_ranges(path, parse):
    """Yields (low, high, cc) for every data line; "??" ranges are skipped."""
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            low, high, cc = line.split(",")
            if cc == "??":
                continue
            if len(cc) != 2 or not cc.isascii() or not cc.isalpha():
                sys.exit(f"{path}:{number}: unexpected country code {cc!r}")
            low, high = parse(low), parse(high)
            if high < low:
                sys.exit(f"{path}:{number}: range ends before it starts")
            yield low, high, cc.upper()


def merged(ranges):
    """Sorts ranges and joins adjacent ones of the same country; rejects overlaps."""
    out = []
    for low, high, cc in sorted(ranges):
        if out and low <= out[-1][1]:
            sys.exit(f"overlapping ranges at {low:#x}")
        if out and out[-1][2] == cc and out[-1][1] + 1 == low:
            out[-1] = (out[-1][0], high, cc)
        else:
            out.append((low, high, cc))
    return out


def cidrs(low, high, bits):
    """Splits [low, high] into maximal aligned blocks: yields (network, prefix_length)."""
    while low <= high:
        size = (low & -low).bit_length() - 1 if low else bits
        while size > 0 and low + (1 << size) - 1 > high:
            size -= 1
        yield low, bits - size
        low += 1 << size


def header_date(path):
    """The "# Generated: <RFC 2822 date>" line of the source header, as a Unix time."""
    with open(path, encoding="ascii") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            if line.startswith("# Generated:"):
                return int(email.utils.parsedate_to_datetime(line.split(":", 1)[1].strip()).timestamp())
    return None


def package_version():
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "tor-geoipdb"],
                                capture_output=True, text=True, check=True)
        return result.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


# ---------------------------------------------------------------- the search tree

class Tree:
    """A binary trie over 128-bit addresses, stored in two flat arrays.

    A child is a node index (>= 0), EMPTY, or a leaf -(2 + value index).
    """

    EMPTY = -1

    def __init__(self):
        self.left = [self.EMPTY]
        self.right = [self.EMPTY]

    def _new_node(self, child):
        self.left.append(child)
        self.right.append(child)
        return len(self.left) - 1

    def insert(self, network, prefix_length, leaf):
        node = 0
        for depth in range(prefix_length):
            bit = (network >> (127 - depth)) & 1
            side = self.right if bit else self.left
            if depth == prefix_length - 1:
                if side[node] != self.EMPTY:
                    sys.exit(f"network {network:#x}/{prefix_length} overlaps another one")
                side[node] = leaf
                return
            child = side[node]
            if child < 0:
                if child != self.EMPTY:
                    sys.exit(f"network {network:#x}/{prefix_length} overlaps another one")
                child = self._new_node(self.EMPTY)
                side[node] = child
            node = child

    def path_node(self, network, depth):
        """The node reached after `depth` bits of `network`, creating the path as needed."""
        node = 0
        for d in range(depth):
            bit = (network >> (127 - d)) & 1
            side = self.right if bit else self.left
            if side[node] < 0:
                if side[node] != self.EMPTY:
                    sys.exit("cannot alias: a record covers the path")
                side[node] = self._new_node(self.EMPTY)
            node = side[node]
        return node

    def numbered(self):
        """Breadth-first numbering from the root: returns the order of reachable nodes."""
        order, seen, head = [0], {0}, 0
        while head < len(order):
            node = order[head]
            head += 1
            for child in (self.left[node], self.right[node]):
                if child >= 0 and child not in seen:
                    seen.add(child)
                    order.append(child)
        return order


def record_bytes(left, right, record_size):
    if record_size == 24:
        return left.to_bytes(3, "big") + right.to_bytes(3, "big")
    if record_size == 28:
        middle = ((left >> 24) << 4) | (right >> 24)
        return (left & 0xFFFFFF).to_bytes(3, "big") + bytes([middle]) + (right & 0xFFFFFF).to_bytes(3, "big")
    return left.to_bytes(4, "big") + right.to_bytes(4, "big")


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--geoip", default="/usr/share/tor/geoip")
    parser.add_argument("--geoip6", default="/usr/share/tor/geoip6")
    parser.add_argument("--package-version", default=None,
                        help="tor-geoipdb version for the description (default: dpkg-query)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--output", default=os.path.join(root, "Sources", "CGeoData", "country.mmdb"))
    args = parser.parse_args()

    version = args.package_version or package_version() or "unknown version"
    v4 = merged(read_ranges(args.geoip, int))
    v6 = merged(read_ranges(args.geoip6, lambda text: int(ipaddress.IPv6Address(text))))
    for low, high, _ in v4:
        if high > 0xFFFFFFFF:
            sys.exit(f"{args.geoip}: address {high} is not IPv4")
    for low, high, _ in v6:
        if low < (1 << 32) or (0xFFFF << 32) <= low <= (0xFFFF << 32) + 0xFFFFFFFF:
            sys.exit(f"{args.geoip6}: range {low:#x} overlaps the IPv4 subtrees")

    countries = sorted({cc for _, _, cc in v4} | {cc for _, _, cc in v6})
    leaf_of = {cc: -(2 + i) for i, cc in enumerate(countries)}

    tree = Tree()
    for low, high, cc in v4:
        for network, length in cidrs(low, high, 32):
            tree.insert(network, IPV4_ROOT_DEPTH + length, leaf_of[cc])
    for low, high, cc in v6:
        for network, length in cidrs(low, high, 128):
            tree.insert(network, length, leaf_of[cc])
    # Alias ::ffff:0:0/96 to the IPv4 subtree (the node after 96 zero bits).
    ipv4_root = tree.path_node(0, IPV4_ROOT_DEPTH)
    mapped_parent = tree.path_node(0xFFFF << 32, IPV4_ROOT_DEPTH - 1)
    if tree.right[mapped_parent] != Tree.EMPTY:
        sys.exit("::ffff:0:0/96 already has records")
    tree.right[mapped_parent] = ipv4_root

    # The data section: one record per country, in country order.
    data = bytearray()
    offset_of = {}
    for cc in countries:
        offset_of[cc] = len(data)
        data += encode({"country": {"iso_code": cc}})

    order = tree.numbered()
    number_of = {node: i for i, node in enumerate(order)}
    node_count = len(order)
    largest = node_count + 16 + len(data)
    record_size = next(size for size in (24, 28, 32) if largest < (1 << size))

    def record(child):
        if child == Tree.EMPTY:
            return node_count
        if child < 0:
            return node_count + 16 + offset_of[countries[-child - 2]]
        return number_of[child]

    out = bytearray()
    for node in order:
        out += record_bytes(record(tree.left[node]), record(tree.right[node]), record_size)
    out += bytes(16)
    out += data

    epoch = header_date(args.geoip) or header_date(args.geoip6) or \
        int(max(os.path.getmtime(args.geoip), os.path.getmtime(args.geoip6)))
    description = (f"IPFire Location database via Debian tor-geoipdb {version}, CC BY-SA 4.0 "
                   f"(https://location.ipfire.org/)")
    metadata = {
        "binary_format_major_version": ("uint16", 2),
        "binary_format_minor_version": ("uint16", 0),
        "build_epoch": ("uint64", epoch),
        "database_type": "logsurge-country",
        "description": {"en": description},
        "ip_version": ("uint16", 6),
        "languages": ["en"],
        "node_count": ("uint32", node_count),
        "record_size": ("uint16", record_size),
    }
    out += METADATA_MARKER + encode(metadata)

    temporary = args.output + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(out)
    os.replace(temporary, args.output)

    # embed.c includes this stamp; the build tracks headers (not .incbin files), so a new
    # database changes the stamp and makes the build re-assemble embed.c.
    digest = hashlib.sha256(out).hexdigest()
    stamp = os.path.join(os.path.dirname(args.output), "country_db_stamp.h")
    with open(stamp, "w", encoding="ascii") as handle:
        handle.write("// Generated by Scripts/build-country-db.py: identifies country.mmdb so that\n"
                     "// regenerating the database rebuilds embed.c. Do not edit.\n"
                     f"#define LOGSURGE_COUNTRY_DB_SHA256 \"{digest}\"\n"
                     f"#define LOGSURGE_COUNTRY_DB_SIZE {len(out)}UL\n")
    print(f"{args.output}: {len(out)} bytes, {node_count} nodes, record size {record_size}, "
          f"{len(countries)} countries, {len(v4)} IPv4 and {len(v6)} IPv6 ranges; {description}")
    print("next: swift run -c release logsurge geoip --write-tables Sources/CGeoData/country-tables.bin "
          "(the country tables embedded beside it; Scripts/GEOIP.md)")


if __name__ == "__main__":
    main()
