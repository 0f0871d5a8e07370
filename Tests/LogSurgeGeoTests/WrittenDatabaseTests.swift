import LogSurgeTestSupport
import LogSurgeGeo
import Testing
import LogSurgeCore

private func ip(_ text: String) -> IPAddress { IPAddress(text)! }
private func cc(_ text: String) -> CountryCode { CountryCode(isoCode: text)! }

/// A small world: countries, a registered-only network, a record without country, gaps.
private func world(ipVersion: Int, recordSize: Int, pointers: MMDBWriter.PointerMode = .none, padding: Int = 0) -> MMDBWriter {
    var writer = MMDBWriter(ipVersion: ipVersion, recordSize: recordSize)
    writer.pointers = pointers
    writer.dataPadding = padding
    writer.insert("1.0.0.0/8", countryRecord("AU", registered: "AU"))
    writer.insert("2.0.0.0/7", countryRecord("FR", registered: "FR", extra: ["continent": .map(["code": .string("EU")])]))
    writer.insert("2.1.0.0/16", countryRecord("GB", registered: "US"))  // overrides part of 2.0.0.0/7
    writer.insert("5.5.5.0/24", countryRecord(nil, registered: "DE"))  // registered only
    writer.insert("6.6.6.0/24", .map(["traits": .map(["is_anycast": .bool(true)])]))  // no country at all
    writer.insert("7.7.7.7/32", countryRecord("jp"))  // lower case in the data
    writer.insert("8.8.8.0/24", countryRecord("US"))
    writer.insert("9.9.9.0/24", .map(["country": .map(["iso_code": .string("USA")])]))  // not two letters
    writer.insert("10.0.0.0/8", .string("a record that is not a map"))
    writer.insert("200.0.0.0/5", countryRecord("BR", registered: "BR"))
    if ipVersion == 6 {
        writer.insert("2001:db8::/32", countryRecord("NL"))
        writer.insert("2001:db8:1::/48", countryRecord(nil, registered: "BE"))
        writer.insert("2a02:d500::/29", .map(["continent": .map(["code": .string("EU")])]))
        writer.insert("::ffff:0:0/96", countryRecord("ZZ"))  // must never answer: IPv4 uses ::/96
        writer.insert("fe80::/10", countryRecord("AQ"))
    }
    return writer
}

/// Expected answers in `world` for both tree kinds.
private let worldAnswers: [(String, String)] = [
    ("1.2.3.4", "AU"), ("1.0.0.0", "AU"), ("1.255.255.255", "AU"), ("2.0.0.1", "FR"), ("3.255.0.1", "FR"),
    ("2.1.0.1", "GB"), ("2.1.255.255", "GB"), ("2.2.0.0", "FR"), ("5.5.5.5", "DE"), ("6.6.6.6", "--"),
    ("7.7.7.7", "JP"), ("7.7.7.6", "--"), ("8.8.8.8", "US"), ("9.9.9.9", "--"), ("10.1.2.3", "--"),
    ("11.0.0.0", "--"), ("200.1.2.3", "BR"), ("207.255.255.255", "BR"), ("208.0.0.0", "--"), ("0.0.0.0", "--"),
    ("255.255.255.255", "--"), ("::ffff:2.1.0.1", "GB"), ("::ffff:8.8.8.8", "US"),
]

@Suite("Databases built by the test writer")
struct WrittenDatabaseTests {
    static let shapes: [(Int, Int)] = [(4, 24), (4, 28), (4, 32), (6, 24), (6, 28), (6, 32)]

    @Test("country, registered-country fallback and not-found, every tree shape", arguments: shapes)
    func answers(ipVersion: Int, recordSize: Int) throws {
        var writer = world(ipVersion: ipVersion, recordSize: recordSize)
        let reader = try MMDBReader(bytes: writer.build())
        #expect(reader.metadata.ipVersion == ipVersion)
        #expect(reader.metadata.recordSize == recordSize)
        for (address, expected) in worldAnswers {
            #expect(try reader.country(for: ip(address)).description == expected, "\(address)")
        }
        let record = try #require(try reader.record(for: ip("2.1.0.1")))
        #expect(record["registered_country"]?["iso_code"] == .string("US"))
        #expect(try reader.record(for: ip("11.0.0.0")) == nil)
        #expect(try reader.record(for: ip("10.0.0.1")) == .string("a record that is not a map"))
        if ipVersion == 6 {
            #expect(try reader.country(for: ip("2001:db8::1")) == cc("NL"))
            #expect(try reader.country(for: ip("2001:db8:1::1")) == cc("BE"))
            #expect(try reader.country(for: ip("2a02:d500::1")) == .unknown)
            #expect(try reader.record(for: ip("2a02:d500::1")) != nil)
            #expect(try reader.country(for: ip("fe80::1")) == cc("AQ"))
            #expect(try reader.country(for: ip("2001:db9::1")) == .unknown)
            // IPv4-compatible ::a.b.c.d walks the same subtree as the IPv4 address.
            #expect(try reader.country(for: ip("::8.8.8.8")) == cc("US"))
        } else {
            // Other IPv6 addresses have no record in an IPv4-only tree.
            #expect(try reader.record(for: ip("2001:db8::1")) == nil)
            #expect(try reader.country(for: ip("::8.8.8.8")) == .unknown)
        }
    }

    @Test("the embedded-style alias: ::ffff:0:0/96 data is ignored in favour of the IPv4 rule")
    func mappedRule() throws {
        var writer = world(ipVersion: 6, recordSize: 24)
        let reader = try MMDBReader(bytes: writer.build())
        // The tree holds ZZ at ::ffff:0:0/96, but an IPv4-mapped address is looked up as IPv4.
        #expect(try reader.country(for: ip("::ffff:1.2.3.4")) == cc("AU"))
        #expect(try reader.country(for: ip("::ffff:11.0.0.0")) == .unknown)
        #expect(try reader.country(for: IPAddress(ipv4: 0x0808_0808)) == cc("US"))
    }

    @Test("identical records are stored once")
    func deduplication() throws {
        var once = MMDBWriter(ipVersion: 4, recordSize: 24)
        once.insert("1.0.0.0/8", countryRecord("AU"))
        var many = MMDBWriter(ipVersion: 4, recordSize: 24)
        for first in stride(from: 1, to: 200, by: 2) { many.insert("\(first).0.0.0/8", countryRecord("AU")) }
        let small = once.build()
        let large = many.build()
        let reader = try MMDBReader(bytes: large)
        let smallReader = try MMDBReader(bytes: small)
        /// Bytes between the tree's separator and the metadata marker.
        func dataSize(_ bytes: [UInt8], nodeCount: Int) -> Int {
            let marker: [UInt8] = [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)
            let markerStart = (0...(bytes.count - marker.count)).last { Array(bytes[$0..<($0 + marker.count)]) == marker }!
            return markerStart - (nodeCount * 6 + 16)
        }
        #expect(reader.metadata.nodeCount > 100)
        #expect(dataSize(large, nodeCount: reader.metadata.nodeCount) == dataSize(small, nodeCount: smallReader.metadata.nodeCount))
        for first in stride(from: 1, to: 200, by: 2) {
            #expect(try reader.country(for: IPAddress(ipv4: UInt32(first) << 24 | 0x0102_03)) == cc("AU"))
            #expect(try reader.country(for: IPAddress(ipv4: UInt32(first + 1) << 24)) == .unknown)
        }
    }

    @Test(
        "pointers of every size decode in full and on the country fast path",
        arguments: [
            (MMDBWriter.PointerMode.smallest, 0, 0),
            (MMDBWriter.PointerMode.smallest, 3_000, 1),
            (MMDBWriter.PointerMode.smallest, 600_000, 2),
            (MMDBWriter.PointerMode.always32, 0, 3),
        ])
    func pointers(mode: MMDBWriter.PointerMode, padding: Int, sizeBits: Int) throws {
        for recordSize in [24, 28, 32] {
            var plainWriter = world(ipVersion: 6, recordSize: recordSize)
            var pointerWriter = world(ipVersion: 6, recordSize: recordSize, pointers: mode, padding: padding)
            let plain = try MMDBReader(bytes: plainWriter.build())
            let bytes = pointerWriter.build()
            #expect(pointerWriter.pointerCounts[sizeBits] > 0, "pointers of size bits \(sizeBits) were written")
            let reader = try MMDBReader(bytes: bytes)
            for (address, expected) in worldAnswers {
                #expect(try reader.country(for: ip(address)).description == expected, "\(address)")
                #expect(try reader.record(for: ip(address)) == plain.record(for: ip(address)))
            }
        }
    }

    @Test("every type round-trips through the writer")
    func everyType() throws {
        let value: MMDBValue = .map([
            "string": .string("héllo ☯"), "empty": .string(""), "long": .string(String(repeating: "x", count: 70_000)),
            "double": .double(-1.5), "float": .float(3.25), "bytes": .bytes([0, 1, 2, 255]),
            "u16": .uint16(65_535), "u32": .uint32(4_000_000_000), "i32": .int32(-7), "i32p": .int32(5),
            "u64": .uint64(.max), "u128": .uint128(high: 1, low: 2), "u128small": .uint128(high: 0, low: 300),
            "bool": .bool(true), "no": .bool(false),
            "array": .array([.uint16(1), .string("two"), .array([]), .map([:])]),
            "nested": .map(["a": .map(["b": .map(["c": .array([.uint32(0)])])])]),
        ])
        var writer = MMDBWriter(ipVersion: 6, recordSize: 28)
        writer.insert("2001:db8::/32", value)
        let reader = try MMDBReader(bytes: writer.build())
        #expect(try reader.record(for: ip("2001:db8::1")) == value)
    }

    @Test("metadata is what the writer wrote")
    func metadata() throws {
        var writer = MMDBWriter(ipVersion: 6, recordSize: 32)
        writer.databaseType = "logsurge-test"
        writer.languages = ["en", "de"]
        writer.descriptions = ["en": "English", "de": "Deutsch"]
        writer.buildEpoch = 1_700_000_000
        writer.insert("1.0.0.0/8", countryRecord("AU"))
        let reader = try MMDBReader(bytes: writer.build())
        #expect(reader.metadata.databaseType == "logsurge-test")
        #expect(reader.metadata.languages == ["en", "de"])
        #expect(reader.metadata.description == ["en": "English", "de": "Deutsch"])
        #expect(reader.metadata.buildDate == "2023-11-14")
        #expect(reader.metadata.recordSize == 32)
    }

    @Test("every truncated copy is an error at open, never a crash", arguments: [(4, 24), (6, 28)])
    func truncated(ipVersion: Int, recordSize: Int) throws {
        var writer = world(ipVersion: ipVersion, recordSize: recordSize, pointers: .smallest)
        let bytes = writer.build()
        #expect(try MMDBReader(bytes: bytes).country(for: ip("8.8.8.8")) == cc("US"))
        for length in 0..<bytes.count {
            let copy = Array(bytes[..<length])
            #expect(throws: MMDBError.self, "length \(length)") { try MMDBReader(bytes: copy) }
        }
    }

    @Test("damaged copies answer or throw, never crash or hang", arguments: [1, 2, 3] as [UInt64])
    func damaged(seed: UInt64) throws {
        var writer = world(ipVersion: 6, recordSize: seed == 1 ? 24 : seed == 2 ? 28 : 32, pointers: .smallest)
        let original = writer.build()
        var random = SeededGenerator(seed: seed)
        var opened = 0
        var threw = 0
        for _ in 0..<1_500 {
            var copy = original
            for _ in 0..<Int(random.next() % 4 + 1) {
                let at = Int(random.next() % UInt64(copy.count))
                copy[at] = random.next() % 3 == 0 ? 0xFF : UInt8(truncatingIfNeeded: random.next())
            }
            guard let reader = try? MMDBReader(bytes: copy) else { continue }
            opened += 1
            for (address, _) in worldAnswers {
                do {
                    _ = try reader.country(for: ip(address))
                    _ = try reader.record(for: ip(address))
                } catch {
                    threw += 1
                }
            }
            for address in ["2001:db8::1", "2001:db8:1::1", "2a02:d500::1", "fe80::1", "::1"] {
                do { _ = try reader.record(for: ip(address)) } catch { threw += 1 }
            }
        }
        #expect(opened > 100)
        #expect(threw > 0)
    }

    @Test("search-tree corruption is an error at lookup")
    func badRecords() throws {
        var writer = MMDBWriter(ipVersion: 4, recordSize: 24)
        writer.insert("1.0.0.0/8", countryRecord("AU"))
        var bytes = writer.build()
        let reader = try MMDBReader(bytes: bytes)
        let nodeCount = reader.metadata.nodeCount
        // Node 0's left record (bit 0 = 0.0.0.0/1): point it into the separator, then past the data.
        for value in [nodeCount + 1, nodeCount + 15, nodeCount + 16 + 10_000, 0xFF_FFFF] {
            bytes[0] = UInt8(value >> 16)
            bytes[1] = UInt8((value >> 8) & 0xFF)
            bytes[2] = UInt8(value & 0xFF)
            let damaged = try MMDBReader(bytes: bytes)
            #expect(throws: MMDBError.self, "record \(value)") { try damaged.country(for: ip("1.2.3.4")) }
            #expect(throws: MMDBError.self) { try damaged.record(for: ip("1.2.3.4")) }
            #expect(try damaged.country(for: ip("200.0.0.1")) == .unknown)  // the right half is intact
            var resolver = CountryResolver(reader: damaged)
            #expect(resolver.country(for: ip("1.2.3.4")) == .unknown)
            #expect(resolver.country(for: ip("1.2.3.4")) == .unknown)
            #expect(resolver.lookupErrors == 2)  // errors are counted, not cached
        }
        // A tree whose every record points back to node 0 runs out of address bits: an error.
        bytes[0] = 0; bytes[1] = 0; bytes[2] = 0
        let looping = try MMDBReader(bytes: bytes)
        #expect(throws: MMDBError.self) { try looping.country(for: ip("0.0.0.0")) }
    }

    @Test("a pointer cycle and deep nesting are errors")
    func hostileData() throws {
        // Data: a map {"a": <pointer to itself>}.
        var writer = MMDBWriter(ipVersion: 4, recordSize: 24)
        writer.insert("1.0.0.0/8", .map(["country": .map(["iso_code": .string("AU")])]))
        var bytes = writer.build()
        let reader = try MMDBReader(bytes: bytes)
        let dataStart = reader.metadata.nodeCount * 6 + 16
        // Replace the record's map by: map(1) key "a" pointer→0, i.e. a cycle.
        let cycle: [UInt8] = [0xE1, 0x41, UInt8(ascii: "a"), 0x20, 0x00]
        for (index, byte) in cycle.enumerated() { bytes[dataStart + index] = byte }
        let cyclic = try MMDBReader(bytes: bytes)
        #expect(throws: MMDBError.self) { try cyclic.record(for: ip("1.2.3.4")) }
        #expect(try cyclic.country(for: ip("1.2.3.4")) == .unknown)  // the fast path does not follow it

        var deep: MMDBValue = .string("bottom")
        for _ in 0..<100 { deep = .array([deep]) }
        var deepWriter = MMDBWriter(ipVersion: 4, recordSize: 24)
        deepWriter.insert("1.0.0.0/8", .map(["x": deep, "country": .map(["iso_code": .string("AU")])]))
        let deepReader = try MMDBReader(bytes: deepWriter.build())
        #expect(throws: MMDBError.self) { try deepReader.record(for: ip("1.2.3.4")) }
    }
}
