import Glibc
import Synchronization
import LogSurgeCore

/// An unlinked temporary file that holds sorted runs of buckets written out of memory.
///
/// Append-only: each run is written once, at the file's end, and read back sequentially.
/// Several copies of a `MinuteBuckets` may share the file; each knows its own runs.
final class BucketSpillFile: Sendable {
    /// One bucket as spilled: the packed key, its 32-bit counters (same process, same layout),
    /// what its clients come to, and where its `ClientTally` is: an index into the table's
    /// tallies for a record in memory, an offset into the clients file (`tallyLength` bytes)
    /// for a spilled one.
    struct Record {
        var key: UInt64
        var counts: BucketTable.Counts
        var distinct: UInt32 = 0
        var busiest: UInt32 = 0
        var tally: Int64 = 0
        var tallyLength: UInt32 = 0
    }

    private let descriptor: Int32
    private let end = Mutex<Int64>(0)
    /// The spilled buckets' `ClientTally` bytes, appended one after another.
    private let clientsDescriptor: Int32
    private let clients = Mutex(ClientsEnd())

    /// The clients file's end: the bytes written, and those appended since, held until there
    /// are `flushSize` of them (a pwrite(2) a tally was a tenth of a many-sites run's time).
    private struct ClientsEnd {
        /// Where `pending` starts in the file: what is before it is written.
        var written: Int64 = 0
        var pending: [UInt8] = []
    }
    static let flushSize = 256 << 10

    /// New files in `$TMPDIR` (or /tmp), already unlinked; nil when none can be made.
    init?() {
        guard let fd = Self.temporaryFile("buckets") else { return nil }
        guard let clients = Self.temporaryFile("clients") else {
            close(fd)
            return nil
        }
        descriptor = fd
        clientsDescriptor = clients
    }

    private static func temporaryFile(_ name: String) -> Int32? {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((directory + "/logsurge-\(name)-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return nil }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return fd
    }

    deinit {
        close(descriptor)
        close(clientsDescriptor)
    }

    /// Appends a tally's bytes to the clients file: where they are, or nil when the write failed.
    ///
    /// The bytes are written with those of the next tallies, once there are `flushSize` of them;
    /// until then (and for good if that write fails) `tally(at:length:)` reads them from memory.
    /// A tally of one client (most buckets of a quiet site) is not written: its place is the
    /// client itself, its identity as the offset and its requests in a length with the top bit
    /// set (`oneClient`), which no tally's bytes reach.
    func appendTally(_ tally: ClientTally) -> (offset: Int64, length: UInt32)? {
        if let (identity, requests) = tally.oneClient, requests < Self.oneClient {
            return (Int64(bitPattern: identity), Self.oneClient | requests)
        }
        return clients.withLock { clients in
            let offset = clients.written + Int64(clients.pending.count)
            let before = clients.pending.count
            tally.serialize(appendingTo: &clients.pending)
            let length = clients.pending.count - before
            if clients.pending.count >= Self.flushSize {
                let descriptor = clientsDescriptor, at = clients.written
                // Not written: kept (earlier tallies' places were handed out), and this one refused.
                guard clients.pending.withUnsafeBytes({ Self.write(descriptor, $0, at: at) }) else { return nil }
                clients.written += Int64(clients.pending.count)
                clients.pending.removeAll(keepingCapacity: true)
            }
            return (offset, UInt32(length))
        }
    }

    /// The length bit of a place that holds one client (`appendTally`).
    private static let oneClient: UInt32 = 1 << 31

    /// The tally at `offset` of the clients file; nil when it cannot be read back.
    func tally(at offset: Int64, length: UInt32) -> ClientTally? {
        if length & Self.oneClient != 0 {
            return ClientTally(identity: UInt64(bitPattern: offset), requests: length & ~Self.oneClient)
        }
        let held = clients.withLock { clients -> ClientTally?? in
            guard offset >= clients.written else { return .none }
            // Still in memory (whole: a tally is appended at once).
            let start = Int(offset - clients.written), end = start + Int(length)
            guard end <= clients.pending.count else { return .some(nil) }
            return clients.pending.withUnsafeBytes { ClientTally(serialized: UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
        }
        if let held { return held }
        // Written, so no longer changed. A run's tallies lie one after another in the order its
        // rows are read: read ahead `readAhead` bytes of it (a pread(2) a tally was a third of
        // a many-sites run's detectors, most tallies being a few bytes).
        if Int(length) >= Self.readAhead / 2 {
            var bytes = [UInt8](repeating: 0, count: Int(length))
            guard bytes.withUnsafeMutableBytes({ Self.read(clientsDescriptor, into: $0, at: offset) }) else { return nil }
            return bytes.withUnsafeBytes { ClientTally(serialized: $0) }
        }
        let written = clients.withLock { $0.written }
        let descriptor = clientsDescriptor
        return readAheads.withLock { windows -> ClientTally? in
            let end = offset + Int64(length)
            let holds = { (window: (start: Int64, bytes: [UInt8], used: Int)) in
                window.start <= offset && end <= window.start + Int64(window.bytes.count)
            }
            // (The window of the last read first: rows come in streaks from one run.)
            if let index = windows.last < windows.all.count && holds(windows.all[windows.last])
                ? windows.last : windows.all.firstIndex(where: holds)
            {
                windows.last = index
                windows.all[index].used = windows.clock
                windows.clock += 1
                let start = Int(offset - windows.all[index].start)
                return windows.all[index].bytes.withUnsafeBytes {
                    ClientTally(serialized: UnsafeRawBufferPointer(rebasing: $0[start..<(start + Int(length))]))
                }
            }
            // A window from here (one a run, about: the least recently used one is replaced).
            let count = Int(min(Int64(Self.readAhead), written - offset))
            var window = (start: offset, bytes: [UInt8](repeating: 0, count: count), used: windows.clock)
            windows.clock += 1
            guard count >= Int(length), window.bytes.withUnsafeMutableBytes({ Self.read(descriptor, into: $0, at: offset) })
            else { return nil }
            if windows.all.count < Self.readAheadWindows {
                windows.last = windows.all.count
                windows.all.append(window)
            } else {
                let oldest = windows.all.indices.min { windows.all[$0].used < windows.all[$1].used }!
                windows.all[oldest] = window
                windows.last = oldest
            }
            return window.bytes.withUnsafeBytes { ClientTally(serialized: UnsafeRawBufferPointer(rebasing: $0[..<Int(length)])) }
        }
    }

    /// Bytes of written tallies read at once, and windows of them kept (runs are merged
    /// `MinuteBuckets.runFanIn` at a time, each read in order; rows are read back from a few
    /// levels of them): 2 MB.
    static let readAhead = 16 << 10
    static let readAheadWindows = 128
    private let readAheads = Mutex(ReadAheads())
    /// The windows read (where each starts, its bytes, when it was last used) and a clock.
    private struct ReadAheads {
        var all: [(start: Int64, bytes: [UInt8], used: Int)] = []
        var clock = 0
        /// The window the last tally was read from.
        var last = 0
    }

    /// pwrite(2)s all of `bytes` at `position`, retrying short writes.
    private static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at position: Int64) -> Bool {
        var done = 0
        while done < bytes.count {
            let result = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(position + Int64(done)))
            if result < 0 && errno == EINTR { continue }
            if result <= 0 { return false }
            done += result
        }
        return true
    }

    /// pread(2)s all of `buffer` from `position`.
    private static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at position: Int64) -> Bool {
        var done = 0
        while done < buffer.count {
            let result = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(position + Int64(done)))
            if result < 0 && errno == EINTR { continue }
            if result <= 0 { break }
            done += result
        }
        return done == buffer.count
    }

    /// Writes the records `next` gives, until it gives nil, as a run at the end of the file,
    /// `blockSize` at a time (so that only a block is held at once); the run, or nil when a
    /// write failed (or nothing was given).
    func appendRun(blockSize: Int = 1 << 12, from next: () -> Record?) -> BucketRun? {
        end.withLock { end in
            let start = end
            var position = end, count = 0
            var block: [Record] = []
            block.reserveCapacity(blockSize)
            var more = true
            while more {
                block.removeAll(keepingCapacity: true)
                while block.count < blockSize, let record = next() { block.append(record) }
                more = block.count == blockSize
                guard !block.isEmpty else { break }
                guard write(block, at: position) else { return nil }
                position += Int64(block.count * MemoryLayout<Record>.stride)
                count += block.count
            }
            guard count > 0 else { return nil }
            end = position
            return BucketRun(offset: start, count: count)
        }
    }

    /// pwrite(2)s `records` at `position`; whether all were written.
    private func write(_ records: [Record], at position: Int64) -> Bool {
        records.withUnsafeBytes { Self.write(descriptor, $0, at: position) }
    }

    /// Reads up to `count` records from `offset` into `buffer` (replacing its contents).
    func read(at offset: Int64, count: Int, into buffer: inout [Record]) -> Bool {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(Record(key: 0, counts: .init()), count: count))
        let fd = descriptor
        return buffer.withUnsafeMutableBytes { Self.read(fd, into: $0, at: offset) }
    }
}

/// A sorted run in a spill file: `count` records from `offset`.
struct BucketRun: Sendable {
    var offset: Int64
    var count: Int
}

/// The clients of one row as the row iterator hands it out: what they come to, and where
/// their tally is (one record's, or several records' merged), read only when asked for.
package struct RowClients {
    package var figures: ClientFigures
    /// Where the tally is: a spilled record's `tally` and `tallyLength` (a place in the clients
    /// file, or one client held in the place itself: `BucketSpillFile.appendTally`), or a table
    /// entry's index (`inMemory`).
    fileprivate var place: Int64 = 0
    fileprivate var placeLength: UInt32 = 0
    fileprivate var inMemory = false
    fileprivate var merged: ClientTally?

    /// The spilled tally of a row from one run: reused as it is when runs are merged.
    var spilledTally: (offset: Int64, length: UInt32)? {
        guard merged == nil, !inMemory else { return nil }
        return (place, placeLength)
    }
}

/// One row as the row iterator hands it out, its site an index into the sequence's
/// `siteNames`. (A struct, not a tuple: an optional tuple of these was copied and destroyed
/// through the run-time's generic tuple witnesses, a tenth of the detectors' row reading.)
package struct BucketEntry {
    package var key: PackedKey
    package var counts: BucketCounts
    package var clients: RowClients
}

/// The rows of a `MinuteBuckets`, sorted by minute, site name and country, merged from the
/// buckets held in memory and the runs spilled to disk (equal keys summed, their clients merged).
///
/// Every source is merged by its rows' sort keys (`MinuteBuckets.sortKey`): the table's entries
/// come with theirs, a run's records get theirs as each block is read, so the merge compares
/// integers and a row's key comes back from its sort key with one lookup.
public struct BucketRowSequence: Sequence, Sendable {
    package let siteNames: [String]
    /// Sort rank of each site index (by name), and the site index of each rank.
    let rank: [UInt16]
    let siteOfRank: [UInt16]
    /// The table's entries in row order, each under its sort key.
    let memory: [BucketSpillFile.Record]
    /// The clients of the table's entries (a memory record's `tally` is its index here).
    let tallies: [ClientTally]
    let file: BucketSpillFile?
    let runs: [BucketRun]

    public func makeIterator() -> Iterator {
        Iterator(sequence: self)
    }

    /// The key of a row from its sort key.
    @inline(__always)
    func packedKey(sortKey: UInt64) -> PackedKey {
        let minute = Int32(bitPattern: UInt32(truncatingIfNeeded: sortKey >> 32) ^ 0x8000_0000)
        let site = siteOfRank[Int(UInt16(truncatingIfNeeded: sortKey >> 16))]
        return PackedKey(minute: minute, site: site, country: CountryCode(rawValue: UInt16(truncatingIfNeeded: sortKey)))
    }

    /// The clients' tally of a row (read back from the clients file for a spilled one; empty
    /// when that read fails, as the disk failed under us).
    package func tally(of clients: RowClients) -> ClientTally {
        if let merged = clients.merged { return merged }
        return tally(at: clients.place, length: clients.placeLength, inMemory: clients.inMemory)
    }

    fileprivate func tally(at place: Int64, length: UInt32, inMemory: Bool) -> ClientTally {
        if inMemory { return tallies[Int(place)] }
        guard length > 0 else { return ClientTally() }
        return file?.tally(at: place, length: length) ?? ClientTally()
    }

    public struct Iterator: IteratorProtocol {
        /// One sorted source: the table's entries (all at once) or a run (a block at a time),
        /// its records under their sort keys.
        private struct Source {
            var run: BucketRun?
            var consumed = 0
            var block: [BucketSpillFile.Record] = []
            var position = 0
        }

        private let sequence: BucketRowSequence
        private var sources: [Source]
        /// The sort key of each source's next record; `UInt64.max` once it has none (no row has
        /// that key: site ranks stay below 65,535).
        private var heads: [UInt64]
        /// A source whose records come before every other source's head (`streakLimit`): the
        /// sources cover mostly different minutes (a run spilled early, the table late), so
        /// rows come in long streaks from one source, each checked against one number.
        private var streak = -1
        private var streakLimit: UInt64 = 0
        /// Records read at a time from each run: 64 KB (runs stay few, see `MinuteBuckets.runFanIn`).
        private static let blockSize = 1024

        init(sequence: BucketRowSequence) {
            self.sequence = sequence
            sources = [Source(run: nil, block: sequence.memory)] + sequence.runs.map { Source(run: $0) }
            heads = Array(repeating: .max, count: sources.count)
            for index in sources.indices {
                refill(index)
                updateHead(index)
            }
        }

        /// Reads the next block of a run once its block is used up.
        private mutating func refill(_ index: Int) {
            guard let run = sources[index].run else { return }
            guard sources[index].position >= sources[index].block.count, sources[index].consumed < run.count,
                let file = sequence.file
            else { return }
            let count = Swift.min(Self.blockSize, run.count - sources[index].consumed)
            let offset = run.offset + Int64(sources[index].consumed * MemoryLayout<BucketSpillFile.Record>.stride)
            if file.read(at: offset, count: count, into: &sources[index].block) {
                sources[index].consumed += count
                let rank = sequence.rank
                sources[index].block.withUnsafeMutableBufferPointer { records in
                    for position in records.indices {
                        records[position].key = MinuteBuckets.sortKey(records[position].key, rank: rank)
                    }
                }
            } else {
                // The spill file could not be read back (the disk failed under us): nothing
                // sensible remains of this run; stop it rather than return garbage.
                sources[index].block = []
                sources[index].consumed = run.count
            }
            sources[index].position = 0
        }

        @inline(__always)
        private mutating func updateHead(_ index: Int) {
            let position = sources[index].position
            heads[index] = position < sources[index].block.count ? sources[index].block[position].key : .max
        }

        public mutating func next() -> BucketRow? {
            guard let entry = nextEntry() else { return nil }
            return BucketRow(
                minute: entry.key.minute, site: sequence.siteNames[Int(entry.key.site)], country: entry.key.country,
                counts: entry.counts, clients: entry.clients.figures)
        }

        /// The next row with its site as an index into `siteNames`: no string per row.
        package mutating func nextEntry() -> BucketEntry? {
            if heads.count == 1 {
                // Nothing spilled: the table's sorted entries as they are.
                let position = sources[0].position
                guard position < sources[0].block.count else { return nil }
                sources[0].position = position + 1
                return row(sources[0].block[position], inMemory: true)
            }
            if streak >= 0, heads[streak] < streakLimit { return take(streak) }
            // The smallest head and the next smallest.
            var best = UInt64.max, second = UInt64.max, bestIndex = 0
            for (index, head) in heads.enumerated() {
                if head < best {
                    (second, best, bestIndex) = (best, head, index)
                } else if head < second {
                    second = head
                }
            }
            guard best != .max else { return nil }
            if best < second {
                (streak, streakLimit) = (bestIndex, second)
                return take(bestIndex)
            }
            // Several sources hold the key: each adds its record (keys are unique within a source).
            streak = -1
            var counts = BucketCounts()
            var tally = ClientTally()
            for index in heads.indices where heads[index] == best {
                let inMemory = sources[index].run == nil
                let record = sources[index].block[sources[index].position]
                _ = take(index)
                counts.merge(record.counts)
                tally.merge(sequence.tally(at: record.tally, length: record.tallyLength, inMemory: inMemory))
            }
            let clients = RowClients(figures: ClientFigures(tally), merged: tally)
            return BucketEntry(key: sequence.packedKey(sortKey: best), counts: counts, clients: clients)
        }

        /// A record as a row.
        @inline(__always)
        private func row(_ record: BucketSpillFile.Record, inMemory: Bool) -> BucketEntry {
            let figures = ClientFigures(distinct: Int(record.distinct), busiest: Int(record.busiest))
            return BucketEntry(
                key: sequence.packedKey(sortKey: record.key), counts: BucketCounts(record.counts),
                clients: RowClients(figures: figures, place: record.tally, placeLength: record.tallyLength, inMemory: inMemory))
        }

        /// The next record of source `index`, as a row.
        @inline(__always)
        private mutating func take(_ index: Int) -> BucketEntry {
            let record = sources[index].block[sources[index].position]
            sources[index].position += 1
            refill(index)
            updateHead(index)
            return row(record, inMemory: sources[index].run == nil)
        }
    }
}
