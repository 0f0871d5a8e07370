/// Bucket counters in flat arrays behind an open-addressing hash of packed keys.
///
/// Used twice: as a worker's scratch tally for one chunk (emptied by `drain`, storage kept,
/// so the per-line cost is one multiplicative hash and usually one probe, with no allocation)
/// and as the run's store of every bucket, where it takes about 45 bytes a bucket
/// (a `Dictionary<UInt64, BucketCounts>` took about three times that at its peak while growing).
///
/// `add` is inlinable: the parse workers (in the pipeline's target) call it for every line.
@_spi(Pipeline) public struct BucketTable: Sendable {
    /// Counters as stored: 32-bit counts (a single minute of one site and country never comes
    /// near 2³² requests) and 64-bit bytes, 28 bytes in all.
    public typealias Counts = StatusCounters<UInt32>

    @usableFromInline var slots: [Int32]  // index into keys/counts, or -1
    @usableFromInline var keys: [UInt64] = []
    @usableFromInline var counts: [Counts] = []
    @usableFromInline var mask: Int

    package init(initialCapacity: Int = 1024) {
        slots = Self.emptySlots(for: initialCapacity)
        mask = slots.count - 1
        keys.reserveCapacity(initialCapacity)
        counts.reserveCapacity(initialCapacity)
    }

    /// Empty slots for `capacity` entries: a power of two at least twice as many (16 at least),
    /// so that probe chains stay short until the table grows at three quarters full.
    static func emptySlots(for capacity: Int) -> [Int32] {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        return Array(repeating: -1, count: size)
    }

    var isEmpty: Bool { keys.isEmpty }
    var count: Int { keys.count }

    @inlinable @inline(__always)
    static func hash(_ key: UInt64) -> Int {
        // MurmurHash3's 64-bit finaliser: every key bit reaches the low bits used as the slot.
        // (A plain multiplicative hash read from bits 20 and up left the minute, which sits in
        // the key's top 32 bits, out of most slots: probe chains ran hundreds long.)
        Int(truncatingIfNeeded: ClientTally.mix(key))
    }

    /// The index of `key`'s counters, inserting zeroed counters when it is new.
    @inlinable @inline(__always)
    mutating func index(of key: UInt64) -> Int {
        var slot = Self.hash(key) & mask
        while true {
            let index = slots[slot]
            if index < 0 {
                let new = keys.count
                slots[slot] = Int32(new)
                keys.append(key)
                counts.append(Counts())
                if keys.count * 4 > slots.count * 3 { grow() }
                return new
            }
            if keys[Int(index)] == key { return Int(index) }
            slot = (slot + 1) & mask
        }
    }

    /// Counts one request under `key`; the index of its entry (the order entries are drained in).
    @_transparent @discardableResult
    public mutating func add(_ key: PackedKey, status: UInt16, bytes: UInt64) -> Int {
        let index = index(of: key.rawValue)
        counts[index].add(status: status, bytes: bytes)
        return index
    }

    /// Adds `other` to the counters under `key`; the index of its entry.
    @inline(__always) @discardableResult
    mutating func merge(_ key: PackedKey, _ other: Counts) -> Int {
        let index = index(of: key.rawValue)
        counts[index].merge(other)
        return index
    }

    /// The counters under `key`, if any.
    func counts(for key: PackedKey) -> Counts? {
        var slot = Self.hash(key.rawValue) & mask
        while true {
            let index = slots[slot]
            if index < 0 { return nil }
            if keys[Int(index)] == key.rawValue { return counts[Int(index)] }
            slot = (slot + 1) & mask
        }
    }

    @usableFromInline
    mutating func grow() {
        let keys = self.keys
        slots = Self.slots(size: slots.count * 2, count: keys.count) { Self.hash(keys[$0]) }
        mask = slots.count - 1
    }

    /// `size` slots (a power of two) holding entries 0..<`count`, each at the first free slot
    /// from its `hash`: a table's slots after it grew.
    static func slots(size: Int, count: Int, hash: (Int) -> Int) -> [Int32] {
        var slots = [Int32](repeating: -1, count: size)
        let mask = size - 1
        for index in 0..<count {
            var slot = hash(index) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index)
        }
        return slots
    }

    /// Hands out the entries counted so far and empties the table, keeping its storage.
    package mutating func drain() -> [(key: PackedKey, counts: Counts)] {
        var result: [(key: PackedKey, counts: Counts)] = []
        result.reserveCapacity(keys.count)
        for index in keys.indices {
            result.append((PackedKey(rawValue: keys[index]), counts[index]))
        }
        if keys.count * 8 < slots.count {
            // Few entries: clear their slots only (each is found along its probe sequence).
            for key in keys {
                var slot = Self.hash(key) & mask
                while slots[slot] < 0 || self.keys[Int(slots[slot])] != key { slot = (slot + 1) & mask }
                slots[slot] = -1
            }
        } else {
            for slot in slots.indices { slots[slot] = -1 }
        }
        keys.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
        return result
    }

    /// Empties the table, keeping its storage (the run's store after a spill fills up again).
    mutating func removeAll() {
        slots.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
        keys.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
    }
}
