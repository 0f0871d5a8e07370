import Foundation
import LogSurgePipelineTestSupport
import Testing

/// The wire formats users' scripts read, byte for byte: the alert lines, the summary, the
/// metrics, the text and HTML reports of one run over a generated day and a half with a surge
/// and an error spike, and the buckets of its first four hours, against the files in
/// `Fixtures/golden/`. A change to any of them shows here as a diff to read; when it is meant,
/// `LOGSURGE_UPDATE_GOLDEN=1 swift test --filter Golden` writes the new files and fails (so
/// that a run that records never passes): read the diff, then run the tests again.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct GoldenOutputCLITests {
    static let outputs = ["alerts.jsonl", "summary.json", "metrics.prom", "report.txt", "report.html", "buckets.csv"]

    @Test("alerts, summary, metrics, the text and HTML reports and the buckets of a fixed run match their golden files")
    func wireFormats() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let generated = try Support.run([
            "generate", "--start", "2016-11-08T00:00Z", "--minutes", "1800", "--rate", "15",
            "--seed", "9", "--event", "surge:US:8:2016-11-09T05:00Z:60",
            "--event", "errors:0.4:2016-11-09T03:00Z:15", "--output", directory + "/g.log",
        ])
        try #require(generated.status == 0, "\(generated.stderr)")
        // Run from the directory, so that the input is named `g.log` wherever the test runs.
        let result = try Support.run(
            [
                "--threads", "2", "--alerts", "alerts.jsonl", "--summary", "summary.json",
                "--metrics", "metrics.prom", "--html", "report.html", "g.log",
            ], workingDirectory: directory)
        #expect(result.status == 0, "\(result.stderr)")
        // The buckets of the first 1,800 lines, about four hours (every minute × site ×
        // country: a day and a half of them would be a 300 KB file to read).
        let head = try String(contentsOfFile: directory + "/g.log", encoding: .utf8).split(separator: "\n").prefix(1_800)
        try Data((head.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/head.log"))
        let buckets = try Support.run(["--quiet", "--buckets", "buckets.csv", "head.log"], workingDirectory: directory)
        #expect(buckets.status == 0, "\(buckets.stderr)")
        try Data(result.stdout.utf8).write(to: URL(fileURLWithPath: directory + "/report.txt"))
        let update = ProcessInfo.processInfo.environment["LOGSURGE_UPDATE_GOLDEN"] == "1"
        for name in Self.outputs {
            var text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            // The inflater the machine has (ISA-L or zlib) is not the output's: left out.
            if name == "summary.json" {
                text = text.replacingOccurrences(of: #","inflate":"[a-z]+""#, with: "", options: .regularExpression)
            }
            let golden = Support.fixture("golden/" + name)
            if update {
                try Data(text.utf8).write(to: URL(fileURLWithPath: golden))
                Issue.record("wrote Fixtures/golden/\(name): read the diff, then run the tests without LOGSURGE_UPDATE_GOLDEN")
                continue
            }
            let expected = try String(contentsOfFile: golden, encoding: .utf8)
            #expect(text == expected, "\(name) differs from Fixtures/golden/\(name)")
        }
    }
}
