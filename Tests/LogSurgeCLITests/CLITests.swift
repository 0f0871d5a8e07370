import Foundation
import LogSurgeCore
import LogSurgeInput
import LogSurgePipelineTestSupport
import LogSurgeTestSupport
import Testing

/// The contract's exit statuses and streams, checked on the built executable.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct CLITests {
    @Test func readsStandardInputByDefault() throws {
        let log = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Support.fixture("combined.log"))))
        let result = try Support.run(["--buckets", "-", "--quiet"], stdin: log)
        #expect(result.status == 0)
        #expect(result.stdout == (try String(contentsOfFile: Support.fixture("combined.buckets.csv"), encoding: .utf8)))
        #expect(result.stderr.isEmpty)
    }

    @Test func reportGoesToStandardErrorWhenAnOutputTakesStandardOutput() throws {
        let result = try Support.run(["analyze", "--summary", "-", Support.fixture("combined.log")])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("{\"files\":1,"))
        #expect(result.stderr.contains("Top countries"))
    }

    @Test func missingInputExitsWithOneAfterReportingTheRest() throws {
        let result = try Support.run(["--buckets", "-", "--quiet", "/nonexistent.log", Support.fixture("combined.log")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent.log"))
        #expect(result.stdout.contains("2016-11-09T04:59Z,-,US,2"))
    }

    @Test(arguments: [
        ["--threads", "0"], ["--format", "apache-custom"], ["--no-such-option"],
        ["--geoip", "/nonexistent.mmdb"], ["--buckets", "/nonexistent-dir/x.csv"],
        ["--section", "noequals"], ["--inflate", "libdeflate"], ["--watch-country", "USA"],
    ])
    func usageErrorsExitWithTwoBeforeReadingInput(arguments: [String]) throws {
        // Standard input is a valid log: a usage error must stop before it is read.
        let result = try Support.run(arguments + ["--quiet"], stdin: Array("garbage\n".utf8))
        #expect(result.status == 2)
        #expect(!result.stderr.isEmpty)
    }

    @Test(.enabled(if: Inflater.isalUnavailableReason == nil, "ISA-L is not available here"))
    func bothInflatersGiveTheSameOutputsOnGoodAndDamagedArchives() throws {
        // Two members, then a member whose deflate data is damaged halfway.
        let log = Support.generatedLog(minutes: 90, rate: 40, seed: 8)
        let third = log.count / 3
        var damaged = Support.gzip(Array(log[(2 * third)...]))
        damaged[damaged.count / 2] ^= 0x5A
        let path = Support.temporaryDirectory().appendingPathComponent("rotated.log.2.gz").path
        try Support.writeFile(path, Data(Support.gzip(Array(log[..<third])) + Support.gzip(Array(log[third..<(2 * third)])) + damaged))
        var outputs: [String] = []
        for inflater in ["zlib", "isal"] {
            let result = try Support.run(["--inflate", inflater, "--buckets", "-", "--summary", "/dev/stderr", "--quiet", path])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\"inflate\":\"\(inflater)\""))
            #expect(result.stderr.contains("gzip data damaged"))
            outputs.append(result.stdout + result.stderr.replacingOccurrences(of: "\"inflate\":\"\(inflater)\"", with: ""))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0].split(separator: "\n").count > 100)
    }

    @Test(.enabled(if: Inflater.isalUnavailableReason == nil, "ISA-L is not available here"))
    func gzipFromAPipeIsInflatedWithZlibAndTheReportSaysSo() throws {
        let log = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Support.fixture("combined.log"))))
        let piped = try Support.run(["--inflate", "isal", "--summary", "-", "-"], stdin: Support.gzip(log))
        #expect(piped.status == 0)
        #expect(piped.stdout.contains("\"inflate\":\"isal\""))  // what was asked
        #expect(piped.stdout.contains("\"compression\":\"gzip\",\"inflate\":\"zlib\""))  // what read the pipe
        #expect(piped.stderr.contains("gzip inflated with zlib"))
    }

    @Test func withoutISALAutoFallsBackToZlibAndAskingForItIsAUsageError() throws {
        let log = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Support.fixture("combined.log"))))
        let path = Support.temporaryDirectory().appendingPathComponent("combined.log.gz").path
        try Support.writeFile(path, Data(Support.gzip(log)))
        let missing = ["LOGSURGE_ISAL_LIBRARY": "/nonexistent/libisal.so.2"]
        let auto = try Support.run(["--summary", "-", "--quiet", path], environment: missing)
        #expect(auto.status == 0)
        #expect(auto.stdout.contains("\"inflate\":\"zlib\""))
        let forced = try Support.run(["--inflate", "isal", "--quiet", path], environment: missing)
        #expect(forced.status == 2)
        #expect(forced.stderr.contains("ISA-L cannot be used here"))
    }

    @Test(
        "a database without country data (ASN) is refused before reading, by analyze and geoip",
        .enabled(if: sharedPath("mmdb-conformance") != nil, "needs ../shared/mmdb-conformance"))
    func databaseWithoutCountries() throws {
        let asn = sharedPath("mmdb-conformance")! + "/test-data/GeoLite2-ASN-Test.mmdb"
        for arguments in [["--geoip", asn, "--quiet", Support.fixture("combined.log")], ["geoip", "--db", asn, "8.8.8.8"]] {
            let result = try Support.run(arguments)
            #expect(result.status == 2)
            #expect(result.stderr.contains("holds no country data (database type 'GeoLite2-ASN')"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("lines ended by CR alone (old Mac), more than a line's limit of them: every line read, plain, gzip or piped")
    func carriageReturnLines() throws {
        let lines = (0..<20_000).map { index in
            "8.8.\(index % 200).\(index % 250 + 1) - - [09/Nov/2016:02:\(10 + index / 1000):\(10 + index % 50) +0000] \"GET /p/\(index) HTTP/1.1\" 200 \(index) \"-\" \"ua\""
        }
        let text = Array((lines.joined(separator: "\r") + "\r").utf8)
        #expect(text.count > 1 << 20)
        let directory = Support.temporaryDirectory()
        let plain = directory.appendingPathComponent("cr.log").path
        try Support.writeFile(plain, Data(text))
        let gzipped = directory.appendingPathComponent("cr.log.gz").path
        try Support.writeFile(gzipped, Data(Support.gzip(text)))
        for (arguments, stdin) in [([plain], [UInt8]()), ([gzipped], []), (["-"], text)] {
            let result = try Support.run(["--quiet", "--summary", "-"] + arguments, stdin: stdin)
            let summary = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(summary["parsed"] as? Int == 20_000, "\(arguments)")
            #expect(summary["lines"] as? Int == 20_000, "\(arguments)")
        }
    }

    @Test("more sites than a run keeps apart: the quietest fold into ~other, the busiest stay, and the fold is a warning")
    func sitesFolded() throws {
        // A scanner's random Host headers first (65,600 distinct sites, one request each), then
        // the server's real site: first come, it would have been lost under ~other.
        var text = ""
        for index in 0..<65_600 {
            text += "h\(index).example:80 8.8.8.8 - - [09/Nov/2016:02:30:00 +0000] \"GET / HTTP/1.1\" 404 0 \"-\" \"scan\"\n"
        }
        for _ in 0..<100 {
            text += "www.example:80 8.8.4.4 - - [09/Nov/2016:02:31:00 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"browser\"\n"
        }
        let buckets = Support.temporaryDirectory().appendingPathComponent("buckets.csv").path
        let result = try Support.run(
            ["--quiet", "--format", "vhost_combined", "--summary", "-", "--buckets", buckets, "-"],
            stdin: Array(text.utf8))
        let summary = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let warnings = try #require(summary["warnings"] as? [[String: Any]])
        let folded = try #require(warnings.first { $0["code"] as? String == "sites_folded" })
        let message = try #require(folded["message"] as? String)
        // Each fold takes the quietest half: the requests under ~other are those of the sites folded.
        let sites = try #require(Int(message.split(separator: "quietest ")[1].split(separator: " ")[0]))
        #expect(message.contains("(\(sites) requests)"), "\(message)")
        #expect(sites >= 66 && sites <= 65_600, "\(message)")
        let rows = try String(contentsOfFile: buckets, encoding: .utf8)
        #expect(rows.contains("2016-11-09T02:31Z,www.example,US,100,100,"), "the busy site kept apart")
        #expect(summary["requests"] as? Int == 65_700)
        #expect(result.stderr.contains("sites_folded"))
    }

    @Test func corruptGeoIPDatabaseIsAUsageError() throws {
        let path = Support.temporaryDirectory().appendingPathComponent("bad.mmdb").path
        try Support.writeFile(path, Data("not a database".utf8))
        let result = try Support.run(["--geoip", path, Support.fixture("combined.log")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("bad.mmdb"))
    }

    @Test func geoipPrintsCountriesAndFlagsInvalidAddresses() throws {
        let result = try Support.run(["geoip", "8.8.8.8", "::ffff:8.8.8.8", "10.1.2.3", "not-an-ip"])
        #expect(result.status == 1)
        #expect(result.stdout == "8.8.8.8\tUS\n::ffff:8.8.8.8\tUS\n10.1.2.3\t--\nnot-an-ip\tinvalid\n")
        let piped = try Support.run(["geoip"], stdin: Array("8.8.8.8\n2001:4860:4860::8888\n".utf8))
        #expect(piped.status == 0)
        #expect(piped.stdout == "8.8.8.8\tUS\n2001:4860:4860::8888\tUS\n")
    }

    @Test("geoip reads standard input a line at a time with bounded memory: a huge line is one invalid answer")
    func geoipHugeLine() throws {
        // 64 MB without a newline, under a 64 MB data limit: held whole, it could not be read.
        let huge = [UInt8](repeating: 0x61, count: 64 << 20)
        let result = try Support.run(
            ["geoip"], stdin: Array("8.8.8.8\r\n".utf8) + huge + Array("\n1.1.1.1".utf8),
            shell: "ulimit -d 65536 && exec \"$0\" \"$@\"")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout == "8.8.8.8\tUS\n" + String(repeating: "a", count: 64) + "…\tinvalid\n1.1.1.1\tAU\n")
    }

    @Test func closedPipeEndsQuietly() throws {
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["generate", "--days", "2", "--rate", "200"]
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        _ = output.fileHandleForReading.readData(ofLength: 1000)
        try output.fileHandleForReading.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(error.fileHandleForReading.readDataToEndOfFile().isEmpty)
    }

    @Test(arguments: [(["--quiet", "/nonexistent.log"], Int32(1)), (["--bogus"], Int32(2))])
    func closedStandardErrorDoesNotCrash(arguments: [String], status: Int32) throws {
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = arguments
        let error = Pipe()
        try error.fileHandleForReading.close()  // whatever is written to standard error fails with EPIPE
        process.standardError = error
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == status)
    }

    @Test func versionNamesTheDatabaseAndItsAttribution() throws {
        let result = try Support.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("logsurge "))
        #expect(result.stdout.contains("CC BY-SA 4.0"))
        #expect(result.stdout.contains("IPFire"))
    }
}

/// Detection through the command line: generated traffic with known events in, episodes out.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct DetectionCLITests {
    static let generated: (log: String, labels: String) = {
        let directory = Support.temporaryDirectory()
        let log = directory.appendingPathComponent("site.log.gz").path
        let labels = directory.appendingPathComponent("truth.jsonl").path
        let result = try! Support.run([
            "generate", "--days", "2", "--rate", "150", "--seed", "5", "--gzip", "--output", log,
            "--event", "surge:US:20:2016-11-02T03:00Z:60:5",
            "--event", "errors:0.4:2016-11-02T16:00Z:8", "--labels", labels,
        ])
        precondition(result.status == 0, result.stderr)
        return (log, labels)
    }()

    @Test("a pipe fed out of time order (newest archive first) says so: warning late_lines, with the fix")
    func outOfOrderPipeIsAWarning() throws {
        // The surge log's last hour, then its first two: the first two hours come late.
        let text = String(decoding: Support.surgeLog, as: UTF8.self)
        let cut = text.range(of: "08/Nov/2016:17:00:")!.lowerBound
        let lineStart = text[..<cut].lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex
        let reordered = String(text[lineStart...]) + String(text[..<lineStart])
        let result = try Support.run(["--summary", "-", "-"], stdin: Array(reordered.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"code\":\"late_lines\""), "\(result.stdout)")
        #expect(result.stderr.contains("give the files or their directory as arguments"), "\(result.stderr)")
        // In time order, no such warning.
        let ordered = try Support.run(["--summary", "-", "-"], stdin: Support.surgeLog)
        #expect(!ordered.stdout.contains("\"code\":\"late_lines\""))
    }

    @Test("detect reads JSON-lines buckets as it reads CSV ones, and says on standard error what it read and raised")
    func detectReadsJSONLinesBuckets() throws {
        let directory = Support.temporaryDirectory().path
        for name in ["b.csv", "b.jsonl"] {
            let written = try Support.run(["--quiet", "--buckets", directory + "/" + name, Support.surgeLogPath])
            try #require(written.status == 0, "\(written.stderr)")
        }
        let csv = try Support.run(["detect", "--alerts", directory + "/csv.alerts", directory + "/b.csv"])
        let jsonl = try Support.run(["detect", "--alerts", directory + "/jsonl.alerts", directory + "/b.jsonl"])
        #expect(csv.status == 0 && jsonl.status == 0, "\(csv.stderr)\(jsonl.stderr)")
        let fromCSV = try String(contentsOfFile: directory + "/csv.alerts", encoding: .utf8)
        #expect(fromCSV.contains("\"kind\":\"surge\""))
        #expect(try String(contentsOfFile: directory + "/jsonl.alerts", encoding: .utf8) == fromCSV)
        // The summary: what was read and what came of it.
        #expect(jsonl.stderr.contains("Read 1 file: ") && jsonl.stderr.contains("Alerts: 1 episode (1 surge)"), "\(jsonl.stderr)")
        // A JSON line that is not a bucket is left out and counted.
        try Data(
            ("{\"minute\":\"2016-11-08T20:00Z\",\"site\":\"-\"}\n" + String(contentsOfFile: directory + "/b.jsonl", encoding: .utf8)).utf8
        )
        .write(to: URL(fileURLWithPath: directory + "/bad.jsonl"))
        let bad = try Support.run(["detect", "--alerts", directory + "/bad.alerts", directory + "/bad.jsonl"])
        #expect(bad.status == 0 && bad.stderr.contains("1 line was not read"), "\(bad.stderr)")
    }

    @Test func labelsNameTheTrafficsShapeWhenItIsNotPlain() throws {
        let directory = Support.temporaryDirectory().path
        let result = try Support.run([
            "generate", "--minutes", "30", "--rate", "20", "--dispersion", "0.05", "--drift", "0.3", "--behind", "cdn",
            "--labels", directory + "/labels.jsonl", "--output", directory + "/x.log",
            "--event", "crawler:US:50:2016-11-01T00:10Z:5",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: directory + "/labels.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("\"kind\":\"crawler\""))
        #expect(
            lines.last
                == #"{"kind":"traffic","start":"2016-11-01T00:00Z","end":"2016-11-01T00:29Z","rate":20.0,"dispersion":0.05,"drift":0.3,"behind":"cdn"}"#
        )
    }

    @Test func labelsNameEachInjectedEvent() throws {
        let lines = try String(contentsOfFile: Self.generated.labels, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let surge = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(surge["kind"] as? String == "surge")
        #expect(surge["start"] as? String == "2016-11-02T03:00Z")
        #expect(surge["end"] as? String == "2016-11-02T04:09Z")
    }

    @Test func alertsAreWrittenAsTheContractSaysAndFailOnAlertExitsThree() throws {
        let result = try Support.run(["--alerts", "-", "--summary", "/dev/null", "--fail-on-alert", Self.generated.log])
        #expect(result.status == 3)
        #expect(result.stderr.contains("Alerts: 2 episodes"))  // the report moved to standard error
        let events = try result.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(events.map { $0["state"] as? String } == ["open", "closed", "open", "closed"])
        let surge = events[0], spike = events[2]
        #expect(surge["kind"] as? String == "surge")
        #expect(surge["country"] as? String == "US")
        #expect(
            Set(surge.keys).isSuperset(of: [
                "id", "state", "kind", "site", "country", "start", "raised_at", "end",
                "peak_minute", "peak_requests", "baseline_requests", "ratio",
            ]))
        #expect(surge["end"] is NSNull)
        #expect((surge["raised_at"] as? String).map { $0 >= "2016-11-02T03:00Z" && $0 <= "2016-11-02T03:10Z" } == true)
        #expect(spike["kind"] as? String == "error_spike")
        #expect(spike["country"] is NSNull)
        #expect(Set(spike.keys).isSuperset(of: ["peak_error_rate", "baseline_error_rate", "peak_requests"]))
        #expect((spike["raised_at"] as? String).map { $0 >= "2016-11-02T16:00Z" && $0 <= "2016-11-02T16:02Z" } == true)
        #expect(events[3]["end"] as? String != nil)
    }

    @Test func withoutFailOnAlertTheStatusStaysZeroAndTheSummaryCountsEpisodes() throws {
        let result = try Support.run(["--quiet", "--summary", "-", Self.generated.log])
        #expect(result.status == 0)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["alerts"] as? Int == 2)
    }

    @Test func watchingEveryCountryFindsTheUSSurgeByItsShare() throws {
        let result = try Support.run(["--alerts", "-", "--watch-country", "all", Self.generated.log])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"kind\":\"surge\",\"site\":\"-\",\"country\":\"US\""), "\(result.stdout)")
        #expect(result.stderr.contains("watching every country for surges"), "\(result.stderr)")
        let wrong = try Support.run(["--quiet", "--watch-country", "USA", Self.generated.log])
        #expect(wrong.status == 2 && wrong.stderr.contains("neither a two-letter country code nor 'all'"), "\(wrong.stderr)")
    }

    @Test func watchingAnotherCountryFindsNoUSSurge() throws {
        let result = try Support.run(["--quiet", "--alerts", "-", "--watch-country", "CA", Self.generated.log])
        #expect(result.status == 0)
        #expect(!result.stdout.contains("\"kind\":\"surge\""))
        #expect(result.stdout.contains("\"kind\":\"error_spike\""))
    }
}

/// `logsurge detect` on exported buckets and on plain series.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct DetectCommandCLITests {
    /// Alert lines without `top_client_share`, which a bucket file cannot give.
    static func withoutBusiest(_ lines: String) -> String {
        lines.replacing(/,"top_client_share":[0-9.enull]+/, with: "")
    }

    /// … and without `clients`, which bucket files of several servers over-count.
    static func withoutClients(_ lines: String) -> String {
        withoutBusiest(lines).replacing(/,"clients":[0-9null]+/, with: "")
    }

    @Test func detectOnExportedBucketsGivesTheAlertsOfAnalyze() throws {
        let directory = Support.temporaryDirectory()
        let buckets = directory.appendingPathComponent("b.csv").path
        let analyzed = try Support.run(["--quiet", "--alerts", "-", "--buckets", buckets, DetectionCLITests.generated.log])
        let detected = try Support.run(["detect", buckets])
        #expect(detected.status == 0)
        #expect(!analyzed.stdout.isEmpty)
        // A bucket file counts each minute's clients, not its busiest client's requests: the
        // same episodes, with `top_client_share` not known.
        #expect(Self.withoutBusiest(detected.stdout) == Self.withoutBusiest(analyzed.stdout))
        #expect(detected.stdout.contains("\"top_client_share\":null") && !analyzed.stdout.contains("\"top_client_share\":null"))
    }

    @Test("detect reads a line at a time: a 64 MB line is one line left out, within a 64 MB data limit")
    func detectHugeLine() throws {
        let directory = Support.temporaryDirectory()
        let buckets = directory.appendingPathComponent("b.csv").path
        let analyzed = try Support.run(["--quiet", "--alerts", "-", "--buckets", buckets, DetectionCLITests.generated.log])
        var text = try String(contentsOfFile: buckets, encoding: .utf8)
        // A line of 64 MB after the header.
        let header = text.firstIndex(of: "\n")!
        text.insert(contentsOf: "\n" + String(repeating: "9", count: 64 << 20), at: header)
        let damaged = directory.appendingPathComponent("huge.csv").path
        try text.write(toFile: damaged, atomically: false, encoding: .utf8)
        let detected = try Support.run(["detect", damaged], shell: "ulimit -d 131072 && exec \"$0\" \"$@\"")
        #expect(detected.status == 0, "\(detected.stderr)")
        #expect(Self.withoutBusiest(detected.stdout) == Self.withoutBusiest(analyzed.stdout))
        #expect(detected.stderr.contains("1 line was not read"), "\(detected.stderr)")
    }

    @Test func bucketsOfSeveralServersMergeIntoFleetWideEpisodes() throws {
        // Split one site's log line by line over two "servers": each sees half the traffic.
        let directory = Support.temporaryDirectory()
        let whole = try Support.run(["--quiet", "--alerts", "-", DetectionCLITests.generated.log])
        let plain = try Support.run([
            "generate", "--days", "2", "--rate", "150", "--seed", "5",
            "--event", "surge:US:20:2016-11-02T03:00Z:60:5", "--event", "errors:0.4:2016-11-02T16:00Z:8",
        ])
        var halves = ["", ""]
        for (index, line) in plain.stdout.split(separator: "\n").enumerated() { halves[index % 2] += line + "\n" }
        var exports: [String] = []
        for (index, half) in halves.enumerated() {
            let log = directory.appendingPathComponent("web\(index).log").path
            let export = directory.appendingPathComponent("web\(index).csv").path
            try Support.writeFile(log, Data(half.utf8))
            #expect(try Support.run(["--quiet", "--buckets", export, log]).status == 0)
            exports.append(export)
        }
        let fleet = try Support.run(["detect"] + exports)
        #expect(fleet.status == 0)
        // The same episodes; a client seen by both servers counts once in the whole log and
        // once in each export (their `clients` add up).
        #expect(Self.withoutClients(fleet.stdout) == Self.withoutClients(whole.stdout))
    }

    @Test func plainSeriesAtThirtyMinutes() throws {
        // A week of half-hourly values with a daily rhythm and one block at ten times the usual.
        var text = "timestamp,value\n"
        let start = UTCMinute.parse("2016-11-01T00:00Z")!
        var random = SeededGenerator(seed: 4)
        for step in 0..<(7 * 48) {
            let minute = start + Int32(step * 30)
            let hour = Double(step % 48) / 2
            var value = 300 + 250 * sin((hour - 9) / 24 * 2 * .pi) + Double(random.next() % 40)
            if step >= 6 * 48 + 10 && step < 6 * 48 + 14 { value *= 10 }
            text +=
                "\(UTCMinute.format(minute).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: ":00")),\(Int(value))\n"
        }
        let path = Support.temporaryDirectory().appendingPathComponent("visits.csv").path
        try Support.writeFile(path, Data(text.utf8))
        let result = try Support.run(["detect", "--fail-on-alert", path])
        #expect(result.status == 3)
        let events = result.stdout.split(separator: "\n")
        #expect(events.count == 2)
        #expect(
            events.first?.contains(
                "\"site\":\"visits\",\"country\":null,\"start\":\"2016-11-07T05:00Z\",\"raised_at\":\"2016-11-07T05:29Z\"") == true)
    }

    @Test func unreadableFileIsReportedAndTheRestStillDetected() throws {
        let result = try Support.run(["detect", "/nonexistent.csv", Support.fixture("combined.buckets.csv")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent.csv"))
    }
}
