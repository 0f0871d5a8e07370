/// The country tables of a database, flattened once and kept as bytes: the embedded database's
/// tables ship in the binary beside it, so a run starts with them instead of walking the tree
/// for some 30 ms of a core while the first chunks are parsed.
///
/// Layout, little-endian, each array starting at a multiple of 8 bytes:
///
///     "LSCTAB02"                      8 bytes, the format
///     database SHA-256, hex           64 bytes
///     database size, node count, build epoch     UInt64 each: with the SHA-256, the
///                                     database the tables hold for
///     IPv4 range count, IPv6 count    UInt64 each (IPv6 0: no IPv6 table)
///     IPv4 starts (UInt32), codes (UInt16), IPv6 starts (UInt64), codes (UInt16)
///
/// Decoding checks everything a lookup relies on (the size, the database, starts ascending from
/// 0) and answers nil otherwise: the caller then builds the tables from the tree, as for any
/// other database, and gets the same answers. (The SHA-256 of the embedded database is the one
/// its build script recorded; its size, node count and build epoch are read from the bytes
/// themselves, so a database replaced by hand without the script does not pass either.)
public enum CountryTableImage {
    static let magic = Array("LSCTAB02".utf8)
    private static let headerSize = 8 + 64 + 24 + 16

    /// What identifies the database an image was made from.
    public struct Database: Sendable, Equatable {
        /// SHA-256 of the file, 64 hex digits.
        public var sha256: String
        public var size: Int
        public var nodeCount: Int
        public var buildEpoch: UInt64

        public init(sha256: String, size: Int, nodeCount: Int, buildEpoch: UInt64) {
            self.sha256 = sha256
            self.size = size
            self.nodeCount = nodeCount
            self.buildEpoch = buildEpoch
        }
    }

    /// The image of `ipv4` and `ipv6`, the tables of `database`.
    public static func encode(ipv4: IPv4CountryTable, ipv6: IPv6CountryTable?, database: Database) -> [UInt8] {
        var bytes = magic + Array(database.sha256.utf8.prefix(64))
        bytes += [UInt8](repeating: 0x20, count: 8 + 64 - bytes.count)
        func append<T: FixedWidthInteger>(_ values: [T]) {
            for value in values { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
            while bytes.count % 8 != 0 { bytes.append(0) }
        }
        append([UInt64(database.size), UInt64(database.nodeCount), database.buildEpoch])
        append([UInt64(ipv4.rangeCount), UInt64(ipv6?.rangeCount ?? 0)])
        append(ipv4.starts)
        append(ipv4.codes)
        append(ipv6?.starts ?? [])
        append(ipv6?.codes ?? [])
        return bytes
    }

    /// The tables in `bytes`, when it is an image of them for `database`.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, database: Database
    )
        -> (ipv4: IPv4CountryTable, ipv6: IPv6CountryTable?)?
    {
        guard bytes.count >= headerSize, bytes.prefix(8).elementsEqual(magic),
            bytes[8..<72].elementsEqual(database.sha256.utf8)
        else { return nil }
        var offset = 72
        /// `count` values of `T` at `offset` (then aligned to 8), or nil past the end.
        func read<T: FixedWidthInteger>(_: T.Type, _ count: Int) -> [T]? {
            let size = count.multipliedReportingOverflow(by: MemoryLayout<T>.size)
            guard count >= 0, !size.overflow, size.partialValue <= bytes.count - offset else { return nil }
            var values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size.partialValue)]))
                initialized = count
            }
            #if _endian(big)
            values = values.map { T(littleEndian: $0) }
            #endif
            offset += (size.partialValue + 7) & ~7
            return values
        }
        guard read(UInt64.self, 3) == [UInt64(database.size), UInt64(database.nodeCount), database.buildEpoch],
            let counts = read(UInt64.self, 2), counts[0] > 0, counts[0] <= UInt64(Int.max / 8),
            counts[1] <= UInt64(Int.max / 8),
            let ipv4Starts = read(UInt32.self, Int(counts[0])), let ipv4Codes = read(UInt16.self, Int(counts[0])),
            let ipv6Starts = read(UInt64.self, Int(counts[1])), let ipv6Codes = read(UInt16.self, Int(counts[1])),
            offset == bytes.count,
            let ipv4 = CountryRanges(starts: ipv4Starts, codes: ipv4Codes)
        else { return nil }
        guard counts[1] > 0 else { return (IPv4CountryTable(ranges: ipv4), nil) }
        guard let ipv6 = CountryRanges(starts: ipv6Starts, codes: ipv6Codes) else { return nil }
        return (IPv4CountryTable(ranges: ipv4), IPv6CountryTable(ranges: ipv6))
    }
}
