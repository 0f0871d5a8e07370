import Foundation
import LogSurgePipelineTestSupport
import Testing

/// `--metrics` end to end: the built executable on logs with hostile site names.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct MetricsCLITests {
    /// Sites from the vhost field (printable ASCII without a quote, as the parser takes it) and
    /// one from `--site`, which can hold anything: quote, backslash, line feed.
    static let hosts = [
        "www.example", "www.example", "www.example", "www.example", "back\\slash", "back\\slash", "back\\slash",
        "trail\\", "trail\\", "{a=b,c}#HELP", "other", "n\\n",
    ]
    static let hostileSite = "quote\"back\\slash\nline"

    /// Two inputs: a vhost_combined log whose hosts are `hosts`, and a combined one for `--site`.
    static func writeLogs(in directory: String) throws -> [String] {
        let log = Support.generatedLog(minutes: 240, rate: 40, seed: 21)
        let lines = log.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast()
        var vhost: [UInt8] = [], plain: [UInt8] = []
        for (index, line) in lines.enumerated() {
            if index % 5 == 4 {
                plain += line + [0x0A]
            } else {
                vhost += Array("\(hosts[index % hosts.count]):443 ".utf8) + line + [0x0A]
            }
        }
        let paths = [directory + "/vhosts.log", directory + "/plain.log"]
        try Support.writeFile(paths[0], Data(vhost))
        try Support.writeFile(paths[1], Data(plain))
        return paths
    }

    /// What `requests_total` must say, worked out from the buckets alone: the busiest `sites`
    /// sites (ties by name), on each the busiest `countries` countries besides the US, the rest "other".
    static func expectedRequests(buckets path: String, sites: Int, countries: Int) throws -> [[String: String]: Double] {
        var bySite: [String: [String: [String: Double]]] = [:]  // site → country → class → count
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let (site, country) = (row["site"] as! String, row["country"] as! String)
            let classes = ["2xx", "3xx", "4xx", "5xx"].map { ($0, Double(row["status_\($0)"] as! Int)) }
            var counts = bySite[site, default: [:]][country, default: [:]]
            for (name, count) in classes { counts[name, default: 0] += count }
            counts["other", default: 0] += Double(row["requests"] as! Int) - classes.reduce(0) { $0 + $1.1 }
            counts["requests", default: 0] += Double(row["requests"] as! Int)
            bySite[site, default: [:]][country] = counts
        }
        func busiest(_ totals: [String: Double], _ limit: Int) -> Set<String> {
            Set(
                totals.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                    .prefix(limit).map(\.key))
        }
        let keptSites = busiest(bySite.mapValues { $0.values.reduce(0) { $0 + $1["requests"]! } }, sites)
        var folded: [String: [String: [String: Double]]] = [:]
        for (site, byCountry) in bySite {
            let label = keptSites.contains(site) ? site : "other"
            for (country, counts) in byCountry {
                folded[label, default: [:]][country, default: [:]].merge(counts, uniquingKeysWith: +)
            }
        }
        var expected: [[String: String]: Double] = [:]
        for (site, byCountry) in folded {
            let kept = busiest(byCountry.filter { $0.key != "US" }.mapValues { $0["requests"]! }, countries)
            for statusClass in ["2xx", "3xx", "4xx", "5xx", "other"] {
                expected[["site": site, "country": "US", "status_class": statusClass]] = 0
            }
            for (country, counts) in byCountry {
                let label = country == "US" || kept.contains(country) ? country : "other"
                for statusClass in ["2xx", "3xx", "4xx", "5xx", "other"] {
                    expected[["site": site, "country": label, "status_class": statusClass], default: 0] += counts[statusClass]!
                }
            }
        }
        return expected
    }

    private func summary(_ path: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test("--metrics counts exactly what the buckets and the summary count, capped and escaped, written atomically")
    func metricsAgreeWithBucketsAndSummary() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logs = try Self.writeLogs(in: directory)
        let out = directory + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let result = try Support.run(
            [
                "--quiet", "--site", Self.hostileSite, "--metrics", out + "/logsurge.prom",
                "--metrics-sites", "3", "--metrics-countries", "4",
                "--buckets", out + "/buckets.jsonl", "--summary", out + "/summary.json",
            ] + logs)
        #expect(result.status == 0, "\(result.stderr)")
        // Atomic: written under a temporary name and renamed; nothing else left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["buckets.jsonl", "logsurge.prom", "summary.json"])

        let text = try String(contentsOfFile: out + "/logsurge.prom", encoding: .utf8)
        let metrics = try Exposition(text)
        let run = try summary(out + "/summary.json")
        let requests = metrics.series("logsurge_requests_total")
        #expect(requests == (try Self.expectedRequests(buckets: out + "/buckets.jsonl", sites: 3, countries: 4)))
        // The invariants.
        #expect(metrics.total("logsurge_requests_total") == Double(run["parsed"] as! Int))
        #expect(metrics.total("logsurge_lines_total") == Double(run["lines"] as! Int))
        let lines = metrics.series("logsurge_lines_total")
        #expect(lines[["result": "parsed"]] == Double(run["parsed"] as! Int))
        for (reason, count) in run["malformed"] as! [String: Int] {
            #expect(lines[["result": reason]] == Double(count), "\(reason)")
        }
        #expect(lines.count == (run["malformed"] as! [String: Int]).count + 1)
        // The caps: three sites and "other"; on each, four countries, the US and "other".
        let sites = Set(requests.keys.map { $0["site"]! })
        #expect(sites.count == 4 && sites.contains("other"))
        for site in sites {
            #expect(Set(requests.keys.filter { $0["site"] == site }.map { $0["country"]! }).count <= 6, "\(site)")
        }
        // Escaping: the hostile names come back whole, and raw as the format wants them.
        #expect(sites.contains(Self.hostileSite))
        #expect(sites.contains("back\\slash"))
        #expect(text.contains("site=\"quote\\\"back\\\\slash\\nline\""))
        #expect(text.contains("site=\"back\\\\slash\""))
        #expect(!text.contains("\nline\""))
        // Every family is typed and documented; series come sorted, so files diff cleanly.
        for name in Set(metrics.samples.map(\.name)) {
            #expect(metrics.types[name] != nil && metrics.helps[name] != nil, "\(name)")
        }
        #expect(metrics.samples.map(\.name) == metrics.samples.map(\.name).sorted())
        let order = metrics.samples.filter { $0.name == "logsurge_requests_total" }.map { [$0.labels["site"]!, $0.labels["country"]!] }
        #expect(order == order.sorted { $0.joined(separator: "\u{0}").utf8.lexicographicallyPrecedes($1.joined(separator: "\u{0}").utf8) })

        // The same run again gives the same bytes.
        let again = try Support.run(
            [
                "--quiet", "--site", Self.hostileSite, "--metrics", "-", "--metrics-sites", "3",
                "--metrics-countries", "4", "--threads", "1",
            ] + logs)
        #expect(again.stdout == text)
    }

    @Test("--metrics - writes to standard output, and the report goes to standard error")
    func metricsToStandardOutput() throws {
        let result = try Support.run(["--metrics", "-", Support.fixture("combined.log")])
        #expect(result.status == 0)
        let metrics = try Exposition(result.stdout)
        #expect(metrics.total("logsurge_requests_total") > 0)
        #expect(result.stderr.contains("Top countries"))
        for clash in [["--buckets", "-"], ["--summary", "-"], ["--alerts", "-"]] {
            let both = try Support.run(["--quiet", "--metrics", "-"] + clash + [Support.fixture("combined.log")])
            #expect(both.status == 2, "\(clash)")
            #expect(both.stderr.contains("only one output"), "\(clash)")
        }
        let unwritable = try Support.run(["--quiet", "--metrics", "/nonexistent-dir/m.prom"], stdin: Array("x\n".utf8))
        #expect(unwritable.status == 2)
        #expect(unwritable.stderr.contains("/nonexistent-dir/m.prom"))
    }

    @Test(.enabled(if: Promtool.path != nil, "promtool is not installed (Debian: apt-get install prometheus)"))
    func promtoolAcceptsTheFile() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logs = try Self.writeLogs(in: directory)
        let result = try Support.run(["--quiet", "--site", Self.hostileSite, "--metrics", "-", "--metrics-sites", "3"] + logs)
        #expect(result.status == 0)
        let checked = try Promtool.checkMetrics(result.stdout)
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.isEmpty, "\(checked.output)")
    }

    @Test("reading a pipe that goes on, the file is rewritten as the run goes, and once more at the end")
    func rewrittenWhileAStreamGoes() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/logsurge.prom"
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["--quiet", "--metrics", path, "--metrics-interval", "0.1", "--summary", directory + "/summary.json", "-"]
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        Support.ignoreBrokenPipes()
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        func metrics() -> Exposition? {
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? Exposition($0) }
        }
        // The log of a US surge at minute 120 of 180: first up to minute 135, while it is going on.
        let log = Support.surgeLog
        let lines = log.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map { $0 + [0x0A] }
        let cut = lines.firstIndex { String(decoding: $0, as: UTF8.self).contains("08/Nov/2016:17:15:") }!
        try input.fileHandleForWriting.write(contentsOf: Data(lines[..<cut].joined()))
        #expect(Support.eventually { metrics()?.total("logsurge_lines_total") == Double(cut) })
        let during = try #require(metrics())
        // Each rewrite is a new file renamed into place (a new inode), never the old one rewritten:
        // a reader (node_exporter) sees the whole of one or the whole of the next.
        func inode() -> UInt64? { (try? FileManager.default.attributesOfItem(atPath: path))?[.systemFileNumber] as? UInt64 }
        let firstInode = inode()
        #expect(firstInode != nil)
        #expect(Support.eventually { inode() != firstInode })
        #expect(during.series("logsurge_alert_active")[["kind": "surge", "site": "-", "country": "US"]] == 1)
        #expect(during.series("logsurge_alerts_total")[["kind": "surge"]] == 1)
        #expect(during.total("logsurge_requests_total") == during.series("logsurge_lines_total")[["result": "parsed"]])

        try input.fileHandleForWriting.write(contentsOf: Data(lines[cut...].joined()))
        #expect(Support.eventually { metrics()?.total("logsurge_lines_total") == Double(lines.count) })
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let final = try #require(metrics())
        let run = try summary(directory + "/summary.json")
        #expect(final.total("logsurge_lines_total") == Double(run["lines"] as! Int))
        #expect(final.total("logsurge_requests_total") == Double(run["parsed"] as! Int))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["logsurge.prom", "summary.json"])
        try? input.fileHandleForWriting.close()
    }
}

extension MetricsCLITests {
    @Test("following a file, the metrics follow it too; SIGINT writes them once more")
    func rewrittenWhileFollowing() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/access.log", path = directory + "/logsurge.prom"
        // Whole lines only (the fixture's last line has no line feed, and a followed file's
        // unfinished line waits for the rest).
        let fixture = try Data(contentsOf: URL(fileURLWithPath: Support.fixture("combined.log"))) + [0x0A]
        let fixtureLines = fixture.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        try fixture.write(to: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = Support.executable!
        // A fixed format: with `auto`, the first 200 lines would be held until the format is decided.
        process.arguments = ["-F", "--quiet", "--format", "combined", "--metrics", path, "--metrics-interval", "0.1", log]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        func lines() -> Double? {
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? Exposition($0) }?.total("logsurge_lines_total")
        }
        #expect(Support.eventually { lines() == Double(fixtureLines) })
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        try handle.write(contentsOf: fixture)
        try handle.close()
        #expect(Support.eventually { lines() == Double(2 * fixtureLines) })
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(lines() == Double(2 * fixtureLines))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["access.log", "logsurge.prom"])
    }
}
