import LogSurgeTestSupport
import Foundation
import LogSurgeGeo
import Testing
import LogSurgeCore

private func ip(_ text: String) -> IPAddress { IPAddress(text)! }

@Suite("The embedded country database")
struct EmbeddedCountryDatabaseTests {
    @Test("opens in place with the expected metadata")
    func metadata() throws {
        let reader = try EmbeddedCountryDatabase.open()
        #expect(reader.metadata.databaseType == "logsurge-country")
        #expect(reader.metadata.ipVersion == 6)
        #expect(reader.metadata.recordSize == 24)
        #expect(reader.metadata.languages == ["en"])
        #expect(reader.metadata.englishDescription?.contains("tor-geoipdb") == true)
        #expect(EmbeddedCountryDatabase.attribution.hasPrefix("Country data: IPFire Location database via Debian tor-geoipdb "))
        #expect(EmbeddedCountryDatabase.attribution.contains("CC BY-SA 4.0"))
        let date = EmbeddedCountryDatabase.buildDate
        #expect(date.count == 10 && date.hasPrefix("20"))
        #expect(date == reader.metadata.buildDate)
    }

    @Test(
        "well-known answers",
        arguments: [
            ("8.8.8.8", "US"), ("::ffff:8.8.8.8", "US"), ("194.25.2.129", "DE"), ("133.11.0.1", "JP"),
            ("202.12.27.33", "JP"), ("193.0.14.129", "NL"), ("1.1.1.1", "AU"), ("81.2.69.160", "GB"),
            ("2001:4860:4860::8888", "US"), ("2003::1", "DE"), ("2001:200::1", "JP"),
            ("10.0.0.1", "--"), ("127.0.0.1", "--"), ("192.168.1.1", "--"), ("::1", "--"), ("fe80::1", "--"),
        ])
    func knownAnswers(address: String, expected: String) throws {
        let reader = try EmbeddedCountryDatabase.open()
        #expect(try reader.country(for: ip(address)).description == expected)
        var resolver = CountryResolver(reader: reader)
        #expect(resolver.country(for: ip(address)).description == expected)
        #expect(resolver.country(for: ip(address)).description == expected)
        #expect(resolver.cacheHits == 1)
    }

    /// The `YYYY-MM-DD` of the "# Generated: Thu, 25 Jun 2026 04:33:59 GMT" header line.
    static func generatedDate(of path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").prefix(40).first(where: { $0.hasPrefix("# Generated:") })
        else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: line.dropFirst("# Generated:".count).trimmingCharacters(in: .whitespaces))
        else { return nil }
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }

    /// The Tor source files, when installed (Debian `tor-geoipdb`).
    static let sourceIPv4 = "/usr/share/tor/geoip"
    static let sourceIPv6 = "/usr/share/tor/geoip6"

    @Test(
        "agrees with the source files at the edges of sampled ranges",
        .enabled(if: FileManager.default.fileExists(atPath: sourceIPv4), "needs tor-geoipdb"))
    func agreesWithSource() throws {
        let reader = try EmbeddedCountryDatabase.open()
        // Only when the installed files are the export the database was built from (same
        // "# Generated:" date); newer data on this machine is not a failure of the reader.
        guard let generated = Self.generatedDate(of: Self.sourceIPv4), generated == EmbeddedCountryDatabase.buildDate else {
            return
        }
        var checked = 0
        for (path, isIPv6) in [(Self.sourceIPv4, false), (Self.sourceIPv6, true)] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            var lineNumber = 0
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                lineNumber += 1
                guard lineNumber % 97 == 0 else { continue }
                let fields = line.split(separator: ",").map(String.init)
                guard fields.count == 3 else { continue }
                let expected = fields[2] == "??" ? "--" : fields[2]
                let ends: [IPAddress] =
                    isIPv6
                    ? [ip(fields[0]), ip(fields[1])]
                    : [IPAddress(ipv4: UInt32(fields[0])!), IPAddress(ipv4: UInt32(fields[1])!)]
                for address in ends {
                    #expect(try reader.country(for: address).description == expected, "\(address) line \(line)")
                    checked += 1
                }
            }
        }
        #expect(checked > 5_000)
    }
}

@Suite("CountryResolver")
struct CountryResolverTests {
    @Test("cached answers equal the reader's, for any cache size", arguments: [0, 1, 16, 65536])
    func matchesReader(cacheSize: Int) throws {
        let reader = try EmbeddedCountryDatabase.open()
        var resolver = CountryResolver(reader: reader, cacheSize: cacheSize)
        var random = SeededGenerator(seed: 99)
        // A client population with repeats, as in a log.
        let clients = (0..<500).map { index in
            index % 5 == 0
                ? IPAddress(high: 0x2000_0000_0000_0000 | random.next() >> 4, low: random.next())
                : IPAddress(ipv4: UInt32(truncatingIfNeeded: random.next()))
        }
        for round in 0..<4_000 {
            let address = clients[Int(random.next() % UInt64(clients.count))]
            #expect(resolver.country(for: address) == (try reader.country(for: address)), "round \(round)")
        }
        #expect(resolver.lookupErrors == 0)
        #expect(resolver.cacheHits + resolver.cacheMisses == 4_000)
        // Direct-mapped: a few clients collide, but most repeats are hits.
        if cacheSize >= 1_024 { #expect(resolver.cacheMisses < 550) }
        if cacheSize == 0 { #expect(resolver.cacheHits == 0) }
    }

    @Test("a resolver is a value: copies cache independently")
    func valueSemantics() throws {
        var first = CountryResolver(reader: try EmbeddedCountryDatabase.open(), cacheSize: 16)
        _ = first.country(for: ip("8.8.8.8"))
        var second = first
        _ = second.country(for: ip("8.8.8.8"))
        #expect(second.cacheHits == 1)
        #expect(first.cacheHits == 0)
    }

    @Test("readers are shared across threads")
    func concurrentUse() async throws {
        let reader = try EmbeddedCountryDatabase.open()
        let answers = await withTaskGroup(of: [CountryCode].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var resolver = CountryResolver(reader: reader, cacheSize: 256)
                    return ["8.8.8.8", "194.25.2.129", "133.11.0.1", "2003::1"].map { resolver.country(for: IPAddress($0)!) }
                }
            }
            var all: [[CountryCode]] = []
            for await answer in group { all.append(answer) }
            return all
        }
        #expect(answers.count == 4)
        #expect(Set(answers.map { $0.map(\.description).joined(separator: ",") }) == ["US,DE,JP,DE"])
    }
}
