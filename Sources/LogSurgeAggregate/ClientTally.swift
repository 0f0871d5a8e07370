import Foundation

/// The distinct clients of one bucket, and how many requests the busiest of them sent.
///
/// Exact while the bucket has at most `exactLimit` distinct clients: each client's identity
/// (`identity(high:low:)`, one-to-one for IPv4) with its requests, sorted by identity. Beyond,
/// a `ClientSketch`: a HyperLogLog of 2¹⁵ registers for the count (relative standard error
/// 0.6 %, so within 2 % but for about one bucket in two thousand; closer while the count is
/// below a few tens of thousands) and a count-min sketch for the busiest client's requests (an
/// upper bound).
///
/// Merging is a union (identities, registers) and a sum (requests, count-min cells), and a
/// tally becomes a sketch exactly when its union has more than `exactLimit` clients: whatever
/// order or grouping the lines of a bucket are merged in, the tally comes out the same, which
/// keeps every output the same for every thread count and chunk size.
public struct ClientTally: Sendable, Equatable {
    /// Distinct clients kept exactly (12 bytes each, 12 KB at most); past this, the sketch (36 KB).
    public static let exactLimit = 1024

    /// Bytes this tally holds besides itself, about: the pairs, with the two arrays' headers and
    /// the allocator's own (the many tallies of two or three clients are mostly that); none for
    /// one client, held in the tally itself.
    var memoryBytes: Int {
        switch form {
        case .exact(let identities, _): 12 * identities.capacity + 96
        case .sketch: ClientSketch.bytes
        case nil, .one, .reported: 0
        }
    }

    /// What the tally holds: nothing (nil), one client (most buckets of a quiet site: no
    /// allocation), two to `exactLimit` clients by identity, ascending, each with its requests,
    /// a sketch beyond, or figures read from a file (`logsurge detect` on buckets), with no
    /// clients behind them. Each content has one form, so equal tallies are equal.
    private enum Form: Sendable, Equatable {
        case one(identity: UInt64, requests: UInt32)
        case exact(identities: [UInt64], requests: [UInt32])
        case sketch(ClientSketch)
        case reported(ClientFigures)
    }
    private var form: Form?

    public init() {}

    /// Figures as a bucket file reports them. Merged with others, distinct clients add up (a
    /// client in both is counted twice) and the busiest is the larger one.
    public init(reported figures: ClientFigures) {
        if figures.distinct > 0 || figures.busiest > 0 { form = .reported(figures) }
    }

    /// Whether no client was counted.
    public var isEmpty: Bool { form == nil }

    /// The distinct clients: exact up to `exactLimit`, an estimate beyond.
    public var distinct: Int {
        switch form {
        case nil: 0
        case .one: 1
        case .exact(let identities, _): identities.count
        case .sketch(let sketch): max(Self.exactLimit + 1, sketch.estimatedDistinct())
        case .reported(let figures): figures.distinct
        }
    }

    /// Requests of the busiest client: exact up to `exactLimit` clients, an upper bound beyond.
    public var busiest: Int {
        switch form {
        case nil: 0
        case .one(_, let requests): Int(requests)
        case .exact(_, let requests): Int(requests.max() ?? 0)
        case .sketch(let sketch): sketch.busiestBound()
        case .reported(let figures): figures.busiest
        }
    }

    /// The identity of the client at `high`:`low` (an IPv6 address's halves; IPv4 is
    /// ::ffff:a.b.c.d): a well-mixed 64-bit number, distinct for distinct IPv4 addresses
    /// (MurmurHash3's finaliser is one-to-one) and for IPv6 addresses but with odds of 2⁻⁶⁴.
    @inlinable @inline(__always)
    public static func identity(high: UInt64, low: UInt64) -> UInt64 {
        mix(low ^ mix(high))
    }

    /// MurmurHash3's 64-bit finaliser (one-to-one; `mix(0) == 0`): client identities, and the
    /// bucket table's slots.
    @inlinable @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }

    /// One client's requests.
    init(identity: UInt64, requests: UInt32) {
        form = .one(identity: identity, requests: requests)
    }

    /// A tally of more than `exactLimit` clients, as `sketch` holds them.
    fileprivate init(sketch: ClientSketch) {
        form = .sketch(sketch)
    }

    /// The client and its requests when the tally holds exactly one.
    var oneClient: (identity: UInt64, requests: UInt32)? {
        if case .one(let identity, let requests) = form { (identity, requests) } else { nil }
    }

    /// A tally from `(identity, requests)` pairs sorted by identity, each identity once.
    init(sortedPairs identities: [UInt64], requests: [UInt32]) {
        switch identities.count {
        case 0: break
        case 1: form = .one(identity: identities[0], requests: requests[0])
        case ...Self.exactLimit: form = .exact(identities: identities, requests: requests)
        default:
            var sketch = ClientSketch()
            for (identity, count) in zip(identities, requests) { sketch.add(identity, requests: count) }
            form = .sketch(sketch)
        }
    }

    /// Adds the clients and requests of `other`.
    public mutating func merge(_ other: ClientTally) {
        guard let theirs = other.form else { return }
        guard let ours = form else {
            self = other
            return
        }
        switch (ours, theirs) {
        case (.reported, _), (_, .reported):
            self = ClientTally(reported: ClientFigures(distinct: distinct + other.distinct, busiest: Swift.max(busiest, other.busiest)))
        case (.one(let a, let m), .one(let b, let n)):
            if a == b {
                form = .one(identity: a, requests: m &+ n)
            } else {
                form = .exact(identities: a < b ? [a, b] : [b, a], requests: a < b ? [m, n] : [n, m])
            }
        case (.sketch(var sketch), .sketch(let more)):
            form = nil  // the sketch's arrays uniquely referenced while they change
            sketch.merge(more)
            form = .sketch(sketch)
        case (.sketch(var sketch), _):
            form = nil
            other.forEachPair { sketch.add($0, requests: $1) }
            form = .sketch(sketch)
        case (_, .sketch(var sketch)):
            forEachPair { sketch.add($0, requests: $1) }
            form = .sketch(sketch)
        default:
            mergeExact(other)
        }
    }

    /// Each client kept exactly, by identity, with its requests (none for a sketch or figures).
    private func forEachPair(_ body: (UInt64, UInt32) -> Void) {
        switch form {
        case .one(let identity, let requests): body(identity, requests)
        case .exact(let identities, let requests): for (identity, count) in zip(identities, requests) { body(identity, count) }
        case nil, .sketch, .reported: break
        }
    }

    /// The pairs of an exact tally (one client or more), as arrays.
    private var pairs: (identities: [UInt64], requests: [UInt32]) {
        switch form {
        case .one(let identity, let requests): ([identity], [requests])
        case .exact(let identities, let requests): (identities, requests)
        case nil, .sketch, .reported: ([], [])
        }
    }

    /// The union of two exact tallies, a sketch when it has more than `exactLimit` clients.
    private mutating func mergeExact(_ other: ClientTally) {
        let (identities, requests) = pairs, (otherIdentities, otherRequests) = other.pairs
        var ids: [UInt64] = [], counts: [UInt32] = []
        ids.reserveCapacity(identities.count + otherIdentities.count)
        counts.reserveCapacity(identities.count + otherIdentities.count)
        var i = 0, j = 0
        while i < identities.count || j < otherIdentities.count {
            if j == otherIdentities.count || (i < identities.count && identities[i] < otherIdentities[j]) {
                ids.append(identities[i])
                counts.append(requests[i])
                i += 1
            } else if i == identities.count || otherIdentities[j] < identities[i] {
                ids.append(otherIdentities[j])
                counts.append(otherRequests[j])
                j += 1
            } else {
                ids.append(identities[i])
                counts.append(requests[i] &+ otherRequests[j])
                i += 1
                j += 1
            }
        }
        self = ClientTally(sortedPairs: ids, requests: counts)
    }

    // MARK: - Bytes (the spill file)

    /// The tally as bytes: a tag, then the pairs or the sketch, little-endian.
    func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        serialize(appendingTo: &bytes)
        return bytes
    }

    /// Appends `serialized()`'s bytes to `bytes` (the spill file's buffer: no array a tally).
    func serialize(appendingTo bytes: inout [UInt8]) {
        switch form {
        case .reported(let reported):
            bytes.append(2)
            for value in [reported.distinct, reported.busiest] { withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 } }
        case .sketch(let sketch):
            bytes.append(1)
            bytes += sketch.registers
            Self.append(count: sketch.cells.count, size: 4, to: &bytes) { raw, index in
                raw.storeBytes(of: sketch.cells[index].littleEndian, toByteOffset: 4 * index, as: UInt32.self)
            }
        case nil, .one, .exact:
            bytes.append(0)
            let (identities, requests) = pairs
            Self.append(count: identities.count, size: 12, to: &bytes) { raw, index in
                raw.storeBytes(of: identities[index].littleEndian, toByteOffset: 12 * index, as: UInt64.self)
                raw.storeBytes(of: requests[index].littleEndian, toByteOffset: 12 * index + 8, as: UInt32.self)
            }
        }
    }

    /// Appends `count` values of `size` bytes to `bytes`, each stored by `store(raw, index)` at
    /// `size × index` of the new bytes (an append of a few bytes a value was most of a spill).
    @inline(__always)
    private static func append(
        count: Int, size: Int, to bytes: inout [UInt8], _ store: (UnsafeMutableRawBufferPointer, Int) -> Void
    ) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: count * size))
        bytes.withUnsafeMutableBytes { raw in
            let values = UnsafeMutableRawBufferPointer(rebasing: raw[start...])
            for index in 0..<count { store(values, index) }
        }
    }

    /// The tally `serialized()` wrote; nil for bytes it cannot have written.
    init?(serialized bytes: UnsafeRawBufferPointer) {
        guard let tag = bytes.first else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        switch tag {
        case 0:
            guard body.count % 12 == 0 else { return nil }
            let count = body.count / 12
            func pair(_ index: Int) -> (UInt64, UInt32) {
                (
                    UInt64(littleEndian: body.loadUnaligned(fromByteOffset: 12 * index, as: UInt64.self)),
                    UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 12 * index + 8, as: UInt32.self))
                )
            }
            if count == 1 {
                let (identity, requests) = pair(0)
                form = .one(identity: identity, requests: requests)
            } else if count > 1 {
                var identities: [UInt64] = [], requests: [UInt32] = []
                identities.reserveCapacity(count)
                requests.reserveCapacity(count)
                for index in 0..<count {
                    let (identity, requests1) = pair(index)
                    identities.append(identity)
                    requests.append(requests1)
                }
                form = .exact(identities: identities, requests: requests)
            }
        case 1:
            var sketch = ClientSketch()
            let registerBytes = sketch.registers.count
            guard body.count == registerBytes + 4 * sketch.cells.count else { return nil }
            sketch.registers = Array(body[..<registerBytes])
            for index in sketch.cells.indices {
                sketch.cells[index] = UInt32(littleEndian: body.loadUnaligned(fromByteOffset: registerBytes + 4 * index, as: UInt32.self))
            }
            form = .sketch(sketch)
        case 2:
            guard body.count == 16 else { return nil }
            let distinct = Int64(littleEndian: body.loadUnaligned(fromByteOffset: 0, as: Int64.self))
            let busiest = Int64(littleEndian: body.loadUnaligned(fromByteOffset: 8, as: Int64.self))
            form = .reported(ClientFigures(distinct: Int(distinct), busiest: Int(busiest)))
        default:
            return nil
        }
    }
}

/// What a bucket's clients come to: the distinct clients and the busiest one's requests.
public struct ClientFigures: Sendable, Equatable {
    public var distinct: Int
    public var busiest: Int

    public init(distinct: Int = 0, busiest: Int = 0) {
        self.distinct = distinct
        self.busiest = busiest
    }

    public init(_ tally: ClientTally) {
        self.init(distinct: tally.distinct, busiest: tally.busiest)
    }
}

/// Many distinct clients: a HyperLogLog (2¹⁵ one-byte registers) for how many, and a
/// count-min sketch (4 rows of 256 cells) for the busiest one's requests.
struct ClientSketch: Sendable, Equatable {
    static let precision = 15
    static let bytes = (1 << precision) + 4 * rows * columns
    static let rows = 4
    static let columns = 256

    var registers = [UInt8](repeating: 0, count: 1 << ClientSketch.precision)
    var cells = [UInt32](repeating: 0, count: ClientSketch.rows * ClientSketch.columns)

    /// Adds `requests` requests of the client `identity` (already well mixed).
    mutating func add(_ identity: UInt64, requests: UInt32) {
        let index = Int(identity >> UInt64(64 - Self.precision))
        // The rank: leading zeros of the remaining bits, plus one (at most 64 - precision + 1).
        let rest = identity << UInt64(Self.precision)
        let rank = UInt8(min(rest.leadingZeroBitCount, 64 - Self.precision) + 1)
        if registers[index] < rank { registers[index] = rank }
        let columnBits = ClientTally.mix(identity ^ 0x9E37_79B9_7F4A_7C15)
        for row in 0..<Self.rows {
            let column = Int(truncatingIfNeeded: columnBits >> UInt64(8 * row)) & (Self.columns - 1)
            cells[row * Self.columns + column] &+= requests
        }
    }

    mutating func merge(_ other: ClientSketch) {
        for index in registers.indices where registers[index] < other.registers[index] { registers[index] = other.registers[index] }
        for index in cells.indices { cells[index] &+= other.cells[index] }
    }

    /// The busiest client sent at most this many requests: its cell in every row holds at
    /// least its requests, so the smallest row maximum bounds it.
    func busiestBound() -> Int {
        var bound = UInt32.max
        for row in 0..<Self.rows {
            bound = min(bound, cells[(row * Self.columns)..<((row + 1) * Self.columns)].max()!)
        }
        return Int(bound)
    }

    /// Ertl's improved raw estimator ("New cardinality estimation algorithms for HyperLogLog
    /// sketches", 2017, algorithm 6): no bias table, and as accurate as linear counting when
    /// most registers are still zero.
    func estimatedDistinct() -> Int {
        let m = Double(registers.count)
        let q = 64 - Self.precision
        var histogram = [Int](repeating: 0, count: q + 2)
        for register in registers { histogram[Int(register)] += 1 }
        var z = m * Self.tau(1 - Double(histogram[q + 1]) / m)
        for k in stride(from: q, through: 1, by: -1) {
            z += Double(histogram[k])
            z *= 0.5
        }
        z += m * Self.sigma(Double(histogram[0]) / m)
        guard z.isFinite, z > 0 else { return 0 }
        return Int((m * m / (2 * log(2.0)) / z).rounded())
    }

    private static func sigma(_ value: Double) -> Double {
        if value == 1 { return .infinity }
        var x = value, y = 1.0, z = value
        while true {
            x *= x
            let previous = z
            z += x * y
            y += y
            if z == previous { return z }
        }
    }

    private static func tau(_ value: Double) -> Double {
        if value == 0 || value == 1 { return 0 }
        var x = value, y = 1.0, z = 1 - value
        while true {
            x = x.squareRoot()
            let previous = z
            y *= 0.5
            z -= (1 - x) * (1 - x) * y
            if z == previous { return z / 3 }
        }
    }
}

/// A worker's scratch tally of clients per bucket for one chunk: one hash probe a line, no
/// allocation once warm; `drain` hands out a `ClientTally` per bucket entry.
@_spi(Pipeline) public struct ClientCounter: Sendable {
    @usableFromInline var slots: [Int32]
    @usableFromInline var entries: [Int32] = []
    @usableFromInline var identities: [UInt64] = []
    @usableFromInline var counts: [UInt32] = []
    @usableFromInline var mask: Int

    public init(initialCapacity: Int = 4096) {
        slots = BucketTable.emptySlots(for: initialCapacity)
        mask = slots.count - 1
    }

    @inlinable @inline(__always)
    static func hash(_ identity: UInt64, entry: Int32) -> Int {
        Int(truncatingIfNeeded: ClientTally.mix(identity ^ UInt64(UInt32(bitPattern: entry)) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Counts one request of client `identity` in bucket entry `entry`.
    @inlinable @inline(__always)
    public mutating func add(entry: Int, client identity: UInt64) {
        let entry32 = Int32(truncatingIfNeeded: entry)
        var slot = Self.hash(identity, entry: entry32) & mask
        while true {
            let index = slots[slot]
            if index < 0 {
                slots[slot] = Int32(truncatingIfNeeded: identities.count)
                entries.append(entry32)
                identities.append(identity)
                counts.append(1)
                if identities.count * 4 > slots.count * 3 { grow() }
                return
            }
            if identities[Int(index)] == identity, entries[Int(index)] == entry32 {
                counts[Int(index)] &+= 1
                return
            }
            slot = (slot + 1) & mask
        }
    }

    @usableFromInline
    mutating func grow() {
        let identities = self.identities, entries = self.entries
        slots = BucketTable.slots(size: slots.count * 2, count: identities.count) { Self.hash(identities[$0], entry: entries[$0]) }
        mask = slots.count - 1
    }

    /// The tally of each of the first `entryCount` entries, and empties the counter.
    package mutating func drain(entryCount: Int) -> [ClientTally] {
        var tallies = [ClientTally](repeating: ClientTally(), count: entryCount)
        guard !identities.isEmpty else { return tallies }
        // Counting sort by entry into one array of pairs, then each entry's pairs sorted in
        // place by identity (sorting indices that compared through two arrays was a tenth of
        // the pipeline's time on one thread); a tally of more than `exactLimit` clients is a
        // sketch, which takes its clients in any order.
        var starts = [Int](repeating: 0, count: entryCount + 1)
        for entry in entries { starts[Int(entry) + 1] += 1 }
        for index in 0..<entryCount { starts[index + 1] += starts[index] }
        var pairs = [Pair](repeating: Pair(identity: 0, requests: 0), count: identities.count)
        var next = starts
        for index in entries.indices {
            let entry = Int(entries[index])
            pairs[next[entry]] = Pair(identity: identities[index], requests: counts[index])
            next[entry] += 1
        }
        let scratch = UnsafeMutableBufferPointer<Pair>.allocate(capacity: ClientTally.exactLimit)
        defer { scratch.deallocate() }
        pairs.withUnsafeMutableBufferPointer { pairs in
            for entry in 0..<entryCount where starts[entry] < starts[entry + 1] {
                let group = UnsafeMutableBufferPointer(rebasing: pairs[starts[entry]..<starts[entry + 1]])
                if group.count == 1 {
                    tallies[entry] = ClientTally(identity: group[0].identity, requests: group[0].requests)
                } else if group.count > ClientTally.exactLimit {
                    var sketch = ClientSketch()
                    for pair in group { sketch.add(pair.identity, requests: pair.requests) }
                    tallies[entry] = ClientTally(sketch: sketch)
                } else {
                    let sorted = Self.sortedByIdentity(group, scratch: scratch)
                    tallies[entry] = ClientTally(sortedPairs: sorted.map(\.identity), requests: sorted.map(\.requests))
                }
            }
        }
        if identities.count * 8 < slots.count {
            for index in identities.indices {
                var slot = Self.hash(identities[index], entry: entries[index]) & mask
                while slots[slot] != Int32(index) { slot = (slot + 1) & mask }
                slots[slot] = -1
            }
        } else {
            for slot in slots.indices { slots[slot] = -1 }
        }
        entries.removeAll(keepingCapacity: true)
        identities.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
        return tallies
    }

    /// `group`'s pairs sorted by identity, in `group` or in `scratch` (at least as long): dealt
    /// by their identities' top bits, about one a slot for ordinary traffic (identities are
    /// distinct and well mixed: `ClientTally.identity`), then each slot's few sorted by
    /// insertion (a slot of more than 32, chosen on purpose, by a merge sort). (The standard
    /// library's merge sort of a bucket's clients was a tenth of the pipeline's time on one
    /// thread.)
    @inline(__always)
    private static func sortedByIdentity(
        _ group: UnsafeMutableBufferPointer<Pair>, scratch: UnsafeMutableBufferPointer<Pair>
    ) -> UnsafeMutableBufferPointer<Pair> {
        let count = group.count
        if count <= 16 {
            insertionSort(group)
            return group
        }
        let bits = min(11, Int.bitWidth - count.leadingZeroBitCount)
        let shift = UInt64(64 - bits)
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: (1 << bits) + 1) { starts in
            starts.initialize(repeating: 0)
            for pair in group { starts[Int(pair.identity >> shift) + 1] += 1 }
            for slot in 0..<(1 << bits) { starts[slot + 1] += starts[slot] }
            for pair in group {
                let slot = Int(pair.identity >> shift)
                scratch[Int(starts[slot])] = pair
                starts[slot] += 1
            }
            // Each slot's pairs now end where the next slot's start: sorted slot by slot. (A
            // slot of many is sorted by the standard library: identities are a one-to-one mix of
            // the address, so whoever holds a /64 can choose 1,024 of one slot, and insertion
            // would take half a million moves a bucket.)
            var start = 0
            for slot in 0..<(1 << bits) {
                let end = Int(starts[slot])
                if end - start > 32 {
                    var many = UnsafeMutableBufferPointer(rebasing: scratch[start..<end])
                    many.sort { $0.identity < $1.identity }
                } else if end - start > 1 {
                    insertionSort(UnsafeMutableBufferPointer(rebasing: scratch[start..<end]))
                }
                start = end
            }
            return UnsafeMutableBufferPointer(rebasing: scratch[..<count])
        }
    }

    @inline(__always)
    private static func insertionSort(_ pairs: UnsafeMutableBufferPointer<Pair>) {
        guard pairs.count > 1 else { return }
        for index in 1..<pairs.count {
            let pair = pairs[index]
            var position = index
            while position > 0, pairs[position - 1].identity > pair.identity {
                pairs[position] = pairs[position - 1]
                position -= 1
            }
            pairs[position] = pair
        }
    }

    /// A client of an entry and its requests, as `drain` sorts them.
    private struct Pair {
        var identity: UInt64
        var requests: UInt32
    }
}
