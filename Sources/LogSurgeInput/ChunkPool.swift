import Synchronization

/// Chunk buffers handed back by the workers, for the reader to fill again.
///
/// A chunk is a few megabytes that the reader allocates and a worker frees a moment later;
/// the allocator then serves most new chunks with fresh pages, which the kernel must fault in
/// and zero. Recycled buffers keep their capacity and their pages.
public final class ChunkPool: Sendable {
    private let buffers = Mutex<[[UInt8]]>([])
    /// Buffers kept at most; more are freed.
    public let limit: Int

    public init(limit: Int) {
        self.limit = limit
    }

    /// An empty buffer, with the capacity of an earlier chunk when one is available.
    public func take() -> [UInt8] {
        var buffer = buffers.withLock { $0.popLast() } ?? []
        buffer.removeAll(keepingCapacity: true)
        return buffer
    }

    /// Keeps `buffer` for reuse (its contents are dropped).
    public func give(_ buffer: consuming [UInt8]) {
        let buffer = buffer
        guard buffer.capacity > 0 else { return }
        buffers.withLock { if $0.count < limit { $0.append(buffer) } }
    }
}
