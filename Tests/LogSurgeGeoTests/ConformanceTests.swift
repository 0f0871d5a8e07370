import LogSurgeTestSupport
import Foundation
import LogSurgeGeo
import Testing
import LogSurgeCore

/// Opens `test-data/<name>` from the conformance folder.
private func testDatabase(_ name: String) throws -> MMDBReader {
    try MMDBReader(path: conformanceRoot! + "/test-data/" + name)
}

private func ip(_ text: String) -> IPAddress { IPAddress(text)! }

@Suite("MaxMind DB conformance data", .enabled(if: hasConformanceData, "needs ../shared/mmdb-conformance"))
struct ConformanceTests {
    static let recordSizes = [24, 28, 32]

    /// libmaxminddb's basic_lookup_t pairs: address → the network start stored as "ip".
    static let ipv4Pairs = [
        ("1.1.1.1", "1.1.1.1"), ("1.1.1.2", "1.1.1.2"), ("1.1.1.3", "1.1.1.2"), ("1.1.1.4", "1.1.1.4"),
        ("1.1.1.5", "1.1.1.4"), ("1.1.1.7", "1.1.1.4"), ("1.1.1.8", "1.1.1.8"), ("1.1.1.9", "1.1.1.8"),
        ("1.1.1.15", "1.1.1.8"), ("1.1.1.16", "1.1.1.16"), ("1.1.1.17", "1.1.1.16"), ("1.1.1.31", "1.1.1.16"),
        ("1.1.1.32", "1.1.1.32"),
    ]
    static let ipv6Pairs = [
        ("::1:ffff:ffff", "::1:ffff:ffff"), ("::2:0:0", "::2:0:0"), ("::2:0:1", "::2:0:0"), ("::2:0:1a", "::2:0:0"),
        ("::2:0:33", "::2:0:0"), ("::2:0:39", "::2:0:0"), ("::2:0:40", "::2:0:40"), ("::2:0:41", "::2:0:40"),
        ("::2:0:49", "::2:0:40"), ("::2:0:4f", "::2:0:40"), ("::2:0:50", "::2:0:50"), ("::2:0:52", "::2:0:50"),
        ("::2:0:57", "::2:0:50"), ("::2:0:58", "::2:0:58"), ("::2:0:59", "::2:0:58"),
    ]

    @Test("IPv4 trees", arguments: recordSizes)
    func ipv4Trees(recordSize: Int) throws {
        let reader = try testDatabase("MaxMind-DB-test-ipv4-\(recordSize).mmdb")
        #expect(reader.metadata.ipVersion == 4)
        #expect(reader.metadata.recordSize == recordSize)
        #expect(reader.metadata.nodeCount == 163)  // at the pinned data commit
        for (address, network) in Self.ipv4Pairs {
            #expect(try reader.record(for: ip(address)) == .map(["ip": .string(network)]), "\(address)")
            #expect(try reader.record(for: ip("::ffff:" + address)) == .map(["ip": .string(network)]))
            #expect(try reader.country(for: ip(address)) == .unknown)  // records carry no country
        }
        for missing in ["1.1.1.33", "2.3.4.5", "255.254.253.123", "0.0.0.0"] {
            #expect(try reader.record(for: ip(missing)) == nil, "\(missing)")
        }
        // IPv6 addresses other than IPv4-mapped ones have no record in an IPv4-only tree.
        #expect(try reader.record(for: ip("2001::")) == nil)
        #expect(try reader.record(for: ip("::1.1.1.1")) == nil)
    }

    @Test("IPv6 trees", arguments: recordSizes)
    func ipv6Trees(recordSize: Int) throws {
        let reader = try testDatabase("MaxMind-DB-test-ipv6-\(recordSize).mmdb")
        #expect(reader.metadata.ipVersion == 6)
        #expect(reader.metadata.recordSize == recordSize)
        #expect(reader.metadata.nodeCount == 415)  // at the pinned data commit
        for (address, network) in Self.ipv6Pairs {
            #expect(try reader.record(for: ip(address)) == .map(["ip": .string(network)]), "\(address)")
        }
        // This database has no IPv4 networks (maxminddb-golang: 1.1.1.1 → not found in ::1.0.0.0/8).
        for missing in ["1.1.1.1", "1.1.1.33", "2.3.4.5", "255.254.253.123", "89fa::", "::abcd"] {
            #expect(try reader.record(for: ip(missing)) == nil, "\(missing)")
        }
    }

    @Test("mixed trees: IPv4 lookups land on ::a.b.c.d", arguments: recordSizes)
    func mixedTrees(recordSize: Int) throws {
        let reader = try testDatabase("MaxMind-DB-test-mixed-\(recordSize).mmdb")
        #expect(reader.metadata.ipVersion == 6)
        #expect(reader.metadata.recordSize == recordSize)
        for (address, network) in Self.ipv4Pairs {
            let expected = MMDBValue.map(["ip": .string("::" + network)])
            #expect(try reader.record(for: ip(address)) == expected, "\(address)")
            #expect(try reader.record(for: ip("::ffff:" + address)) == expected)
            #expect(try reader.record(for: ip("::" + address)) == expected)
        }
        for (address, network) in Self.ipv6Pairs {
            #expect(try reader.record(for: ip(address)) == .map(["ip": .string(network)]), "\(address)")
        }
        for missing in ["1.1.1.33", "2.3.4.5", "::abcd", "89fa::"] {
            #expect(try reader.record(for: ip(missing)) == nil, "\(missing)")
        }
    }

    @Test("metadata of the test databases")
    func metadata() throws {
        let reader = try testDatabase("MaxMind-DB-test-ipv6-24.mmdb")
        let metadata = reader.metadata
        #expect(metadata.binaryFormatMajorVersion == 2)
        #expect(metadata.binaryFormatMinorVersion == 0)
        #expect(metadata.databaseType == "Test")
        #expect(metadata.languages == ["en", "zh"])
        #expect(metadata.description == ["en": "Test Database", "zh": "Test Database Chinese"])
        #expect(metadata.englishDescription == "Test Database")
        #expect(metadata.buildEpoch > 1_300_000_000)
        let pointers = try testDatabase("MaxMind-DB-test-metadata-pointers.mmdb")
        #expect(pointers.metadata.description["en"] != nil)
    }

    static let decoderRecord: MMDBValue = .map([
        "array": .array([.uint32(1), .uint32(2), .uint32(3)]),
        "boolean": .bool(true),
        "bytes": .bytes([0, 0, 0, 0x2A]),
        "double": .double(42.123456),
        "float": .float(1.1),
        "int32": .int32(-268_435_456),
        "map": .map(["mapX": .map(["arrayX": .array([.uint32(7), .uint32(8), .uint32(9)]), "utf8_stringX": .string("hello")])]),
        "uint128": .uint128(high: 0x0100_0000_0000_0000, low: 0),
        "uint16": .uint16(100),
        "uint32": .uint32(0x1000_0000),
        "uint64": .uint64(0x1000_0000_0000_0000),
        "utf8_string": .string("unicode! ☯ - ♫"),
    ])

    @Test("pointer decoder database: the same record reached through pointers")
    func pointerDecoder() throws {
        let reader = try testDatabase("MaxMind-DB-test-pointer-decoder.mmdb")
        guard case .map(var expected) = Self.decoderRecord else { return }
        expected["boolean"] = .bool(false)
        for address in ["1.1.1.0", "::1.1.1.0"] {
            #expect(try reader.record(for: ip(address)) == .map(expected), "\(address)")
        }
    }

    @Test("decoder database: every data type")
    func decoder() throws {
        let reader = try testDatabase("MaxMind-DB-test-decoder.mmdb")
        for address in ["1.1.1.0", "1.1.1.3", "::1.1.1.0", "::ffff:1.1.1.128"] {
            let record = try #require(try reader.record(for: ip(address)), "\(address)")
            #expect(record == Self.decoderRecord, "\(address): \(record)")
        }
        // The zero-valued record: every type at its smallest.
        let zero = try #require(try reader.record(for: ip("::0.0.0.0")))
        #expect(zero["uint128"] == .uint128(high: 0, low: 0))
        #expect(zero["boolean"] == .bool(false))
        #expect(zero["utf8_string"] == .string(""))
        #expect(zero["array"] == .array([]))
        #expect(zero["map"] == .map([:]))
        // Largest values.
        let maximum = try #require(try reader.record(for: ip("::255.255.255.255")))
        #expect(maximum["uint64"] == .uint64(.max))
        #expect(maximum["uint128"] == .uint128(high: .max, low: .max))
        #expect(maximum["uint32"] == .uint32(.max))
        #expect(maximum["uint16"] == .uint16(.max))
    }

    @Test("no IPv4 search tree: IPv4 lookups stop at the ::/64 record")
    func noIPv4SearchTree() throws {
        let reader = try testDatabase("MaxMind-DB-no-ipv4-search-tree.mmdb")
        for address in ["200.0.2.1", "::200.0.2.1", "0:0:0:0:ffff:ffff:ffff:ffff", "1.1.1.1"] {
            #expect(try reader.record(for: ip(address)) == .string("::/64"), "\(address)")
        }
        #expect(try reader.record(for: ip("ef00::")) == nil)
    }

    @Test(
        "country data: country, city and enterprise databases have it; ASN, ISP and the like do not",
        arguments: [
            ("GeoIP2-Country-Test.mmdb", true), ("GeoLite2-Country-Test.mmdb", true), ("GeoIP2-City-Test.mmdb", true),
            ("GeoLite2-City-Test.mmdb", true), ("GeoIP2-Enterprise-Test.mmdb", true), ("GeoIP2-Precision-Enterprise-Test.mmdb", true),
            ("GeoLite2-ASN-Test.mmdb", false), ("GeoIP2-ISP-Test.mmdb", false), ("GeoIP2-Connection-Type-Test.mmdb", false),
            ("GeoIP2-Anonymous-IP-Test.mmdb", false), ("MaxMind-DB-test-mixed-24.mmdb", false),
            ("MaxMind-DB-string-value-entries.mmdb", false),
        ])
    func countryData(name: String, expected: Bool) throws {
        #expect(try testDatabase(name).hasCountryData() == expected)
    }

    @Test("records that are strings have no country")
    func stringValueEntries() throws {
        let reader = try testDatabase("MaxMind-DB-string-value-entries.mmdb")
        var sawString = false
        for octet in 0..<256 {
            let address = IPAddress(ipv4: UInt32(octet) << 24 | 0x0001_0101)
            if case .string = try reader.record(for: address) { sawString = true }
            #expect(try reader.country(for: address) == .unknown)
        }
        for (address, _) in Self.ipv4Pairs {
            if case .string = try reader.record(for: ip(address)) { sawString = true }
        }
        #expect(sawString)
    }

    @Test("nested database decodes")
    func nested() throws {
        let reader = try testDatabase("MaxMind-DB-test-nested.mmdb")
        var found = 0
        for address in ["1.1.1.1", "::1.1.1.1", "1.1.1.0", "::", "::1"] {
            if try reader.record(for: ip(address)) != nil { found += 1 }
        }
        #expect(found > 0)
    }

    // MARK: - GeoIP2 / GeoLite2 against their source JSON

    @Test(
        "81.2.69.160 is GB though registered in the US; mapped form answers alike; 2a02:d500::1 has no country",
        arguments: ["GeoIP2-Country-Test.mmdb", "GeoIP2-City-Test.mmdb", "GeoIP2-Enterprise-Test.mmdb"])
    func knownAnswers(file: String) throws {
        let reader = try testDatabase(file)
        #expect(try reader.country(for: ip("81.2.69.160")) == CountryCode(isoCode: "GB"))
        #expect(try reader.country(for: ip("::ffff:81.2.69.160")) == CountryCode(isoCode: "GB"))
        #expect(try reader.country(for: ip("::81.2.69.160")) == CountryCode(isoCode: "GB"))
        let record = try #require(try reader.record(for: ip("81.2.69.160")))
        #expect(record["country"]?["iso_code"] == .string("GB"))
        #expect(record["registered_country"]?["iso_code"] == .string("US"))
        #expect(try reader.record(for: ip("::ffff:81.2.69.160")) == record)
        if file == "GeoIP2-Country-Test.mmdb" {
            #expect(try reader.record(for: ip("2a02:d500::1")) != nil)
            #expect(try reader.country(for: ip("2a02:d500::1")) == .unknown)
        }
        #expect(try reader.country(for: ip("10.0.0.1")) == .unknown)
    }

    @Test(
        "GeoIP2/GeoLite2 databases agree with their source JSON",
        arguments: [
            ("GeoIP2-Country-Test.mmdb", "GeoIP2-Country-Test.json"),
            ("GeoLite2-Country-Test.mmdb", "GeoLite2-Country-Test.json"),
            ("GeoIP2-City-Test.mmdb", "GeoIP2-City-Test.json"),
            ("GeoLite2-City-Test.mmdb", "GeoLite2-City-Test.json"),
            ("GeoIP2-Enterprise-Test.mmdb", "GeoIP2-Enterprise-Test.json"),
        ])
    func sourceData(database: String, json: String) throws {
        let reader = try testDatabase(database)
        let networks = try SourceNetworks(path: conformanceRoot! + "/source-data/" + json)
        #expect(networks.entries.count > 30)
        var checked = 0
        var withCountry = 0
        for entry in networks.entries {
            for probe in [entry.first, entry.last] {
                let expected = networks.expectedCountry(at: probe)
                let address = IPAddress(high: UInt64(truncatingIfNeeded: probe >> 64), low: UInt64(truncatingIfNeeded: probe))
                #expect(try reader.country(for: address) == expected, "\(address) in \(database)")
                if expected.isKnown { withCountry += 1 }
                // IPv4 networks stored under ::/96 answer the same for the plain IPv4 address.
                if probe >> 32 == 0 && entry.prefixLength >= 96 {
                    #expect(try reader.country(for: IPAddress(ipv4: UInt32(truncatingIfNeeded: probe))) == expected)
                }
                checked += 1
            }
        }
        #expect(checked >= 2 * networks.entries.count)
        #expect(withCountry > 40)
    }

    @Test("every valid test database opens and answers many lookups")
    func everyValidDatabase() throws {
        let broken: Set<String> = [
            "GeoIP2-City-Test-Broken-Double-Format.mmdb", "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
            "MaxMind-DB-test-broken-pointers-24.mmdb", "MaxMind-DB-test-broken-search-tree-24.mmdb",
        ]
        let files = mmdbFiles(under: conformanceRoot! + "/test-data")
        #expect(files.count >= 30)
        for path in files where !broken.contains(String(path.split(separator: "/").last!)) {
            let reader = try MMDBReader(path: path)
            let bytesReader = try MMDBReader(bytes: readBytes(path))
            #expect(bytesReader.metadata == reader.metadata)
            var random = SeededGenerator(seed: 7)
            var found = 0
            for index in 0..<2_000 {
                let address =
                    index % 2 == 0
                    ? IPAddress(ipv4: UInt32(truncatingIfNeeded: random.next()))
                    : IPAddress(high: random.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x2000_0000_0000_0000, low: random.next())
                if try reader.record(for: address) != nil { found += 1 }
                _ = try reader.country(for: address)
            }
            _ = found
        }
    }
}

/// The networks of a source-data JSON file with their country and registered country.
struct SourceNetworks {
    struct Entry {
        var first: UInt128
        var last: UInt128
        var prefixLength: Int
        var country: String?
        var registered: String?
    }

    var entries: [Entry] = []

    init(path: String) throws {
        let list = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: Any]]
        for item in list {
            for (network, value) in item {
                let parts = network.split(separator: "/")
                let text = String(parts[0])
                var length = Int(parts[1])!
                let address = IPAddress(text)!
                var bits = UInt128(address.high) << 64 | UInt128(address.low)
                if !text.contains(":") {  // plain IPv4 networks live under ::/96
                    bits = UInt128(address.ipv4!)
                    length += 96
                }
                let hostMask: UInt128 = length == 128 ? 0 : (UInt128.max >> length)
                let record = value as? [String: Any]
                let country = (record?["country"] as? [String: Any])?["iso_code"] as? String
                let registered = (record?["registered_country"] as? [String: Any])?["iso_code"] as? String
                entries.append(
                    Entry(
                        first: bits & ~hostMask, last: bits | hostMask, prefixLength: length,
                        country: country, registered: registered))
            }
        }
    }

    /// country, else registered country, of the most specific network holding `address`.
    func expectedCountry(at address: UInt128) -> CountryCode {
        var best: Entry?
        for entry in entries where entry.first <= address && address <= entry.last {
            if best == nil || entry.prefixLength > best!.prefixLength { best = entry }
        }
        guard let best else { return .unknown }
        if let country = best.country { return CountryCode(isoCode: country) ?? .unknown }
        if let registered = best.registered { return CountryCode(isoCode: registered) ?? .unknown }
        return .unknown
    }
}
