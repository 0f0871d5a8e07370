import LogSurgeGeo
import LogSurgeCore

/// The MaxMind DB reader on an arbitrary file: open, lookups, records and country tables.
///
/// Opening either fails with an `MMDBError` that names the input, or gives a reader. Then,
/// for a fixed set of IPv4 and IPv6 addresses (the conformance networks, 6to4 and Teredo
/// aliases, the ends of the address space): the country and the whole record are looked up,
/// and where both succeed the country is the record's `country.iso_code`, else its
/// `registered_country.iso_code`. The IPv4 and IPv6 country tables are built (at most 16 Ki
/// ranges each), and for those addresses and the first and last address of sampled table
/// ranges, a resolver with the tables answers what a resolver without them, and the reader
/// itself, answer. Errors must be `MMDBError`s; anything else (a crash, a hang, an
/// out-of-bounds read, memory without bound) is a finding.
public enum MMDBFuzz {
    /// Addresses looked up in every database.
    static let probes: [IPAddress] = [
        "0.0.0.0", "1.1.1.1", "1.2.3.4", "2.125.160.216", "8.8.8.8", "10.0.0.1", "81.2.69.160", "89.160.20.112",
        "127.0.0.1", "128.0.0.0", "175.16.199.0", "202.196.224.0", "216.160.83.56", "255.255.255.255",
        "::", "::1", "::1.1.1.1", "::2:0:58", "2001:db8::1", "2001:218::1", "2001:480:10::", "2a02:d500::1",
        "2a02:cf40::", "2c0f:ff40::", "2002:101:101::1", "2001:0:101:101::1", "8000::",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ].map { IPAddress($0)! }

    /// Table ranges whose first and last addresses are checked, at most.
    static let sampledRanges = 48

    public static func check(_ data: UnsafeRawBufferPointer) -> [String] {
        let reader: MMDBReader
        do {
            reader = try MMDBReader(bytes: Array(data))
        } catch {
            return error.description.hasPrefix("<bytes>: ") ? [] : ["an error that does not name the input: \(error)"]
        }
        var problems: [String] = []
        _ = reader.metadata.buildDate

        for address in probes {
            let country: CountryCode?
            let record: MMDBValue??
            do { country = try reader.country(for: address) } catch { country = nil; problems += named(error) }
            do { record = try reader.record(for: address) } catch { record = nil; problems += named(error) }
            guard let country, let record else { continue }
            let expected = isoCode(record?["country"]) ?? isoCode(record?["registered_country"]) ?? .unknown
            if country != expected {
                problems.append("\(address): country \(country), but the record says \(expected)")
            }
        }

        let ipv4Table = IPv4CountryTable(reader: reader, maximumRanges: 1 << 14)
        let ipv6Table = IPv6CountryTable(reader: reader, maximumRanges: 1 << 14)
        var addresses = probes
        if let starts = ipv4Table?.starts {
            for index in sample(starts.indices) {
                addresses.append(IPAddress(ipv4: starts[index]))
                if starts[index] > 0 { addresses.append(IPAddress(ipv4: starts[index] - 1)) }
            }
        }
        if let starts = ipv6Table?.starts {
            for index in sample(starts.indices) {
                addresses.append(IPAddress(high: starts[index], low: 0x1234_5678_9ABC_DEF0))
                if starts[index] > 0 { addresses.append(IPAddress(high: starts[index] - 1, low: .max)) }
            }
        }
        var withTables = CountryResolver(reader: reader, cacheSize: 16, ipv4Table: ipv4Table, ipv6Table: ipv6Table)
        var withoutTables = CountryResolver(reader: reader, cacheSize: 0)
        for address in addresses {
            let expected = (try? reader.country(for: address)) ?? .unknown
            let tabled = withTables.country(for: address)
            let again = withTables.country(for: address)
            let untabled = withoutTables.country(for: address)
            if tabled != expected || again != expected || untabled != expected {
                problems.append(
                    "\(address): the reader says \(expected), a resolver with tables \(tabled) then \(again), without \(untabled)")
            }
        }
        return problems
    }

    /// Errors that do not name the input (every error must).
    private static func named(_ error: MMDBError) -> [String] {
        error.description.hasPrefix("<bytes>: ") ? [] : ["an error that does not name the input: \(error)"]
    }

    /// The `iso_code` of a map as a country code, when it is two letters.
    private static func isoCode(_ map: MMDBValue?) -> CountryCode? {
        guard let code = map?["iso_code"]?.stringValue else { return nil }
        return CountryCode(isoCode: code)
    }

    /// At most `sampledRanges` indices spread over `indices`.
    private static func sample(_ indices: Range<Int>) -> [Int] {
        let step = max(1, indices.count / sampledRanges)
        return Array(stride(from: indices.lowerBound, to: indices.upperBound, by: step))
    }
}
