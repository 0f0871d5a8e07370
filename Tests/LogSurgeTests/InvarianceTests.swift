import Foundation
import LogSurgePipelineTestSupport
import Testing
@_spi(Benchmarks) @testable import LogSurge
import CLogSurgeSystem
import LogSurgeParse
import Synchronization
@testable import LogSurgeCore
@_spi(Pipeline) @testable import LogSurgeAggregate
@testable import LogSurgeGenerate
@testable import LogSurgeReport

/// Output must not depend on how the bytes were cut into chunks or spread over workers.
@Suite struct InvarianceTests {
    static let log = Support.generatedLog(minutes: 90, rate: 300, seed: 42, malformedRate: 0.003)

    /// One file for every run, so that samples (which name their input) compare equal too.
    static let path: String = {
        let path = Support.temporaryDirectory().appendingPathComponent("traffic.log").path
        try! Support.writeFile(path, Data(log))
        return path
    }()

    static let reference = AnalysisPipeline(configuration: Support.configuration(threads: 1)).run(paths: [path])

    @Test(arguments: [1, 2, 3, 8], [1, 7, 4096, 65_536, 2 << 20])
    func bucketsAreIdenticalForEveryThreadCountAndChunkSize(threads: Int, chunkSize: Int) throws {
        let analysis = AnalysisPipeline(configuration: Support.configuration(threads: threads, chunkSize: chunkSize)).run(paths: [Self.path]
        )
        #expect(analysis.buckets.rows() == Self.reference.buckets.rows())
        #expect(analysis.accounting == Self.reference.accounting)  // samples too: merged in chunk order
        #expect(analysis.accounting.isBalanced)
    }

    /// Two minutes of 3,000 distinct clients each (a crowd: the clients' sketch, not the exact
    /// list), some of them busy, the second minute's lines interleaved with the first's.
    static let crowd: (path: String, distinct: Int) = {
        var log = ""
        var firstMinute = Set<Int>()
        for index in 0..<9000 {
            let client = index % 3000 < 2990 ? index % 3000 : 7  // ten slots go to one busy client
            let minute = index % 5 == 0 ? 1 : 0
            if minute == 0 { firstMinute.insert(client) }
            log +=
                "8.\(8 + client / 65536).\(client / 256 % 256).\(client % 256) - - [08/Nov/2016:23:0\(minute):\(10 + index % 40) +0000] "
                + "\"GET /en/immigration.html HTTP/1.1\" 200 \(1000 + index % 77) \"-\" \"Mozilla/5.0\"\n"
        }
        let path = Support.temporaryDirectory().appendingPathComponent("crowd.log").path
        try! Support.writeFile(path, Data(log.utf8))
        return (path, firstMinute.count)
    }()

    @Test("distinct clients beyond the exact limit are the same for every thread count and chunk size")
    func crowdClientsAreIdentical() throws {
        let reference = AnalysisPipeline(configuration: Support.configuration(threads: 1)).run(paths: [Self.crowd.path]).buckets.rows()
        let crowd = try #require(reference.max { $0.clients.distinct < $1.clients.distinct })
        #expect(crowd.counts.requests > 5000)
        #expect(Self.crowd.distinct > ClientTally.exactLimit)
        #expect(abs(Double(crowd.clients.distinct - Self.crowd.distinct)) <= 0.02 * Double(Self.crowd.distinct))
        for (threads, chunkSize) in [(2, 4096), (3, 65_536), (8, 1 << 20), (2, 777)] {
            let rows = AnalysisPipeline(configuration: Support.configuration(threads: threads, chunkSize: chunkSize))
                .run(paths: [Self.crowd.path]).buckets.rows()
            #expect(rows == reference, "\(threads) threads, chunks of \(chunkSize)")
        }
    }

    /// A short log with what a range boundary could get wrong: CR LF and lone CR line ends,
    /// lines over the length limit (one at the very start, one at the end), empty lines, and
    /// no final newline.
    static let awkwardLog: [UInt8] = {
        let limit = 600
        let lines = Support.generatedLog(minutes: 10, rate: 30, seed: 7).split(separator: 0x0A)
        var log = [UInt8](repeating: 0x41, count: limit + 1) + [0x0A]
        for (index, line) in lines.enumerated() {
            switch index % 7 {
            case 0: log += line + [0x0D, 0x0A]
            case 1: log += line + [0x0D]
            case 2: log += [UInt8](repeating: 0x42, count: limit + index % 50) + [0x0A]
            case 3: log += [0x0A]
            default: log += line + [0x0A]
            }
        }
        return log + [UInt8](repeating: 0x43, count: limit * 3) + [0x0A] + Array(lines.last!)
    }()

    @Test(arguments: [1, 7, 300, 4096, 1 << 20])
    func byteRangesOfAPlainFileGiveWhatTheStreamReaderGives(rangeSize: Int) throws {
        let directory = Support.temporaryDirectory()
        let plain = directory.appendingPathComponent("awkward.log").path
        let compressed = directory.appendingPathComponent("awkward.log.gz").path
        try Support.writeFile(plain, Data(Self.awkwardLog))
        try Support.writeFile(compressed, Data(Support.gzip(Self.awkwardLog)))
        func run(_ path: String) -> Analysis {
            Support.analyze([path]) {
                $0.reading.threads = 3
                $0.reading.chunkSize = rangeSize
                $0.reading.minimumRangeSize = 1
                $0.lines.maxLineLength = 600
            }
        }
        let ranges = run(plain), stream = run(compressed)
        #expect(ranges.buckets.rows() == stream.buckets.rows())
        #expect(ranges.accounting.lines == stream.accounting.lines)
        #expect(ranges.accounting.malformed == stream.accounting.malformed)
        #expect(
            ranges.accounting.samples.map { [$0.line] + $0.bytes.map(UInt64.init) }
                == stream.accounting.samples.map { [$0.line] + $0.bytes.map(UInt64.init) })
        // The long lines, and lines a lone CR joined to a long one.
        #expect(ranges.accounting.malformed[.tooLong, default: 0] > 20)
        #expect(ranges.inputs[0].stats?.bytesRead == Int64(Self.awkwardLog.count))
        #expect(ranges.inputs[0].format == stream.inputs[0].format)
        #expect(ranges.accounting.parsed > 50)
    }

    @Test func archivesReadSideBySideGiveTheSameRunForEveryThreadCount() throws {
        // A rotated set: four gzip archives, one of them damaged near its end, and the plain
        // current file; cut at line boundaries, so the whole equals the original log.
        let directory = Support.temporaryDirectory().appendingPathComponent("rotated")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let newlines = Self.log.indices.filter { Self.log[$0] == 0x0A }
        let cuts = [0] + (1..<5).map { newlines[newlines.count * $0 / 5] + 1 } + [Self.log.count]
        for part in 0..<5 {
            let bytes = Array(Self.log[cuts[part]..<cuts[part + 1]])
            let name = part == 4 ? "access.log" : "access.log.\(4 - part)" + (part == 3 ? "" : ".gz")
            var stored = part == 4 || part == 3 ? bytes : Support.gzip(bytes)
            if part == 1 { stored[stored.count - 3] ^= 0xFF }  // a damaged trailer: every line kept, an error
            try Support.writeFile(directory.appendingPathComponent(name).path, Data(stored))
        }
        let runs = [1, 2, 3, 8, 2].map { threads in
            Support.analyze([directory.path]) { $0.reading.threads = threads }
        }
        for run in runs {
            #expect(run.buckets.rows() == Self.reference.buckets.rows())
            #expect(run.accounting.lines == Self.reference.accounting.lines)
            #expect(run.accounting == runs[0].accounting)  // samples too, with their inputs and line numbers
            #expect(run.inputs.map(\.lines) == runs[0].inputs.map(\.lines))
            #expect(run.inputs.map { $0.stats?.bytesRead } == runs[0].inputs.map { $0.stats?.bytesRead })
            #expect(run.inputErrors.map(\.message) == runs[0].inputErrors.map(\.message))
        }
        #expect(runs[0].inputErrors.count == 1)
        #expect(
            runs[0].inputs.map { URL(fileURLWithPath: $0.name).lastPathComponent }
                == ["access.log.4.gz", "access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log"])
        // Two threads read two archives at once; one thread reads one at a time.
        #expect(runs[0].peakInputsReadAtOnce == 1)
        #expect(runs[1].peakInputsReadAtOnce == 2)
    }

    @Test(arguments: [1, 37, 1000])
    func bucketsSpilledToDiskGiveTheSameRun(bucketsInMemory: Int) throws {
        // Spilling runs of sorted buckets and merging them back must change nothing the run
        // reports: rows, their count, the totals, the span, the alerts.
        var configuration = Support.configuration(threads: 2, chunkSize: 65_536)
        configuration.reading.bucketsInMemory = bucketsInMemory
        let spilled = AnalysisPipeline(configuration: configuration).run(paths: [Self.path])
        #expect(spilled.buckets.hasSpilled)
        #expect(!Self.reference.buckets.hasSpilled)
        #expect(spilled.buckets.rows() == Self.reference.buckets.rows())
        #expect(spilled.buckets.count == Self.reference.buckets.count)
        #expect(spilled.buckets.requestsBySite() == Self.reference.buckets.requestsBySite())
        #expect(spilled.buckets.countsByCountry() == Self.reference.buckets.countsByCountry())
        #expect(spilled.buckets.minuteRange == Self.reference.buckets.minuteRange)
        #expect(spilled.alerts == Self.reference.alerts)
        #expect(
            SummaryWriter.json(for: spilled).replacingOccurrences(of: "\"threads\":2", with: "\"threads\":1")
                == SummaryWriter.json(for: Self.reference))
        // Folding spilled buckets into others (as `detect` merges several servers' exports).
        var merged = MinuteBuckets(spillThreshold: 10)
        merged.merge(spilled.buckets)
        merged.merge(Self.reference.buckets)
        #expect(merged.rows().map(\.counts.requests) == Self.reference.buckets.rows().map { 2 * $0.counts.requests })
    }

    @Test func splittingIntoFilesAndGzipMembersKeepsTheBuckets() throws {
        let directory = Support.temporaryDirectory()
        // Cut at line boundaries into three files, the middle one gzip, the last with no final newline.
        let newlines = Self.log.indices.filter { Self.log[$0] == 0x0A }
        let a = newlines[newlines.count / 3] + 1, b = newlines[newlines.count * 2 / 3] + 1
        let parts = [Array(Self.log[..<a]), Support.gzip(Array(Self.log[a..<b])), Array(Self.log[b..<(Self.log.count - 1)])]
        let paths = try parts.enumerated().map { index, bytes in
            let path = directory.appendingPathComponent("part\(index)").path
            try Support.writeFile(path, Data(bytes))
            return path
        }
        let analysis = AnalysisPipeline(configuration: Support.configuration(threads: 2, chunkSize: 10_000)).run(paths: paths)
        #expect(analysis.buckets.rows() == Self.reference.buckets.rows())
        #expect(analysis.accounting.lines == Self.reference.accounting.lines)
        #expect(analysis.accounting.parsed == Self.reference.accounting.parsed)
        #expect(analysis.accounting.malformed == Self.reference.accounting.malformed)
    }

    @Test func mergeBenchmarkMergesWhatThePipelineMerges() throws {
        // The stage benchmark's merge row times `ChunkMergeBenchmark`: its tallies must be the
        // pipeline's (every parsed line once), and merging them the pipeline's buckets.
        var configuration = Support.configuration(threads: 1, chunkSize: 10_000)
        configuration.lines.format = .fixed(.combined)
        let merging = try #require(ChunkMergeBenchmark(path: Self.path, configuration: configuration))
        #expect(merging.readEntries() == Int(Self.reference.accounting.parsed))
        #expect(merging.merge(bucketsInMemory: 50) == Self.reference.buckets.minuteRange?.count)
        #expect(merging.merge() == Self.reference.buckets.minuteRange?.count)
    }

    @Test func bucketRequestsSumToParsed() {
        let rows = Self.reference.buckets.rows()
        #expect(rows.reduce(0) { $0 + $1.counts.requests } == Self.reference.accounting.parsed)
        #expect(Self.reference.accounting.malformedTotal > 0)
        #expect(Self.reference.accounting.isBalanced)
        // Sorted by minute, site, country.
        #expect(
            zip(rows, rows.dropFirst()).allSatisfy { ($0.minute, $0.site, $0.country.rawValue) < ($1.minute, $1.site, $1.country.rawValue) }
        )
    }

    @Test(arguments: [1, 2])
    func aFastReaderWaitsForTheWorkersInsteadOfBuffering(threads: Int) {
        // Handing out byte ranges of a plain file costs nothing beside parsing them: without
        // backpressure the reader would queue every range of the file at once.
        var configuration = Support.configuration(threads: threads, chunkSize: 4096)
        configuration.reading.minimumRangeSize = 4096
        let analysis = AnalysisPipeline(configuration: configuration).run(paths: [Self.path])
        #expect(analysis.chunks > 200)
        #expect(analysis.peakChunksInFlight <= 2 * threads + 2)
        #expect(analysis.peakChunksInFlight >= 1)
    }

    @Test(arguments: [1, 7, 4096, 2 << 20])
    func detectedFormatDoesNotDependOnTheChunkSize(chunkSize: Int) throws {
        // A garbage first line, then vhost_combined: detection must see the same sample
        // whether the first chunk holds one line or thousands.
        var configuration = GeneratorConfiguration()
        configuration.layout = .builtin(.vhostCombined)
        configuration.minutes = 10
        configuration.peakRate = 100
        configuration.malformedRate = 0
        var generator = TrafficGenerator(configuration: configuration)
        var log = Array("this is garbage\n".utf8)
        for minute in configuration.start..<(configuration.start + 10) { generator.appendLines(minute: minute, to: &log) }
        let path = Support.temporaryDirectory().appendingPathComponent("vhost.log").path
        try Support.writeFile(path, Data(log))
        let analysis = AnalysisPipeline(configuration: Support.configuration(threads: 2, chunkSize: chunkSize)).run(paths: [path])
        #expect(analysis.inputs.first?.format == .vhostCombined)
        #expect(analysis.inputs.first?.formatChoice == .detected)
        #expect(analysis.accounting.malformedTotal == 1)
        #expect(analysis.accounting.parsed > 100)
    }

    /// 70,000 distinct hosts, then the first 1,000 again: more sites than a run keeps by name.
    static let manySitesPath: String = {
        var log: [UInt8] = []
        func line(_ host: Int, minute: Int) {
            log += Array("h\(host) 8.8.8.8 - - [09/Nov/2016:02:\(30 + minute):00 +0000] \"GET / HTTP/1.1\" 200 10\n".utf8)
        }
        for host in 0..<70_000 { line(host, minute: 1) }
        for host in 0..<1_000 { line(host, minute: 2) }
        let path = Support.temporaryDirectory().appendingPathComponent("hosts.log").path
        try! Support.writeFile(path, Data(log))
        return path
    }()

    @Test(arguments: [(1, 1 << 20), (2, 4096), (3, 65_536), (8, 100_000)])
    func sitesBeyondTheLimitFoldTheSameWayForEveryThreadCount(threads: Int, chunkSize: Int) {
        var configuration = Support.configuration(threads: threads, chunkSize: chunkSize)
        configuration.lines.format = .fixed(.vhostCommon)
        let rows = AnalysisPipeline(configuration: configuration).run(paths: [Self.manySitesPath]).buckets.rows()
        let overflow = rows.filter { $0.site == MinuteBuckets.overflowSite }
        // When the 65,535th site comes, the quietest half of the 65,534 (one request each: the
        // last by name) fold into ~other; the later sites and those seen again keep their names.
        #expect(overflow.map(\.counts.requests) == [UInt64(65_534 / 2)])
        #expect(overflow.first.map { UTCMinute.format($0.minute) } == "2016-11-09T02:31Z")
        #expect(rows.filter { UTCMinute.format($0.minute) == "2016-11-09T02:32Z" }.count == 1_000)
        #expect(rows.reduce(0) { $0 + $1.counts.requests } == 71_000)
    }
}

@Test("a worker thread yields to the reader by a fixed step, however often it is reused")
func workerPriorityDoesNotAccumulate() {
    let observed = Mutex<[Int32]>([])
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        for _ in 0..<3 {
            _ = logsurge_lower_thread_priority(3)
            observed.withLock { $0.append(logsurge_thread_nice_above_process()) }
        }
        done.signal()
    }
    thread.start()
    done.wait()
    #expect(observed.withLock { $0 } == [3, 3, 3])
}
