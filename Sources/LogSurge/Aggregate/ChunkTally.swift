/// A worker's scratch tally for one chunk: bucket counters in flat arrays behind an
/// open-addressing hash of packed keys.
///
/// The storage is reused from chunk to chunk (`drain` empties it without freeing), so the
/// per-line cost is one multiplicative hash and usually one probe, with no allocation.
struct ChunkTally {
    private var slots: [Int32]          // index into keys/counts, or -1
    private var keys: [UInt64] = []
    private var counts: [BucketCounts] = []
    private var mask: Int

    init(initialCapacity: Int = 1024) {
        var size = 16
        while size < initialCapacity * 2 { size <<= 1 }
        slots = Array(repeating: -1, count: size)
        mask = size - 1
        keys.reserveCapacity(initialCapacity)
        counts.reserveCapacity(initialCapacity)
    }

    var isEmpty: Bool { keys.isEmpty }

    @inline(__always)
    private static func hash(_ key: UInt64) -> Int {
        // Fibonacci hashing; the high bits of the product are well mixed.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20)
    }

    /// Counts one request under `key`.
    @inline(__always)
    mutating func add(_ key: PackedKey, status: UInt16, bytes: UInt64) {
        var slot = Self.hash(key.rawValue) & mask
        while true {
            let index = slots[slot]
            if index < 0 {
                slots[slot] = Int32(keys.count)
                keys.append(key.rawValue)
                var fresh = BucketCounts()
                fresh.add(status: status, bytes: bytes)
                counts.append(fresh)
                if keys.count * 2 > slots.count { grow() }
                return
            }
            if keys[Int(index)] == key.rawValue {
                counts[Int(index)].add(status: status, bytes: bytes)
                return
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = Array(repeating: -1, count: size)
        mask = size - 1
        for (index, key) in keys.enumerated() {
            var slot = Self.hash(key) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index)
        }
    }

    /// Hands out the entries counted so far and empties the tally, keeping its storage.
    mutating func drain() -> [(key: PackedKey, counts: BucketCounts)] {
        var result: [(key: PackedKey, counts: BucketCounts)] = []
        result.reserveCapacity(keys.count)
        for index in keys.indices {
            result.append((PackedKey(rawValue: keys[index]), counts[index]))
            var slot = Self.hash(keys[index]) & mask
            while slots[slot] != Int32(index) { slot = (slot + 1) & mask }
            slots[slot] = -1
        }
        keys.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
        return result
    }
}
