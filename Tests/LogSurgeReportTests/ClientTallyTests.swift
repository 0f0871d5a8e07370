import Testing
import LogSurgeCore
@_spi(Pipeline) @testable import LogSurgeAggregate

/// Distinct clients per bucket: exact while small, a sketch beyond, the same whatever order or
/// grouping the lines were counted in.
@Suite struct ClientTallyTests {
    /// `count` distinct clients (IPv4 and IPv6 mixed), from `seed`.
    static func clients(_ count: Int, seed: UInt64) -> [UInt64] {
        var random = SeededGenerator(seed: seed)
        var seen = Set<UInt64>()
        var result: [UInt64] = []
        while result.count < count {
            let v6 = random.next() % 4 == 0
            let identity =
                v6
                ? ClientTally.identity(high: 0x2001_0DB8_0000_0000 | random.next() >> 32, low: random.next())
                : ClientTally.identity(high: 0, low: 0xFFFF_0000_0000 | random.next() & 0xFFFF_FFFF)
            if seen.insert(identity).inserted { result.append(identity) }
        }
        return result
    }

    /// The tally of `requests` (a client identity each) counted in one chunk, as a worker does.
    static func tally(_ requests: some Sequence<UInt64>) -> ClientTally {
        var counter = ClientCounter(initialCapacity: 16)
        for client in requests { counter.add(entry: 0, client: client) }
        return counter.drain(entryCount: 1)[0]
    }

    @Test("exact up to the limit: distinct clients and the busiest one's requests", arguments: [1, 2, 64, 65, 1000, 1024])
    func exactWhileSmall(count: Int) {
        let clients = Self.clients(count, seed: UInt64(count))
        // Client i sends i % 7 + 1 requests.
        var requests: [UInt64] = []
        for (index, client) in clients.enumerated() { requests += repeatElement(client, count: index % 7 + 1) }
        var random = SeededGenerator(seed: 9)
        requests.shuffle(using: &random)
        let tally = Self.tally(requests)
        #expect(tally.distinct == count)
        #expect(tally.busiest == min(count, 7))
        // Each client once, by identity, with its requests (merges rely on the order).
        let sorted = clients.indices.sorted { clients[$0] < clients[$1] }
        #expect(tally == ClientTally(sortedPairs: sorted.map { clients[$0] }, requests: sorted.map { UInt32($0 % 7 + 1) }))
    }

    /// A drain of several entries at once, identities clustered in one top-bits slot, or
    /// spread: each entry's tally is its pairs sorted, whatever the group sizes (by insertion,
    /// dealt by top bits, a slot of many by a merge sort, a sketch). (helper-32's review.)
    @Test("a drain of many entries: each its pairs sorted, spread or all in one slot, across every sort's bounds", arguments: [0, 1, 2, 3])
    func drainSeveralEntries(layout: Int) {
        var random = SeededGenerator(seed: UInt64(layout) + 40)
        let sizes = [0, 1, 2, 3, 15, 16, 17, 18, 33, 500, 1023, 1024, 1025, 0, 2, 1]
        var counter = ClientCounter(initialCapacity: 16)
        var expected: [[UInt64: UInt32]] = []
        var lines: [(Int, UInt64)] = []
        for (entry, size) in sizes.enumerated() {
            var pairs: [UInt64: UInt32] = [:]
            while pairs.count < size {
                let identity: UInt64
                switch layout {
                case 0: identity = random.next()
                case 1: identity = UInt64(pairs.count + 1)  // all in the first slot
                case 2: identity = UInt64.max - UInt64(pairs.count)  // all in the last slot
                default: identity = (random.next() & 0x00FF_FFFF) | 0xAB00_0000_0000_0000
                }
                let repeats = Int.random(in: 1...3, using: &random)
                pairs[identity] = UInt32(repeats)
                for _ in 0..<repeats { lines.append((entry, identity)) }
            }
            expected.append(pairs)
        }
        lines.shuffle(using: &random)
        for (entry, identity) in lines { counter.add(entry: entry, client: identity) }
        let tallies = counter.drain(entryCount: sizes.count)
        for (entry, pairs) in expected.enumerated() {
            let sorted = pairs.keys.sorted()
            let reference = ClientTally(sortedPairs: sorted, requests: sorted.map { pairs[$0]! })
            #expect(tallies[entry] == reference, "layout \(layout) entry \(entry) size \(sizes[entry])")
            // Round trip through the spill bytes.
            let bytes = tallies[entry].serialized()
            let back = bytes.withUnsafeBytes { ClientTally(serialized: $0) }
            #expect(back == tallies[entry])
        }
    }

    @Test("beyond the limit, within 2 % of the true count", arguments: [1025, 3000, 20_000, 200_000, 1_000_000])
    func estimateWithinTwoPercent(count: Int) {
        for seed in 1...3 as ClosedRange<UInt64> {
            let tally = Self.tally(Self.clients(count, seed: seed &* 7919 &+ UInt64(count)))
            let error = Double(tally.distinct - count) / Double(count)
            #expect(abs(error) <= 0.02, "\(count) clients, seed \(seed): estimated \(tally.distinct)")
        }
    }

    @Test("the same tally whatever the chunks, their order and their grouping, across the limit", arguments: [300, 1024, 1025, 5000])
    func mergeIsInvariant(count: Int) {
        let clients = Self.clients(count, seed: 77)
        var random = SeededGenerator(seed: UInt64(count))
        var requests: [UInt64] = []
        for client in clients { requests += repeatElement(client, count: Int(random.next() % 3) + 1) }
        requests += repeatElement(clients[0], count: 500)  // one busy client
        requests.shuffle(using: &random)
        let whole = Self.tally(requests)
        for chunkSize in [1, 97, 1500] {
            let chunks = stride(from: 0, to: requests.count, by: chunkSize).map {
                Self.tally(requests[$0..<min($0 + chunkSize, requests.count)])
            }
            var forward = ClientTally()
            for chunk in chunks { forward.merge(chunk) }
            var backward = ClientTally()
            for chunk in chunks.reversed() { backward.merge(chunk) }
            // Pairs first, then the pairs: another grouping.
            var pairs: [ClientTally] = []
            for index in stride(from: 0, to: chunks.count, by: 2) {
                var pair = chunks[index]
                if index + 1 < chunks.count { pair.merge(chunks[index + 1]) }
                pairs.append(pair)
            }
            var grouped = ClientTally()
            for pair in pairs { grouped.merge(pair) }
            #expect(forward == whole && backward == whole && grouped == whole, "chunks of \(chunkSize)")
        }
        if count <= ClientTally.exactLimit {
            #expect(whole.distinct == count)
            #expect(whole.busiest == requests.filter { $0 == clients[0] }.count)
        } else {
            // An upper bound on the busiest client's requests, and close to it when one stands out.
            let truth = requests.filter { $0 == clients[0] }.count
            #expect(whole.busiest >= truth && whole.busiest <= truth + 60)
        }
    }

    @Test("one client's tallies: merged with the same client, with another, and with many, as one chunk counts them")
    func oneClient() {
        let clients = Self.clients(3, seed: 5)
        var same = Self.tally([clients[0]])
        same.merge(Self.tally([clients[0], clients[0]]))
        #expect(same == Self.tally(repeatElement(clients[0], count: 3)))
        #expect(same.distinct == 1 && same.busiest == 3 && same.memoryBytes == 0)
        var two = Self.tally([clients[1]])
        two.merge(Self.tally([clients[0]]))
        var twoOtherWay = Self.tally([clients[0]])
        twoOtherWay.merge(Self.tally([clients[1]]))
        #expect(two == twoOtherWay && two == Self.tally([clients[1], clients[0]]))
        #expect(two.distinct == 2 && two.busiest == 1)
        // Into a sketch and from one.
        let many = Self.tally(Self.clients(3000, seed: 6))
        var intoMany = many
        intoMany.merge(same)
        var fromOne = same
        fromOne.merge(many)
        #expect(intoMany == fromOne && intoMany.busiest >= 3)
        var reported = ClientTally(reported: ClientFigures(distinct: 4, busiest: 2))
        reported.merge(same)
        #expect(reported.distinct == 5 && reported.busiest == 3)
    }

    /// (From helper-30's review.) One-client tallies of the same keys added between many spills: the rows (clients too)
    /// must equal those of a table that never spilled, across the exact->sketch switch and the
    /// 2^31 requests fallback of the one-client place.
    @Test("one-client tallies spilled, merged across runs and read back: the rows of a table that never spilled", arguments: [1, 2, 7, 64])
    func oneClientTalliesAcrossSpills(threshold: Int) throws {
        var spilled = MinuteBuckets(spillThreshold: threshold)
        var memory = MinuteBuckets(spillThreshold: 1 << 30)
        var random = SeededGenerator(seed: UInt64(threshold))
        var adds: [(Int32, String, UInt64, UInt32)] = []
        // key 0: 1024 distinct clients; key 1: 1025; key 2: one client many times; key 3: one
        // client whose requests pass 2^31 when merged; key 4: two clients, huge requests.
        for c in 0..<1024 { adds.append((0, "a", ClientTally.mix(UInt64(c) + 1), 1)) }
        for c in 0..<1025 { adds.append((1, "a", ClientTally.mix(UInt64(c) + 1), 2)) }
        for _ in 0..<50 { adds.append((2, "b", 12345, 3)) }
        for _ in 0..<3 { adds.append((3, "b", 777, 1 << 30 + 5)) }
        adds += [(4, "c", 1, 1 << 31 - 1), (4, "c", 2, 1 << 31), (4, "c", 1, 1)]
        for m in 5..<400 { adds.append((Int32(m), "d\(m % 7)", UInt64(m), 1)) }
        adds.shuffle(using: &random)
        for (minute, site, client, requests) in adds {
            let tally = ClientTally(identity: client, requests: requests)
            let counts = BucketCounts(requests: 1, status2xx: 1, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 0)
            spilled.add(minute: minute, site: site, country: CountryCode(rawValue: 1), counts: counts, clients: tally)
            memory.add(minute: minute, site: site, country: CountryCode(rawValue: 1), counts: counts, clients: tally)
        }
        #expect(spilled.hasSpilled)
        let a = spilled.rows(), b = memory.rows()
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) where x != y { Issue.record("\(x) != \(y)") }
        #expect(b.first { $0.minute == 0 }?.clients.distinct == 1024)
        #expect(b.first { $0.minute == 2 }?.clients.busiest == 150)
        // Tallies read back, not only figures: merge everything into one more table.
        var again = MinuteBuckets(spillThreshold: 3)
        again.merge(spilled)
        var again2 = MinuteBuckets(spillThreshold: 1 << 30)
        again2.merge(memory)
        #expect(again.rows() == again2.rows())
    }

    @Test("a tally read back from its bytes is the same tally; damaged bytes are refused")
    func bytesRoundTrip() {
        let small = Self.tally(Self.clients(40, seed: 1))
        let large = Self.tally(Self.clients(4000, seed: 2))
        let reported = ClientTally(reported: ClientFigures(distinct: 12, busiest: 5))
        let one = Self.tally(repeatElement(Self.clients(1, seed: 3)[0], count: 3))
        for tally in [small, large, reported, one, ClientTally()] {
            let bytes = tally.serialized()
            #expect(bytes.withUnsafeBytes { ClientTally(serialized: $0) } == tally)
            if bytes.count > 1 {
                #expect(bytes.dropLast().withUnsafeBytes { ClientTally(serialized: UnsafeRawBufferPointer($0)) } == nil)
            }
        }
        #expect([UInt8]([7, 1, 2]).withUnsafeBytes { ClientTally(serialized: $0) } == nil)
    }

    @Test("buckets spilled to disk and merged back keep their clients, a key split over runs merged exactly")
    func spilledBucketsKeepTheirClients() {
        let us = CountryCode(isoCode: "US")!
        func fill(_ buckets: inout MinuteBuckets) {
            // 40 minutes, each minute's clients added in three passes (so a key recurs across runs).
            for pass in 0..<3 {
                for minute in 0..<40 {
                    let clients = Self.clients(minute == 7 ? 1500 : 10 + minute, seed: UInt64(minute))
                    let part = clients.enumerated().filter { $0.offset % 3 == pass }.map(\.element)
                    var counts = BucketCounts()
                    counts.requests = UInt64(part.count)
                    buckets.add(minute: Int32(minute), site: "s", country: us, counts: counts, clients: Self.tally(part))
                }
            }
        }
        var memory = MinuteBuckets()
        fill(&memory)
        var spilled = MinuteBuckets(spillThreshold: 7)
        fill(&spilled)
        #expect(spilled.hasSpilled)
        let rows = memory.rows()
        #expect(spilled.rows() == rows)
        #expect(rows.count == 40)
        #expect(rows[3].clients.distinct == 13)
        #expect(abs(rows[7].clients.distinct - 1500) <= 30)
    }

    @Test("tallies appended to a spill file read back the same, held in memory or written out")
    func spillFileTalliesReadBack() throws {
        let file = try #require(BucketSpillFile())
        // Sketches (36 KB) among exact tallies: several writes of `flushSize`, and a last part held.
        var appended: [(place: (offset: Int64, length: UInt32), tally: ClientTally)] = []
        var total = 0
        // One client is held in its place, no bytes written (unless its requests need the
        // place's marker bit); it reads back the same.
        let client = Self.clients(1, seed: 9)[0]
        // Identities whose offsets are negative as Int64, and the ends.
        for identity in [client, 0, 1 << 63, UInt64.max] {
            for requests: UInt32 in [1, 7, 1 << 31 - 1] {
                let one = ClientTally(identity: identity, requests: requests)
                let place = try #require(file.appendTally(one))
                #expect(file.tally(at: place.offset, length: place.length) == one)
            }
        }
        let huge = ClientTally(identity: client, requests: 1 << 31)
        let hugePlace = try #require(file.appendTally(huge))
        #expect(hugePlace == (0, 13) && file.tally(at: 0, length: 13) == huge)
        appended.append((hugePlace, huge))
        total += 13
        for index in 1..<100 {
            let tally = Self.tally(Self.clients(index % 4 == 3 ? 1100 : 1 + index * 5, seed: UInt64(index)))
            let place = try #require(file.appendTally(tally))
            appended.append((place, tally))
            total += Int(place.length)
            // Each read back as soon as it is appended (from memory), and the first (written by now).
            #expect(file.tally(at: place.offset, length: place.length) == tally)
            #expect(file.tally(at: appended[0].place.offset, length: appended[0].place.length) == appended[0].tally)
        }
        #expect(total > 3 * BucketSpillFile.flushSize)
        #expect(appended.last!.place.offset + Int64(appended.last!.place.length) == Int64(total))
        for (place, tally) in appended.reversed() { #expect(file.tally(at: place.offset, length: place.length) == tally) }
        // Past the end: refused, not a tally of zeros.
        #expect(file.tally(at: Int64(total), length: 13) == nil)
    }

    @Test("sites folded into ~other merge their clients")
    func foldedSitesMergeClients() {
        var buckets = MinuteBuckets()
        buckets.siteLimit = 4
        let us = CountryCode(isoCode: "US")!
        let shared = Self.clients(20, seed: 5)
        for site in 0..<8 {
            var counts = BucketCounts()
            counts.requests = UInt64(20 + site)
            // Every site sees the same 20 clients, and one of its own.
            let own = Self.clients(1, seed: 100 + UInt64(site))
            buckets.add(minute: 0, site: "site\(site)", country: us, counts: counts, clients: Self.tally(shared + own))
        }
        let rows = buckets.rows()
        let other = rows.filter { $0.site == MinuteBuckets.overflowSite }
        #expect(other.count == 1)
        let folded = 8 - rows.filter { $0.site != MinuteBuckets.overflowSite }.count
        #expect(folded >= 2)
        #expect(other.first?.clients.distinct == 20 + folded)
    }

    @Test("spilled tallies read back through the read-ahead windows: in order, two runs interleaved, and at random")
    func spilledTalliesReadBack() throws {
        let file = try #require(BucketSpillFile())
        // About 1.3 MB of small tallies (one to three clients): past the clients file's flush
        // size many times, so most are read from the file, not from what is held.
        var random = SeededGenerator(seed: 9)
        var written: [(tally: ClientTally, offset: Int64, length: UInt32)] = []
        for index in 0..<60_000 {
            let tally = Self.tally(Self.clients(1 + index % 3, seed: random.next()))
            let place = try #require(file.appendTally(tally))
            written.append((tally, place.offset, place.length))
        }
        // A big one (a sketch, read whole, past the windows).
        let big = Self.tally(Self.clients(5000, seed: 3))
        let bigPlace = try #require(file.appendTally(big))
        for entry in written { #expect(file.tally(at: entry.offset, length: entry.length) == entry.tally) }
        // Two runs' halves read alternately, as a merge of runs reads them.
        let half = written.count / 2
        for index in 0..<half {
            for entry in [written[index], written[half + index]] {
                #expect(file.tally(at: entry.offset, length: entry.length) == entry.tally)
            }
        }
        for _ in 0..<2000 {
            let entry = written[Int(random.next() % UInt64(written.count))]
            #expect(file.tally(at: entry.offset, length: entry.length) == entry.tally)
        }
        #expect(file.tally(at: bigPlace.offset, length: bigPlace.length) == big)
    }
}
