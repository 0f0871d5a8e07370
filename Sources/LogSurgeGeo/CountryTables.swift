import LogSurgeCore
/// The country of every IPv4 address, flattened from a database's search tree into ranges.
///
/// A lookup is one index probe and a short binary search (a few cache lines) instead of a walk
/// of up to 32 tree nodes and a cache probe: what makes country resolution cheap for logs
/// whose clients rarely repeat. The table gives exactly the reader's answer for every address;
/// where the reader's answer would be an error (a corrupt tree or record), the range is marked
/// `treeWalk`, and the caller asks the reader, so errors are met and counted as without it.
///
/// Built by walking the IPv4 part of the tree once (the embedded database: about 20 ms).
/// A tree with more than `maximumRanges` distinct ranges (a large City database, or a corrupt
/// tree whose nodes point back at each other) gives no table: lookups then walk the tree.
public struct IPv4CountryTable: Sendable {
    /// The code of a range whose answer must come from the reader.
    public static let treeWalk = CountryRanges<UInt32>.treeWalk

    private let ranges: CountryRanges<UInt32>

    /// First address of each range, ascending; `starts[0] == 0`.
    public var starts: [UInt32] { ranges.starts }
    /// Distinct ranges in the table (adjacent ranges of one country are one range).
    public var rangeCount: Int { ranges.starts.count }

    /// The table of `reader`'s IPv4 answers, or nil when the tree has more than `maximumRanges`
    /// terminal records (by default 2 M: about 12 MB of table), or when `abandon` says so (it is
    /// asked every few thousand ranges: a run that ends before the table is ready need not wait).
    public init?(reader: MMDBReader, maximumRanges: Int = 1 << 21, abandon: () -> Bool = { false }) {
        guard
            let ranges = CountryRanges<UInt32>(
                reader: reader, root: reader.ipv4Root, maximumRanges: maximumRanges, abandon: abandon, stop: { _, _ in nil })
        else { return nil }
        self.ranges = ranges
    }

    /// A table of ranges built before (see `CountryTableImage`).
    init(ranges: CountryRanges<UInt32>) {
        self.ranges = ranges
    }

    /// Raw code of each range.
    var codes: [UInt16] { ranges.codes }

    /// The raw country code of `address` (host byte order), or `treeWalk`.
    @inline(__always)
    public func code(for address: UInt32) -> UInt16 { ranges.code(for: address) }
}

/// The country of IPv6 addresses by their first 64 bits (the network part), flattened as the
/// IPv4 table is; the answer is the reader's wherever the tree decides within those 64 bits.
///
/// Country databases place IPv6 networks at /64 or shorter, so nearly every client is answered
/// here; a /64 the tree splits further (and a damaged record) is `treeWalk`. The subtrees that
/// alias IPv4 (6to4 `2002::/16`, Teredo `2001::/32`: MaxMind points them at the IPv4 tree) are
/// not walked again: they answer `ipv4Alias(depth)`, and the caller looks up the 32 bits after
/// `depth` in the IPv4 table, which is what the tree walk would do.
public struct IPv6CountryTable: Sendable {
    /// The code of a range whose answer must come from the reader.
    public static let treeWalk = CountryRanges<UInt64>.treeWalk
    /// Codes from `aliasBase + 1` to `aliasBase + 32`: an IPv4 alias at that depth.
    static let aliasBase: UInt16 = 0xFE00

    private let ranges: CountryRanges<UInt64>

    /// Distinct ranges in the table.
    public var rangeCount: Int { ranges.starts.count }
    /// First network (upper 64 bits) of each range, ascending.
    public var starts: [UInt64] { ranges.starts }

    /// The table of an IPv6 tree's answers; nil for an IPv4-only tree, beyond `maximumRanges`
    /// terminal records, or when `abandon` says so.
    public init?(reader: MMDBReader, maximumRanges: Int = 1 << 21, abandon: () -> Bool = { false }) {
        guard reader.isIPv6Tree else { return nil }
        let ipv4Root = reader.ipv4Root
        let hasIPv4Subtree = ipv4Root > 0 && ipv4Root < reader.nodeCount
        guard
            let ranges = CountryRanges<UInt64>(
                reader: reader, root: 0, maximumRanges: maximumRanges, abandon: abandon,
                stop: { node, depth in
                    guard hasIPv4Subtree, node == ipv4Root else { return nil }
                    // The 32 bits after the alias must lie within the first 64.
                    return depth <= 32 ? Self.aliasBase + UInt16(depth) : Self.treeWalk
                })
        else { return nil }
        self.ranges = ranges
    }

    /// A table of ranges built before (see `CountryTableImage`).
    init(ranges: CountryRanges<UInt64>) {
        self.ranges = ranges
    }

    /// Raw code of each range.
    var codes: [UInt16] { ranges.codes }

    /// The raw country code for addresses whose upper 64 bits are `network`, `treeWalk`, or
    /// an IPv4 alias (see `ipv4AliasDepth(_:)`).
    @inline(__always)
    public func code(for network: UInt64) -> UInt16 { ranges.code(for: network) }

    /// The depth of the IPv4 alias that `code` stands for, if it is one.
    @inline(__always)
    public static func ipv4AliasDepth(_ code: UInt16) -> Int? {
        code > aliasBase && code <= aliasBase + 32 ? Int(code - aliasBase) : nil
    }
}

/// Ranges of a search tree's answers down to `Key.bitWidth` bits, with an index on the top 16.
public struct CountryRanges<Key: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    /// The code of a range whose answer must come from the reader.
    public static var treeWalk: UInt16 { 0xFFFF }

    /// First key of each range, ascending; `starts[0] == 0`.
    let starts: [Key]
    /// Raw `CountryCode` of each range, or a marker.
    let codes: [UInt16]
    /// `blocks[b]` is the range holding the first key whose top 16 bits are `b` (65,536 entries plus one).
    private let blocks: [UInt32]

    /// Walks the tree from `root`, left before right, to depth `Key.bitWidth`; `stop` may end
    /// the walk at a node with a code of its own (it is asked at every node, with its depth).
    init?(
        reader: MMDBReader, root: Int, maximumRanges: Int, abandon: () -> Bool,
        stop: (_ node: Int, _ depth: Int) -> UInt16?
    ) {
        let width = Key.bitWidth
        var starts: [Key] = []
        var codes: [UInt16] = []
        var terminals = 0
        // Neighbouring networks mostly share a record: remember the last one before the cache.
        var lastRecord = (value: -1, code: UInt16(0))
        // The codes of records met, direct-mapped by record value: a country database has a few
        // hundred distinct records, met over a million times, so nearly every terminal is a hit
        // (a miss only decodes the record again). A Dictionary here was most of the build's time.
        let cacheBits = 12
        var cachedValues = [Int](repeating: -1, count: 1 << cacheBits)
        var cachedCodes = [UInt16](repeating: 0, count: 1 << cacheBits)

        /// The raw code for a walk that ended on record `value`, or `treeWalk`.
        func classify(_ value: Int) -> UInt16 {
            if value < reader.nodeCount { return Self.treeWalk }  // ran out of bits
            let slot = Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: value) &* 0x9E37_79B9_7F4A_7C15) >> (64 - cacheBits))
            // In bounds: slot < 1 << cacheBits.
            if cachedValues[slot] == value { return cachedCodes[slot] }
            let code: UInt16
            if let offset = try? reader.dataOffset(forRecordValue: value) {
                code = (try? reader.countryCode(atDataOffset: offset))?.rawValue ?? Self.treeWalk
            } else {
                code = value == reader.nodeCount ? CountryCode.unknown.rawValue : Self.treeWalk
            }
            cachedValues[slot] = value
            cachedCodes[slot] = code
            return code
        }

        // Depth first, left before right, on a stack of at most one entry per level and one
        // more (a node's right child waits while its left subtree is walked): no allocation and
        // no capacity check per node, and the records are read with the record size known.
        let nodeCount = reader.nodeCount, bytes = reader.bytes, recordSize = reader.recordSize
        let walked = withUnsafeTemporaryAllocation(of: (value: Int, depth: Int, prefix: Key).self, capacity: width + 2) { stack -> Bool in
            stack[0] = (root, 0, 0)
            var top = 1
            while top > 0 {
                top -= 1
                let (value, depth, prefix) = stack[top]
                var code: UInt16
                if value < nodeCount && depth < width {
                    if let stopped = stop(value, depth) {
                        code = stopped
                    } else {
                        // In bounds: top + 2 <= depth + 2 <= width + 1 (the stack holds one
                        // waiting right child per level above this node).
                        stack[top] = (MMDBReader.record(value, bit: 1, bytes: bytes, recordSize: recordSize), depth + 1, prefix << 1 | 1)
                        stack[top + 1] = (MMDBReader.record(value, bit: 0, bytes: bytes, recordSize: recordSize), depth + 1, prefix << 1)
                        top += 2
                        continue
                    }
                } else if value == lastRecord.value {
                    code = lastRecord.code
                } else {
                    code = classify(value)
                    lastRecord = (value, code)
                }
                terminals += 1
                if terminals > maximumRanges || (terminals & 0xFFF == 0 && abandon()) { return false }
                if codes.last == code { continue }
                // depth <= width; a shift by the full width (depth 0) leaves 0.
                starts.append(depth == 0 ? 0 : prefix << (width - depth))
                codes.append(code)
            }
            return true
        }
        guard walked else { return nil }
        self.init(starts: starts, codes: codes)
    }

    /// The ranges starting at `starts` (ascending, the first 0) with `codes`; nil when they are
    /// not (an image that does not hold a table).
    init?(starts: [Key], codes: [UInt16]) {
        guard starts.count == codes.count, starts.first == 0, zip(starts, starts.dropFirst()).allSatisfy({ $0 < $1 }) else {
            return nil
        }
        let width = Key.bitWidth
        var blocks = [UInt32](repeating: 0, count: 65_537)
        var range = 0
        for block in 0..<65_536 {
            let first = Key(block) << (width - 16)
            while range + 1 < starts.count && starts[range + 1] <= first { range += 1 }
            blocks[block] = UInt32(range)
        }
        blocks[65_536] = UInt32(starts.count - 1)
        self.starts = starts
        self.codes = codes
        self.blocks = blocks
    }

    /// The raw code of `key`.
    @inline(__always)
    func code(for key: Key) -> UInt16 {
        let block = Int(truncatingIfNeeded: key >> (Key.bitWidth - 16))
        // In bounds: block + 1 <= 65,536 < blocks.count, and every entry is a valid range index.
        var low = Int(blocks[block])
        var high = Int(blocks[block + 1])
        // The answer is the last range in [low, high] starting at or before `key`.
        while low < high {
            let middle = (low + high + 1) >> 1
            if starts[middle] <= key { low = middle } else { high = middle - 1 }
        }
        return codes[low]
    }
}
