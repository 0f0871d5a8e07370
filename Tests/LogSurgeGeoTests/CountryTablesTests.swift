import Foundation
import LogSurgeGeo
import LogSurgeTestSupport
import Testing

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
        #expect(tables >= 20)
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
}
