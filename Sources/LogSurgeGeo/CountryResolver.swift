import LogSurgeCore
/// Per-worker lookup cache in front of a reader: a repeated client costs one hash probe.
///
/// With an `IPv4CountryTable`, IPv4 addresses are answered from it instead (new or repeated,
/// about the cost of a cache hit); with an `IPv6CountryTable`, so are IPv6 addresses whose
/// network (first 64 bits) decides their country, and the cache serves the rest.
///
/// Two direct-mapped caches, both of bounded size: addresses → country (`cacheSize` entries,
/// rounded up to a power of two, 18 bytes each), and data-record offsets → country (4096
/// entries), so that a new address whose record was seen before costs a tree walk and a probe
/// instead of a decode. Corrupt-data errors answer `.unknown` and are counted in
/// `lookupErrors`; they are not cached, so every failing lookup is counted.
///
/// Not shared across threads: make one per worker (it is a value; copies are independent).
/// By default, `cacheSize` is 65536 addresses (about 1.2 MB); 0 disables the address cache.
public struct CountryResolver: Sendable {
    /// The database answering cache misses.
    public let reader: MMDBReader
    private var keyHigh: [UInt64]
    private var keyLow: [UInt64]
    /// Country raw values; `emptySlot` marks an unused slot (never a valid code).
    private var codes: [UInt16]
    private let addressShift: UInt64
    private var recordOffsets: [Int]
    private var recordCodes: [UInt16]
    private static let emptySlot: UInt16 = 0xFFFF
    private static let recordCacheBits: UInt64 = 12

    /// Lookups that failed on corrupt data (answered `.unknown`).
    public private(set) var lookupErrors: Int = 0
    /// Lookups answered from the address cache.
    public private(set) var cacheHits: Int = 0
    /// Lookups that walked the search tree.
    public private(set) var cacheMisses: Int = 0

    /// IPv4 answers flattened from the tree, when built: IPv4 addresses skip the cache.
    public private(set) var ipv4Table: IPv4CountryTable?
    /// IPv6 answers by network, when built.
    public private(set) var ipv6Table: IPv6CountryTable?

    /// A resolver over `reader` caching up to `cacheSize` addresses (rounded up to a power of
    /// two), answering IPv4 addresses from `ipv4Table` (built from the same reader) when given.
    public init(
        reader: MMDBReader, cacheSize: Int = 65536, ipv4Table: IPv4CountryTable? = nil,
        ipv6Table: IPv6CountryTable? = nil
    ) {
        self.reader = reader
        self.ipv4Table = ipv4Table
        self.ipv6Table = ipv6Table
        var bits: UInt64 = 0
        if cacheSize > 0 {
            while (1 << bits) < min(cacheSize, 1 << 26) { bits += 1 }
        }
        let slots = cacheSize > 0 ? 1 << Int(bits) : 0
        self.addressShift = 64 - bits
        self.keyHigh = [UInt64](repeating: 0, count: slots)
        self.keyLow = [UInt64](repeating: 0, count: slots)
        self.codes = [UInt16](repeating: CountryResolver.emptySlot, count: slots)
        let recordSlots = 1 << Int(CountryResolver.recordCacheBits)
        self.recordOffsets = [Int](repeating: -1, count: recordSlots)
        self.recordCodes = [UInt16](repeating: 0, count: recordSlots)
    }

    /// Answers IPv4 addresses from `table` from now on (built from the same reader, it changes
    /// no answer, only their cost).
    public mutating func useIPv4Table(_ table: IPv4CountryTable) {
        ipv4Table = table
    }

    /// Answers IPv6 addresses from `table` where it can from now on (built from the same reader).
    public mutating func useIPv6Table(_ table: IPv6CountryTable) {
        ipv6Table = table
    }

    /// The country of `address`; `.unknown` when the database has none or the lookup failed.
    ///
    /// Performance (embedded database, release build, shared 2-core x86-64, 2026-11-28):
    /// 15–24 ns for a cached client (42–63 M lookups/s), 120–175 ns for a new random IPv4
    /// address (6–8 M/s). Details in Scripts/GEOIP.md.
    public mutating func country(for address: IPAddress) -> CountryCode {
        if let ipv4Table, let v4 = address.ipv4 {
            let code = ipv4Table.code(for: v4)
            return code == IPv4CountryTable.treeWalk ? resolve(address).code : CountryCode(rawValue: code)
        }
        if let ipv6Table, !address.isIPv4 {
            var code = ipv6Table.code(for: address.high)
            if let depth = IPv6CountryTable.ipv4AliasDepth(code) {
                // The tree continues in its IPv4 part with the 32 bits after the alias.
                code = ipv4Table?.code(for: UInt32(truncatingIfNeeded: address.high >> (32 - depth))) ?? IPv6CountryTable.treeWalk
            }
            if code != IPv6CountryTable.treeWalk { return CountryCode(rawValue: code) }
        }
        guard !codes.isEmpty else { return resolve(address).code }
        let hash = (address.low ^ (address.high &* 0xC2B2_AE3D_27D4_EB4F)) &* 0x9E37_79B9_7F4A_7C15
        let slot = Int(truncatingIfNeeded: hash >> addressShift)
        if codes[slot] != CountryResolver.emptySlot && keyLow[slot] == address.low && keyHigh[slot] == address.high {
            cacheHits += 1
            return CountryCode(rawValue: codes[slot])
        }
        let (code, succeeded) = resolve(address)
        if succeeded {
            keyHigh[slot] = address.high
            keyLow[slot] = address.low
            codes[slot] = code.rawValue
        }
        return code
    }

    /// Walks the tree and decodes (or recalls) the record's country; `succeeded` is false on error.
    private mutating func resolve(_ address: IPAddress) -> (code: CountryCode, succeeded: Bool) {
        cacheMisses += 1
        do {
            guard let offset = try reader.dataOffset(for: address) else { return (.unknown, true) }
            let hash = UInt64(truncatingIfNeeded: offset) &* 0x9E37_79B9_7F4A_7C15
            let slot = Int(truncatingIfNeeded: hash >> (64 - CountryResolver.recordCacheBits))
            if recordOffsets[slot] == offset { return (CountryCode(rawValue: recordCodes[slot]), true) }
            let code = try reader.countryCode(atDataOffset: offset)
            recordOffsets[slot] = offset
            recordCodes[slot] = code.rawValue
            return (code, true)
        } catch {
            lookupErrors += 1
            return (.unknown, false)
        }
    }
}
