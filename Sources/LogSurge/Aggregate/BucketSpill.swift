import Glibc
import LogSurgeGeo
import Synchronization

/// An unlinked temporary file that holds sorted runs of buckets written out of memory.
///
/// Append-only: each run is written once, at the file's end, and read back sequentially.
/// Several copies of a `MinuteBuckets` may share the file; each knows its own runs.
final class BucketSpillFile: Sendable {
    /// One bucket as spilled: the packed key and its 32-bit counters (same process, same layout).
    struct Record {
        var key: UInt64
        var counts: BucketTable.Counts
    }

    private let descriptor: Int32
    private let end = Mutex<Int64>(0)

    /// A new file in `$TMPDIR` (or /tmp), already unlinked; nil when none can be made.
    init?() {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((directory + "/logsurge-buckets-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return nil }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Writes a run of `count` records at the end of the file, made `blockSize` at a time by
    /// `block` (so that only a block is held at once); the run's offset, or nil when a write failed.
    func appendRun(count: Int, blockSize: Int = 1 << 16, _ block: (Range<Int>) -> [Record]) -> Int64? {
        end.withLock { end in
            let start = end
            var position = end
            for first in stride(from: 0, to: count, by: blockSize) {
                let records = block(first..<min(first + blockSize, count))
                let bytes = records.count * MemoryLayout<Record>.stride
                let written = records.withUnsafeBytes { raw in
                    var done = 0
                    while done < bytes {
                        let result = pwrite(descriptor, raw.baseAddress! + done, bytes - done, off_t(position + Int64(done)))
                        if result < 0 && errno == EINTR { continue }
                        if result <= 0 { return false }
                        done += result
                    }
                    return true
                }
                guard written else { return nil }
                position += Int64(bytes)
            }
            end = position
            return start
        }
    }

    /// Reads up to `count` records from `offset` into `buffer` (replacing its contents).
    func read(at offset: Int64, count: Int, into buffer: inout [Record]) -> Bool {
        buffer.removeAll(keepingCapacity: true)
        buffer.reserveCapacity(count)
        let bytes = count * MemoryLayout<Record>.stride
        var done = 0
        buffer.append(contentsOf: repeatElement(Record(key: 0, counts: .init()), count: count))
        let fd = descriptor
        buffer.withUnsafeMutableBytes { raw in
            while done < bytes {
                let result = pread(fd, raw.baseAddress! + done, bytes - done, off_t(offset + Int64(done)))
                if result < 0 && errno == EINTR { continue }
                if result <= 0 { break }
                done += result
            }
        }
        return done == bytes
    }
}

/// A sorted run in a spill file: `count` records from `offset`.
struct BucketRun: Sendable {
    var offset: Int64
    var count: Int
}

/// The rows of a `MinuteBuckets`, sorted by minute, site name and country, merged from the
/// buckets held in memory and the runs spilled to disk (equal keys summed).
public struct BucketRowSequence: Sequence, Sendable {
    let siteNames: [String]
    /// Sort rank of each site index (by name).
    let rank: [UInt16]
    let memory: [(key: UInt64, counts: BucketTable.Counts)]
    let file: BucketSpillFile?
    let runs: [BucketRun]

    public func makeIterator() -> Iterator {
        Iterator(sequence: self)
    }

    public struct Iterator: IteratorProtocol {
        /// One sorted source: the in-memory entries or a run read in blocks.
        private struct Source {
            var run: BucketRun?
            var consumed = 0
            var block: [BucketSpillFile.Record] = []
            var position = 0
        }

        private let sequence: BucketRowSequence
        private var sources: [Source]
        private static let blockSize = 4096

        init(sequence: BucketRowSequence) {
            self.sequence = sequence
            sources = [Source(run: nil)] + sequence.runs.map { Source(run: $0) }
            for index in sources.indices { refill(index) }
        }

        private mutating func refill(_ index: Int) {
            guard let run = sources[index].run else { return }
            guard sources[index].position >= sources[index].block.count, sources[index].consumed < run.count,
                  let file = sequence.file else { return }
            let count = Swift.min(Self.blockSize, run.count - sources[index].consumed)
            let offset = run.offset + Int64(sources[index].consumed * MemoryLayout<BucketSpillFile.Record>.stride)
            if file.read(at: offset, count: count, into: &sources[index].block) {
                sources[index].consumed += count
            } else {
                // The spill file could not be read back (the disk failed under us): nothing
                // sensible remains of this run; stop it rather than return garbage.
                sources[index].block = []
                sources[index].consumed = run.count
            }
            sources[index].position = 0
        }

        @inline(__always)
        private func head(_ index: Int) -> (key: UInt64, counts: BucketTable.Counts)? {
            // Fields read in place: copying a source would retain and release its block.
            let position = sources[index].position
            if index == 0 {
                return position < sequence.memory.count ? sequence.memory[position] : nil
            }
            guard position < sources[index].block.count else { return nil }
            let record = sources[index].block[position]
            return (record.key, record.counts)
        }

        private mutating func advance(_ index: Int) {
            sources[index].position += 1
            refill(index)
        }

        public mutating func next() -> BucketRow? {
            guard let (key, counts) = nextEntry() else { return nil }
            return BucketRow(minute: key.minute, site: sequence.siteNames[Int(key.site)], country: key.country, counts: counts)
        }

        /// The next row with its site as an index into `siteNames`: no string per row.
        mutating func nextEntry() -> (key: PackedKey, counts: BucketCounts)? {
            if sources.count == 1 {
                // Nothing spilled: the table's sorted entries as they are.
                guard let (raw, entry) = head(0) else { return nil }
                sources[0].position += 1
                return (PackedKey(rawValue: raw), BucketCounts(entry))
            }
            // The smallest head; every source holding the same key adds to it.
            var best: (sortKey: UInt64, raw: UInt64)?
            for index in sources.indices {
                guard let (raw, _) = head(index) else { continue }
                let key = MinuteBuckets.sortKey(raw, rank: sequence.rank)
                if best == nil || key < best!.sortKey { best = (key, raw) }
            }
            guard let best else { return nil }
            var counts = BucketCounts()
            for index in sources.indices {
                // Keys are unique within a source: at most one entry of each adds.
                if let (raw, entry) = head(index), raw == best.raw {
                    counts.merge(entry)
                    advance(index)
                }
            }
            return (PackedKey(rawValue: best.raw), counts)
        }
    }
}
