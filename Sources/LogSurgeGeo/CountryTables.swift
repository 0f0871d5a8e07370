/// The country of every IPv4 address, flattened from a database's search tree into ranges.
///
/// A lookup is one index probe and a short binary search (a few cache lines) instead of a walk
/// of up to 32 tree nodes and a cache probe: what makes country resolution cheap for logs
/// whose clients rarely repeat. The table gives exactly the reader's answer for every address;
/// where the reader's answer would be an error (a corrupt tree or record), the range is marked
/// `treeWalk`, and the caller asks the reader, so errors are met and counted as without it.
///
/// Built by walking the IPv4 part of the tree once (the embedded database: a few milliseconds).
/// A tree with more than `maximumRanges` distinct ranges (a large City database, or a corrupt
/// tree whose nodes point back at each other) gives no table: lookups then walk the tree.
public struct IPv4CountryTable: Sendable {
    /// The code of a range whose answer must come from the reader.
    public static let treeWalk: UInt16 = 0xFFFF

    /// First address of each range, ascending; `starts[0] == 0`.
    public let starts: [UInt32]
    /// Raw `CountryCode` of each range, or `treeWalk`.
    private let codes: [UInt16]
    /// `blocks[b]` is the range holding address `b << 16` (65,536 entries plus one).
    private let blocks: [UInt32]

    /// Distinct ranges in the table (adjacent ranges of one country are one range).
    public var rangeCount: Int { starts.count }

    /// The table of `reader`'s IPv4 answers, or nil when the tree has more than `maximumRanges`
    /// terminal records (by default 2 M: about 12 MB of table).
    public init?(reader: MMDBReader, maximumRanges: Int = 1 << 21) {
        var starts: [UInt32] = []
        var codes: [UInt16] = []
        var recordCodes: [Int: UInt16] = [:]
        var terminals = 0
        // Neighbouring networks mostly share a record: remember the last one before hashing.
        var lastRecord = (value: -1, code: UInt16(0))

        /// The raw code for a walk that ended on record `value`, or `treeWalk`.
        func classify(_ value: Int) -> UInt16 {
            if value < reader.nodeCount { return Self.treeWalk }  // ran out of bits: corrupt
            guard let offset = try? reader.dataOffset(forRecordValue: value) else {
                return value == reader.nodeCount ? CountryCode.unknown.rawValue : Self.treeWalk
            }
            if let known = recordCodes[offset] { return known }
            let code = (try? reader.countryCode(atDataOffset: offset))?.rawValue ?? Self.treeWalk
            recordCodes[offset] = code
            return code
        }

        // Depth-first, left before right: ranges come out in address order.
        var stack: [(value: Int, depth: Int, prefix: UInt64)] = [(reader.ipv4Root, 0, 0)]
        while let (value, depth, prefix) = stack.popLast() {
            if value < reader.nodeCount && depth < 32 {
                stack.append((reader.record(value, bit: 1), depth + 1, prefix << 1 | 1))
                stack.append((reader.record(value, bit: 0), depth + 1, prefix << 1))
                continue
            }
            terminals += 1
            if terminals > maximumRanges { return nil }
            let code: UInt16
            if value == lastRecord.value {
                code = lastRecord.code
            } else {
                code = classify(value)
                lastRecord = (value, code)
            }
            if codes.last == code { continue }
            starts.append(UInt32(truncatingIfNeeded: prefix << (32 - depth)))
            codes.append(code)
        }

        var blocks = [UInt32](repeating: 0, count: 65_537)
        var range = 0
        for block in 0..<65_536 {
            let first = UInt32(block) << 16
            while range + 1 < starts.count && starts[range + 1] <= first { range += 1 }
            blocks[block] = UInt32(range)
        }
        blocks[65_536] = UInt32(starts.count - 1)
        self.starts = starts
        self.codes = codes
        self.blocks = blocks
    }

    /// The raw country code of `address` (host byte order), or `treeWalk`.
    @inline(__always)
    public func code(for address: UInt32) -> UInt16 {
        let block = Int(address >> 16)
        // In bounds: block + 1 <= 65,536 < blocks.count, and every entry is a valid range index.
        var low = Int(blocks[block])
        var high = Int(blocks[block + 1])
        // The answer is the last range in [low, high] starting at or before `address`.
        while low < high {
            let middle = (low + high + 1) >> 1
            if starts[middle] <= address { low = middle } else { high = middle - 1 }
        }
        return codes[low]
    }
}
