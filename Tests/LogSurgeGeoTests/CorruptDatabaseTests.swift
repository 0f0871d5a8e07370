import LogSurgeTestSupport
import LogSurgeGeo
import Testing
import LogSurgeCore

/// Every deliberately corrupt database of the conformance data, by path relative to its root.
private let corruptFiles: [String] = {
    guard let root = conformanceRoot else { return [] }
    let bad = mmdbFiles(under: root + "/bad-data")
    let broken = mmdbFiles(under: root + "/test-data").filter {
        $0.contains("-broken-") || $0.contains("-Broken-") || $0.contains("Invalid-Node-Count")
    }
    return (bad + broken).map { String($0.dropFirst(root.count + 1)) }
}()

/// Files among `corruptFiles` whose damage a lookup does not necessarily meet: their trees and
/// records are well formed along every lookup path (the corruption is an unreachable cycle of
/// tree nodes, or edge cases of valid metadata). The reader must still survive them.
private let survivable: Set<String> = [
    "bad-data/libmaxminddb/libmaxminddb-corrupt-search-tree.mmdb",
    "bad-data/libmaxminddb/libmaxminddb-empty-array-last-in-metadata.mmdb",
    "bad-data/libmaxminddb/libmaxminddb-empty-map-last-in-metadata.mmdb",
    "bad-data/libmaxminddb/libmaxminddb-uint64-max-epoch.mmdb",
]

/// Addresses probing every corner of a tree: all /8 starts and ends, the conformance networks,
/// IPv6 test networks, and seeded random IPv4 and IPv6 addresses.
let probeAddresses: [IPAddress] = {
    var addresses: [IPAddress] = []
    for first in 0..<256 {
        addresses.append(IPAddress(ipv4: UInt32(first) << 24))
        addresses.append(IPAddress(ipv4: UInt32(first) << 24 | 0xFF_FFFF))
        addresses.append(IPAddress(ipv4: 0x0101_0100 | UInt32(first)))  // 1.1.1.x
        addresses.append(IPAddress(high: UInt64(first) << 56, low: 1))
    }
    for text in ["81.2.69.160", "2a02:d500::1", "2001:220::", "::2:0:0", "::2:0:58", "::1:ffff:ffff", "::1.1.1.1", "::"] {
        addresses.append(IPAddress(text)!)
    }
    var random = SeededGenerator(seed: 42)
    for _ in 0..<1_000 {
        addresses.append(IPAddress(ipv4: UInt32(truncatingIfNeeded: random.next())))
        addresses.append(IPAddress(high: random.next(), low: random.next()))
    }
    return addresses
}()

/// Looks up every probe address (country and full record); returns how many lookups threw.
func lookupErrors(in reader: MMDBReader) -> Int {
    var errors = 0
    for address in probeAddresses {
        do { _ = try reader.country(for: address) } catch { errors += 1 }
        do { _ = try reader.record(for: address) } catch { errors += 1 }
    }
    return errors
}

@Suite("Corrupt databases are errors, never crashes", .enabled(if: hasConformanceData, "needs ../shared/mmdb-conformance"))
struct CorruptDatabaseTests {
    @Test("the corrupt set is complete")
    func inventory() {
        #expect(corruptFiles.count >= 25)
    }

    @Test("open or look up: an error or an answer, and an error for the clearly broken", arguments: corruptFiles)
    func corrupt(file: String) throws {
        let path = conformanceRoot! + "/" + file
        var failures = 0
        for viaPath in [true, false] {
            let reader: MMDBReader
            do {
                reader = viaPath ? try MMDBReader(path: path) : try MMDBReader(bytes: readBytes(path))
            } catch let error as MMDBError {
                #expect(error.description.contains(viaPath ? path : "<bytes>"), "error names the file: \(error)")
                failures += 1
                continue
            }
            failures += lookupErrors(in: reader)
            // The resolver answers .unknown for exactly the lookups that throw, and counts them.
            var resolver = CountryResolver(reader: reader, cacheSize: 64)
            var direct = 0
            for address in probeAddresses.prefix(500) {
                let expected: CountryCode
                do { expected = try reader.country(for: address) } catch {
                    direct += 1
                    expected = .unknown
                }
                #expect(resolver.country(for: address) == expected)
            }
            #expect(resolver.lookupErrors == direct)
            _ = reader.metadata.buildDate
        }
        if !survivable.contains(file) {
            #expect(failures > 0, "\(file) should fail to open or fail some lookup")
        }
    }

    @Test("valid databases cut short anywhere near their end, or at 40 points before, are errors at open, never crashes")
    func truncatedValidDatabases() throws {
        let corrupt = Set(corruptFiles.map { conformanceRoot! + "/" + $0 })
        let valid = mmdbFiles(under: conformanceRoot! + "/test-data").filter { !corrupt.contains($0) }
        #expect(valid.count >= 30)
        var copies = 0
        for path in valid {
            let bytes = try readBytes(path)
            // The metadata is at the end: every cut in the last 512 bytes lands in it or just before.
            var lengths = Set(stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)))
            lengths.formUnion(max(0, bytes.count - 512)..<bytes.count)
            for length in lengths.sorted() {
                copies += 1
                let copy = Array(bytes[..<length])
                do throws(MMDBError) {
                    let reader = try MMDBReader(bytes: copy)
                    // Should one ever open, its lookups and tables must still only answer or throw.
                    Issue.record("\(path) cut to \(length) bytes opened")
                    _ = lookupErrors(in: reader)
                    _ = IPv4CountryTable(reader: reader)
                    _ = IPv6CountryTable(reader: reader)
                } catch {
                    #expect(error.description.contains("<bytes>"))
                }
            }
        }
        #expect(copies > 10_000)
    }

    @Test("edge cases of valid metadata read nothing out of bounds")
    func metadataEdgeCases() throws {
        let root = conformanceRoot! + "/bad-data/libmaxminddb/"
        let epoch = try MMDBReader(path: root + "libmaxminddb-uint64-max-epoch.mmdb")
        #expect(epoch.metadata.buildEpoch == UInt64.max)
        #expect(epoch.metadata.buildDate.count >= 10)
        for name in ["libmaxminddb-empty-array-last-in-metadata.mmdb", "libmaxminddb-empty-map-last-in-metadata.mmdb"] {
            let reader = try MMDBReader(path: root + name)
            #expect(reader.metadata.nodeCount >= 1)
        }
    }

    @Test("known failures carry the right reason")
    func reasons() throws {
        let testData = conformanceRoot! + "/test-data/"
        #expect(throws: MMDBError.self) { try MMDBReader(path: testData + "GeoIP2-City-Test-Invalid-Node-Count.mmdb") }
        let double = try MMDBReader(path: testData + "GeoIP2-City-Test-Broken-Double-Format.mmdb")
        do {
            _ = try double.record(for: IPAddress("2001:220::")!)
            Issue.record("a double of size 2 should not decode")
        } catch {
            #expect(error.description.contains("double of size"))
        }
        let separator = try MMDBReader(path: conformanceRoot! + "/bad-data/libmaxminddb/libmaxminddb-separator-record-min-left.mmdb")
        do {
            _ = try separator.country(for: IPAddress("1.1.1.1")!)
            Issue.record("a record pointing into the separator should be an error")
        } catch {
            #expect(error.description.contains("separator"))
        }
        let deep = try MMDBReader(path: conformanceRoot! + "/bad-data/libmaxminddb/libmaxminddb-deep-nesting.mmdb")
        #expect(throws: MMDBError.self) { try deep.record(for: IPAddress("1.1.1.1")!) }
        #expect(throws: MMDBError.self) { try MMDBReader(path: "/nonexistent/file.mmdb") }
        #expect(throws: MMDBError.self) { try MMDBReader(path: testData) }  // a directory
        #expect(throws: MMDBError.self) { try MMDBReader(bytes: []) }
        #expect(throws: MMDBError.self) { try MMDBReader(bytes: Array("not a database".utf8)) }
    }
}
