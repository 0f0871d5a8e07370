import Foundation
import Testing

/// The wire formats users' scripts read, byte for byte: the alert lines, the summary, the
/// metrics and the text report of one run over a generated day and a half with a surge and an
/// error spike, against the files in `Fixtures/golden/`. A change to any of them shows here as
/// a diff to read; when it is meant, `LOGSURGE_UPDATE_GOLDEN=1 swift test --filter Golden`
/// writes the new files (then read the diff before committing it).
@Suite(.enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct GoldenOutputTests {
    static let outputs = ["alerts.jsonl", "summary.json", "metrics.prom", "report.txt"]

    @Test("alerts, summary, metrics and the text report of a fixed run match their golden files")
    func wireFormats() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let generated = try Support.run(["generate", "--start", "2016-11-08T00:00Z", "--minutes", "1800", "--rate", "15",
                                         "--seed", "9", "--event", "surge:US:8:2016-11-09T05:00Z:60",
                                         "--event", "errors:0.4:2016-11-09T03:00Z:15", "--output", directory + "/g.log"])
        try #require(generated.status == 0, "\(generated.stderr)")
        // Run from the directory, so that the input is named `g.log` wherever the test runs.
        let result = try Support.run(["--threads", "2", "--alerts", "alerts.jsonl", "--summary", "summary.json",
                                      "--metrics", "metrics.prom", "g.log"], workingDirectory: directory)
        #expect(result.status == 0, "\(result.stderr)")
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
                continue
            }
            let expected = try String(contentsOfFile: golden, encoding: .utf8)
            #expect(text == expected, "\(name) differs from Fixtures/golden/\(name)")
        }
    }
}
