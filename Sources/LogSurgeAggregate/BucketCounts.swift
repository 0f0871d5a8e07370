import LogSurgeCore

/// The counters of one bucket (one UTC minute × site × country), or of a total of buckets.
///
/// `requests` counts every parsed line; the status columns count by class (2xx…5xx), so
/// their sum is smaller when odd statuses (1xx, 000, 6xx…) occur. `bytes` is the response
/// size, `-` counted as 0, saturating at `UInt64.max`. Counts wrap rather than trap.
public struct StatusCounters<Count: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable, Equatable {
    public var requests: Count = 0
    public var status2xx: Count = 0
    public var status3xx: Count = 0
    public var status4xx: Count = 0
    public var status5xx: Count = 0
    public var bytes: UInt64 = 0

    @inlinable public init() {}

    public init(requests: Count, status2xx: Count, status3xx: Count, status4xx: Count, status5xx: Count, bytes: UInt64) {
        self.requests = requests
        self.status2xx = status2xx
        self.status3xx = status3xx
        self.status4xx = status4xx
        self.status5xx = status5xx
        self.bytes = bytes
    }

    /// The same counters in another width (narrowing truncates).
    public init<Other>(_ other: StatusCounters<Other>) {
        self.init()
        merge(other)
    }

    /// Counts one request with `status` and `size` bytes.
    @inlinable @inline(__always)
    @_spi(Pipeline) public mutating func add(status: UInt16, bytes size: UInt64) {
        requests &+= 1
        bytes = bytes.saturatingAdd(size)
        switch status / 100 {
        case 2: status2xx &+= 1
        case 3: status3xx &+= 1
        case 4: status4xx &+= 1
        case 5: status5xx &+= 1
        default: break
        }
    }

    /// Adds other counters to these.
    @inline(__always)
    public mutating func merge<Other>(_ other: StatusCounters<Other>) {
        requests &+= Count(truncatingIfNeeded: other.requests)
        status2xx &+= Count(truncatingIfNeeded: other.status2xx)
        status3xx &+= Count(truncatingIfNeeded: other.status3xx)
        status4xx &+= Count(truncatingIfNeeded: other.status4xx)
        status5xx &+= Count(truncatingIfNeeded: other.status5xx)
        bytes = bytes.saturatingAdd(other.bytes)
    }
}

/// Counters as reported: 64-bit everywhere, for totals of any size.
public typealias BucketCounts = StatusCounters<UInt64>

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that overflows.
    @inlinable @inline(__always)
    @_spi(Pipeline) public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

/// A bucket key packed in 64 bits: minute (32) · site index (16) · country (16).
///
/// Packing keeps per-line aggregation a single integer hash probe. The site index is local to
/// whoever built the key (a chunk or the global buckets), never compared across the two.
///
/// Inlinable, as what the parse workers call for every line (from the pipeline's target).
@_spi(Pipeline) public struct PackedKey: Hashable, Sendable {
    @usableFromInline var rawValue: UInt64

    @inlinable @inline(__always)
    public init(minute: Int32, site: UInt16, country: CountryCode) {
        rawValue = UInt64(UInt32(bitPattern: minute)) << 32 | UInt64(site) << 16 | UInt64(country.rawValue)
    }

    @inlinable init(rawValue: UInt64) { self.rawValue = rawValue }

    @inlinable public var minute: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: rawValue >> 32)) }
    @inlinable public var site: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 16) }
    @inlinable public var country: CountryCode { CountryCode(rawValue: UInt16(truncatingIfNeeded: rawValue)) }
}
