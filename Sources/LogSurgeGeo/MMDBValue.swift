/// A value decoded from a MaxMind DB data section.
///
/// The cases are the spec's data types; maps are Swift dictionaries (a key repeated in one map
/// keeps its last value). Pointers are followed while decoding, so they never appear here.
public indirect enum MMDBValue: Sendable, Equatable {
    case string(String)
    case double(Double)
    case bytes([UInt8])
    case uint16(UInt16)
    case uint32(UInt32)
    case map([String: MMDBValue])
    case int32(Int32)
    case uint64(UInt64)
    case uint128(high: UInt64, low: UInt64)
    case array([MMDBValue])
    case bool(Bool)
    case float(Float)

    /// The value under `key` when this is a map, else nil.
    public subscript(key: String) -> MMDBValue? {
        if case .map(let entries) = self { return entries[key] }
        return nil
    }

    /// The string when this is `.string`, else nil.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// Any unsigned or non-negative integer that fits in `UInt64`, else nil.
    public var unsignedValue: UInt64? {
        switch self {
        case .uint16(let value): return UInt64(value)
        case .uint32(let value): return UInt64(value)
        case .uint64(let value): return value
        case .int32(let value): return value >= 0 ? UInt64(value) : nil
        case .uint128(let high, let low): return high == 0 ? low : nil
        default: return nil
        }
    }
}

/// What a MaxMind DB says about itself: tree shape, type, build time, languages, description.
public struct MMDBMetadata: Sendable, Equatable {
    /// 4 for an IPv4-only search tree, 6 for a 128-bit tree.
    public var ipVersion: Int
    /// Bits per search-tree record: 24, 28 or 32.
    public var recordSize: Int
    /// Nodes in the search tree.
    public var nodeCount: Int
    /// The database type, e.g. "GeoIP2-Country" or "logsurge-country".
    public var databaseType: String
    /// Build time in seconds since 1970-01-01 UTC.
    public var buildEpoch: UInt64
    /// Locale codes the database has names for.
    public var languages: [String]
    /// Description by language code (the MaxMind metadata key `description`).
    public var description: [String: String]
    /// `binary_format_major_version`: always 2 for a database this reader opens.
    public var binaryFormatMajorVersion: Int
    /// `binary_format_minor_version`.
    public var binaryFormatMinorVersion: Int

    /// The English description, if any.
    public var englishDescription: String? { description["en"] }

    /// The build date as `YYYY-MM-DD` (UTC).
    public var buildDate: String { MMDBMetadata.civilDate(epochSeconds: buildEpoch) }

    /// Formats seconds since the epoch as a proleptic Gregorian `YYYY-MM-DD` (UTC).
    static func civilDate(epochSeconds: UInt64) -> String {
        // Howard Hinnant's days-to-civil algorithm, in Int64 (seconds are clamped so the
        // arithmetic cannot overflow for UInt64.max).
        let days = Int64(min(epochSeconds, UInt64(Int64.max / 2)) / 86_400)
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func padded(_ number: Int64, _ width: Int) -> String {
            let text = String(number)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }
}
