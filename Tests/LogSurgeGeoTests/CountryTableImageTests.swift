import Foundation
import LogSurgeGeo
import LogSurgeTestSupport
import Testing
import LogSurgeCore

/// The ranges and codes of two tables, compared start by start (the codes through lookups).
private func sameRanges(_ a: IPv4CountryTable, _ b: IPv4CountryTable) -> Bool {
    a.starts == b.starts && a.starts.allSatisfy { a.code(for: $0) == b.code(for: $0) }
}

private func sameRanges(_ a: IPv6CountryTable?, _ b: IPv6CountryTable?) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    return a.starts == b.starts && a.starts.allSatisfy { a.code(for: $0) == b.code(for: $0) }
}

@Suite("country table images")
struct CountryTableImageTests {
    static let database = CountryTableImage.Database(
        sha256: String(repeating: "ab", count: 32), size: 1_000, nodeCount: 10,
        buildEpoch: 1_700_000_000)

    @Test("the image embedded in the binary holds the embedded database's tables, as the tree gives them")
    func embeddedImageIsCurrent() throws {
        let reader = try EmbeddedCountryDatabase.open()
        let image = try #require(
            EmbeddedCountryDatabase.tables(for: reader),
            """
            Sources/CGeoData/country-tables.bin is missing or was made for another database: after \
            regenerating country.mmdb, run `swift run -c release logsurge geoip --write-tables \
            Sources/CGeoData/country-tables.bin` (Scripts/GEOIP.md)
            """)
        // Any other database builds its own tables.
        if let root = conformanceRoot {
            #expect(EmbeddedCountryDatabase.tables(for: try MMDBReader(path: root + "/test-data/GeoIP2-Country-Test.mmdb")) == nil)
        }
        #expect(sameRanges(image.ipv4, try #require(IPv4CountryTable(reader: reader))))
        #expect(sameRanges(image.ipv6, IPv6CountryTable(reader: reader)))
    }

    @Test("an image round-trips the tables of every conformance database that has them")
    func roundTrips() throws {
        var databases: [(String, MMDBReader)] = [("embedded", try EmbeddedCountryDatabase.open())]
        if let root = conformanceRoot {
            for file in [
                "GeoIP2-Country-Test.mmdb", "GeoLite2-Country-Test.mmdb", "MaxMind-DB-test-ipv4-24.mmdb",
                "MaxMind-DB-test-mixed-32.mmdb",
            ] {
                if let reader = try? MMDBReader(path: root + "/test-data/" + file) {
                    databases.append((file, reader))
                }
            }
        }
        for (name, reader) in databases {
            guard let ipv4 = IPv4CountryTable(reader: reader) else { continue }
            let ipv6 = IPv6CountryTable(reader: reader)
            let bytes = CountryTableImage.encode(ipv4: ipv4, ipv6: ipv6, database: Self.database)
            let decoded = try #require(bytes.withUnsafeBytes { CountryTableImage.decode($0, database: Self.database) }, "\(name)")
            #expect(sameRanges(decoded.ipv4, ipv4), "\(name)")
            #expect(sameRanges(decoded.ipv6, ipv6), "\(name)")
        }
    }

    @Test("an image for another database, damaged or cut short is refused, not read")
    func refusesWhatIsNotAnImageOfTheTables() throws {
        let reader = try EmbeddedCountryDatabase.open()
        let ipv4 = try #require(IPv4CountryTable(reader: reader))
        let good = CountryTableImage.encode(ipv4: ipv4, ipv6: IPv6CountryTable(reader: reader), database: Self.database)
        func decodes(_ bytes: [UInt8], database: CountryTableImage.Database = Self.database) -> Bool {
            bytes.withUnsafeBytes { CountryTableImage.decode($0, database: database) } != nil
        }
        #expect(decodes(good))
        // Another database: another SHA-256, or the same recorded SHA-256 with other bytes.
        for change in 0..<4 {
            var other = Self.database
            switch change {
            case 0: other.sha256 = String(repeating: "cd", count: 32)
            case 1: other.size += 1
            case 2: other.nodeCount += 1
            default: other.buildEpoch += 1
            }
            #expect(!decodes(good, database: other), "change \(change)")
        }
        #expect(!decodes([]))
        var damaged = good
        damaged[0] ^= 1  // the format
        #expect(!decodes(damaged))
        // Cut anywhere, or with bytes after the tables.
        var random = SeededGenerator(seed: 3)
        for _ in 0..<50 { #expect(!decodes(Array(good.prefix(Int.random(in: 0..<good.count, using: &random))))) }
        #expect(!decodes(good + [0, 0, 0, 0, 0, 0, 0, 0]))
        // Counts larger than the image (the first count is at byte 96).
        damaged = good
        damaged[103] = 0x7F
        #expect(!decodes(damaged))
        // Starts out of order: the second IPv4 start (at byte 116) made smaller than the first.
        damaged = good
        for index in 116..<120 { damaged[index] = 0 }
        #expect(!decodes(damaged))
    }
}
