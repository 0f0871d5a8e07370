import Foundation
import LogSurgeGeo
import LogSurgeTestSupport
import Testing
import LogSurgeCore

/// Every database the tests can open: the embedded one and the conformance set, corrupt ones included.
private func openableDatabases() -> [(name: String, reader: MMDBReader)] {
    var databases: [(String, MMDBReader)] = []
    if let embedded = try? EmbeddedCountryDatabase.open() { databases.append(("embedded", embedded)) }
    guard let root = conformanceRoot else { return databases }
    let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".mmdb") } ?? []
    for file in files.sorted() {
        if let reader = try? MMDBReader(path: root + "/" + file) { databases.append((file, reader)) }
    }
    return databases
}

/// Addresses around every range boundary of `table`, and random ones.
private func probes(_ table: IPv4CountryTable, random count: Int) -> [UInt32] {
    var generator = SeededGenerator(seed: 44)
    var addresses: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]
    for start in table.starts {
        addresses += [start, start &- 1, start &+ 1]
    }
    for _ in 0..<count { addresses.append(UInt32.random(in: 0...UInt32.max, using: &generator)) }
    return addresses
}

@Suite("IPv4 country table")
struct IPv4CountryTableTests {
    @Test("answers exactly as the tree walk, errors included, for every database that opens")
    func agreesWithTheReader() throws {
        let databases = openableDatabases()
        #expect(!databases.isEmpty)
        var tables = 0
        var databasesWithErrors = 0
        for (name, reader) in databases {
            guard let table = IPv4CountryTable(reader: reader) else { continue }
            tables += 1
            var fast = CountryResolver(reader: reader, cacheSize: 0, ipv4Table: table)
            var walking = CountryResolver(reader: reader, cacheSize: 0)
            let addresses = probes(table, random: name == "embedded" ? 20_000 : 2_000)
            for v4 in addresses.prefix(400_000) {
                let address = IPAddress(ipv4: v4)
                #expect(fast.country(for: address) == walking.country(for: address), "\(name): \(v4)")
            }
            #expect(fast.lookupErrors == walking.lookupErrors, "\(name)")
            if walking.lookupErrors > 0 { databasesWithErrors += 1 }
        }
        #expect(tables >= (hasConformanceData ? 20 : 1))  // without ../shared, the embedded database alone
        // Corrupt trees and records are among them: their ranges defer to the walk.
        if conformanceRoot != nil { #expect(databasesWithErrors >= 1) }
    }

    @Test("the embedded database flattens into ranges with real countries")
    func embedded() throws {
        let reader = try EmbeddedCountryDatabase.open()
        let table = try #require(IPv4CountryTable(reader: reader))
        #expect(table.rangeCount > 50_000)
        #expect(table.starts.first == 0)
        #expect(zip(table.starts, table.starts.dropFirst()).allSatisfy { $0 < $1 })
        #expect(table.code(for: 0x0A00_0001) == CountryCode.unknown.rawValue)  // 10.0.0.1, private
    }

    @Test("a tree with more ranges than allowed gives no table, so lookups walk the tree")
    func rangeLimit() throws {
        let reader = try EmbeddedCountryDatabase.open()
        #expect(IPv4CountryTable(reader: reader, maximumRanges: 1000) == nil)
    }

    @Test("building stops when abandoned, and only then")
    func abandon() throws {
        let reader = try EmbeddedCountryDatabase.open()
        var asked = 0
        #expect(
            IPv4CountryTable(
                reader: reader,
                abandon: {
                    asked += 1; return asked == 3
                }) == nil)
        #expect(asked == 3)
        asked = 0
        #expect(
            IPv4CountryTable(
                reader: reader,
                abandon: {
                    asked += 1; return false
                }) != nil)
        #expect(asked > 3)
    }
}

/// IPv6 addresses around every range boundary of `table` (with assorted interface bits), in
/// the IPv4-aliasing prefixes, and random ones.
private func probes(_ table: IPv6CountryTable, ipv4Starts: [UInt32], random count: Int) -> [IPAddress] {
    var generator = SeededGenerator(seed: 46)
    var networks: [UInt64] = [0, 1, 0x2001_0000_0000_0000, 0x2002_0000_0000_0000, UInt64.max]
    for start in table.starts { networks += [start, start &- 1, start &+ 1] }
    // The IPv4 ranges as 6to4 and Teredo see them.
    for start in ipv4Starts.prefix(50_000) {
        networks += [0x2002_0000_0000_0000 | UInt64(start) << 16, 0x2001_0000_0000_0000 | UInt64(start)]
    }
    for _ in 0..<count {
        networks.append(UInt64.random(in: 0...UInt64.max, using: &generator))
        // Global unicast, where the data is; and 6to4 and Teredo, which alias IPv4.
        networks.append(0x2000_0000_0000_0000 | UInt64.random(in: 0...(1 << 61 - 1), using: &generator))
        networks.append(0x2002_0000_0000_0000 | UInt64.random(in: 0...(1 << 48 - 1), using: &generator))
        networks.append(0x2001_0000_0000_0000 | UInt64.random(in: 0...UInt64(UInt32.max), using: &generator))
    }
    let interfaces: [UInt64] = [0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x0000_FFFF_0000_0000]
    return networks.enumerated().map { index, network in
        IPAddress(
            high: network,
            low: index % 5 == 0
                ? UInt64.random(in: 0...UInt64.max, using: &generator)
                : interfaces[index % interfaces.count])
    }
}

@Suite("IPv6 country table")
struct IPv6CountryTableTests {
    @Test("answers exactly as the tree walk, errors and IPv4 aliases included, for every database that opens")
    func agreesWithTheReader() throws {
        let databases = openableDatabases()
        #expect(!databases.isEmpty)
        var tables = 0
        var databasesWithErrors = 0
        for (name, reader) in databases {
            guard let table = IPv6CountryTable(reader: reader) else { continue }
            tables += 1
            let ipv4 = IPv4CountryTable(reader: reader)
            var fast = CountryResolver(reader: reader, cacheSize: 0, ipv4Table: ipv4, ipv6Table: table)
            var walking = CountryResolver(reader: reader, cacheSize: 0)
            let addresses = probes(table, ipv4Starts: ipv4?.starts ?? [], random: name == "embedded" ? 20_000 : 1_000)
            for address in addresses.prefix(800_000) {
                #expect(fast.country(for: address) == walking.country(for: address), "\(name): \(address)")
            }
            #expect(fast.lookupErrors == walking.lookupErrors, "\(name)")
            if walking.lookupErrors > 0 { databasesWithErrors += 1 }
        }
        #expect(tables >= (hasConformanceData ? 10 : 1))  // without ../shared, the embedded database alone
        if conformanceRoot != nil { #expect(databasesWithErrors >= 1) }
    }

    @Test("the embedded database: native networks answered by the table")
    func embedded() throws {
        let reader = try EmbeddedCountryDatabase.open()
        let table = try #require(IPv6CountryTable(reader: reader))
        #expect(table.rangeCount > 10_000)
        #expect(zip(table.starts, table.starts.dropFirst()).allSatisfy { $0 < $1 })
        let native = try #require(IPAddress("2607:f8b0:4005:80a::200e"))
        let nativeCode = table.code(for: native.high)
        #expect(nativeCode == (try reader.country(for: native)).rawValue)
        #expect(nativeCode != CountryCode.unknown.rawValue)
    }

    @Test("6to4 and Teredo, which MaxMind's databases alias to IPv4, are answered by the IPv4 table")
    func ipv4Aliases() throws {
        guard let root = conformanceRoot else { return }
        let reader = try MMDBReader(path: root + "/test-data/GeoIP2-Country-Test.mmdb")
        let table = try #require(IPv6CountryTable(reader: reader))
        let ipv4 = try #require(IPv4CountryTable(reader: reader))
        // 81.2.69.160 is GB in the test data; 2002:5102:45a0:: is its 6to4 network and
        // 2001:0:5102:45a0:: a Teredo address with it as the server.
        let expected = try reader.country(for: IPAddress(ipv4: 0x5102_45A0))
        #expect(expected == CountryCode(isoCode: "GB"))
        for (text, depth) in [("2002:5102:45a0::1", 16), ("2001:0:5102:45a0::1", 32)] {
            let address = try #require(IPAddress(text))
            #expect(IPv6CountryTable.ipv4AliasDepth(table.code(for: address.high)) == depth, "\(text)")
            var resolver = CountryResolver(reader: reader, ipv4Table: ipv4, ipv6Table: table)
            #expect(resolver.country(for: address) == expected, "\(text)")
            #expect(resolver.cacheMisses == 0, "\(text): answered without walking the tree")
        }
    }

    @Test("an IPv4-only tree has no IPv6 table")
    func ipv4Only() throws {
        guard let root = conformanceRoot else { return }
        let reader = try MMDBReader(path: root + "/test-data/MaxMind-DB-test-ipv4-24.mmdb")
        #expect(IPv6CountryTable(reader: reader) == nil)
    }
}
