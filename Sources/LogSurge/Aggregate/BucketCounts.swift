import LogSurgeGeo

/// The counters of one bucket (one UTC minute × site × country).
///
/// `requests` counts every parsed line; the status columns count by class (2xx…5xx), so
/// their sum is smaller when odd statuses (1xx, 000, 6xx…) occur. `bytes` is the response
/// size, `-` counted as 0, saturating at `UInt64.max`.
public struct BucketCounts: Sendable, Equatable {
    public var requests: UInt64 = 0
    public var status2xx: UInt64 = 0
    public var status3xx: UInt64 = 0
    public var status4xx: UInt64 = 0
    public var status5xx: UInt64 = 0
    public var bytes: UInt64 = 0

    public init() {}

    public init(requests: UInt64, status2xx: UInt64, status3xx: UInt64, status4xx: UInt64, status5xx: UInt64, bytes: UInt64) {
        self.requests = requests
        self.status2xx = status2xx
        self.status3xx = status3xx
        self.status4xx = status4xx
        self.status5xx = status5xx
        self.bytes = bytes
    }

    /// Adds another bucket's counters to these.
    @inline(__always)
    public mutating func merge(_ other: BucketCounts) {
        requests &+= other.requests
        status2xx &+= other.status2xx
        status3xx &+= other.status3xx
        status4xx &+= other.status4xx
        status5xx &+= other.status5xx
        bytes = bytes.saturatingAdd(other.bytes)
    }
}

/// A bucket key packed in 64 bits: minute (32) · site index (16) · country (16).
///
/// Packing keeps per-line aggregation a single integer hash probe. The site index is local to
/// whoever built the key (a chunk or the global buckets), never compared across the two.
struct PackedKey: Hashable {
    var rawValue: UInt64

    @inline(__always)
    init(minute: Int32, site: UInt16, country: CountryCode) {
        rawValue = UInt64(UInt32(bitPattern: minute)) << 32 | UInt64(site) << 16 | UInt64(country.rawValue)
    }

    @inline(__always) init(rawValue: UInt64) { self.rawValue = rawValue }

    var minute: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: rawValue >> 32)) }
    var site: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 16) }
    var country: CountryCode { CountryCode(rawValue: UInt16(truncatingIfNeeded: rawValue)) }
}
