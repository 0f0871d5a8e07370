import Foundation
import LogSurge
import LogSurgeAggregate
import LogSurgePipelineTestSupport
import Testing
import LogSurgeGeo
import LogSurgeCore
import LogSurgeGenerate

@Suite struct GeneratorTests {
    @Test func sameSeedSameBytesOtherSeedOtherBytes() {
        let a = Support.generatedLog(minutes: 20, rate: 100, seed: 7)
        let b = Support.generatedLog(minutes: 20, rate: 100, seed: 7)
        let c = Support.generatedLog(minutes: 20, rate: 100, seed: 8)
        #expect(a == b)
        #expect(a != c)
        #expect(!a.isEmpty)
    }

    @Test func generatedClientsResolveToTheirCountryInTheEmbeddedDatabase() throws {
        var random = SeededGenerator(seed: 3)
        let generator = TrafficGenerator(configuration: GeneratorConfiguration())
        _ = generator
        for country in TrafficProfile.immigrationSite.countries {
            for network in country.ipv4 {
                for _ in 0..<20 {
                    let host = UInt32(truncatingIfNeeded: random.next()) & (UInt32.max >> UInt32(network.prefix))
                    let address = IPAddress(ipv4: network.address | host)
                    #expect(try Support.database.country(for: address).description == country.code, "\(address)")
                }
            }
            for network in country.ipv6 {
                let mask: UInt64 = network.prefix == 0 ? .max : (1 << UInt64(64 - network.prefix)) - 1
                let address = IPAddress(high: network.high | (random.next() & mask), low: random.next())
                #expect(try Support.database.country(for: address).description == country.code, "\(address)")
            }
        }
    }

    @Test func dailyRhythmPeaksInTheAfternoonLocalTime() {
        let generator = TrafficGenerator(configuration: GeneratorConfiguration())
        let canada = TrafficProfile.immigrationSite.countries.firstIndex { $0.code == "CA" }!
        let day = UTCMinute.minute(year: 2016, month: 11, day: 2, hour: 0, minute: 0)!  // a Wednesday
        // CA is at UTC-5: 16:00 local is 21:00 UTC, 04:00 local is 09:00 UTC.
        let peak = generator.expectedRequests(minute: day + 21 * 60)[canada]
        let trough = generator.expectedRequests(minute: day + 9 * 60)[canada]
        #expect(peak > 5 * trough)
    }

    @Test func generatedLogParsesAlmostEntirely() throws {
        let log = Support.generatedLog(minutes: 60, rate: 200, seed: 5, malformedRate: 0.001)
        let path = Support.temporaryDirectory().appendingPathComponent("g.log").path
        try Support.writeFile(path, Data(log))
        let analysis = Support.analyze([path])
        #expect(analysis.accounting.lines > 3000)
        #expect(Double(analysis.accounting.parsed) / Double(analysis.accounting.lines) > 0.995)
        let known = analysis.buckets.countsByCountry().filter { $0.key != .unknown }.values.reduce(0) { $0 + $1.requests }
        #expect(Double(known) / Double(analysis.accounting.parsed) > 0.99)
    }

    @Test func rotatedOutputLooksLikeLogrotateAndReadsBackInOrder() throws {
        let directory = Support.temporaryDirectory().appendingPathComponent("logs").path
        var configuration = GeneratorConfiguration()
        configuration.minutes = 3 * 1440
        configuration.peakRate = 5
        let written = try GeneratedLogWriter.write(configuration, to: .rotated(directory: directory, name: "access.log"))
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["access.log", "access.log.1", "access.log.2.gz", "access.log.3.gz"])  // -0500 clock: 4 local days
        let analysis = Support.analyze([directory])
        #expect(
            analysis.inputs.map { URL(fileURLWithPath: $0.name).lastPathComponent } == [
                "access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log",
            ])
        #expect(analysis.accounting.lines == UInt64(written))
    }
}

/// Hostile and odd inputs to detection: never a crash, a hang or a false episode. Here, the
/// events `logsurge generate --event` injects.
@Suite struct DetectionInputTests {
    @Test(arguments: [
        "surge:US:inf:2016-11-01T00:00Z:60", "surge:A\":2:2016-11-01T00:00Z:60",
        "surge:US:10:2016-11-01T00:00Z:9999999999", "errors:nan:2016-11-01T00:00Z:5",
        "surge:US:10:2016-11-01T00:00Z", "errors:0.5:2016-11-01T00:00Z:5:-1",
    ])
    func badEventSpecificationsAreRejected(spec: String) {
        #expect(InjectedEvent(parsing: spec) == nil)
    }

    @Test("drift moves every country's traffic together, slowly, within its amplitude; none without it")
    func levelDrift() {
        var configuration = GeneratorConfiguration()
        configuration.drift = 0.4
        let drifting = TrafficGenerator(configuration: configuration)
        let plain = TrafficGenerator(configuration: GeneratorConfiguration())
        let start = configuration.start
        let factors = stride(from: 0, to: 30 * 1440, by: 60).map { drifting.driftFactor(minute: start + Int32($0)) }
        #expect(factors.allSatisfy { $0 >= exp(-0.4) - 1e-9 && $0 <= exp(0.4) + 1e-9 })
        // It wanders (over a month it moves by a fair part of its amplitude), an hour at a time by little.
        #expect((factors.max()! / factors.min()!) > exp(0.3))
        #expect(zip(factors, factors.dropFirst()).allSatisfy { abs(log($1 / $0)) < 0.02 })
        #expect(plain.driftFactor(minute: start + 777) == 1)
        // The same factor for every country: their expected requests scale together.
        let minute = start + 9 * 1440 + 600
        let ratios = zip(drifting.expectedRequests(minute: minute), plain.expectedRequests(minute: minute)).map { $0 / $1 }
        #expect(ratios.allSatisfy { abs($0 - drifting.driftFactor(minute: minute)) < 1e-9 })
    }
}
