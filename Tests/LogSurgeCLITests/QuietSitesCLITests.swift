import Foundation
import LogSurgePipelineTestSupport
import Testing

/// Quiet sites read from files are checked at longer steps, and every output says so.
@Suite(.tags(.launchesBinary)) struct QuietSitesCLITests {
    /// Eight vhosts of about two requests a minute each, nine days, a US crowd ×10 for two hours
    /// on the eighth: one generated log whose lines are dealt out to the sites in turn.
    static func log(in directory: URL) throws -> URL {
        let generated = directory.appendingPathComponent("generated.log")
        let made = try Support.run([
            "generate", "--days", "9", "--rate", "40", "--seed", "7", "--format", "vhost_combined",
            "--event", "surge:US:10:2016-11-08T15:00Z:120:15", "--output", generated.path,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let lines = try String(contentsOf: generated, encoding: .utf8).split(separator: "\n")
        let dealt = lines.enumerated().map { index, line in
            "site\(index % 8).example:443" + line[line.firstIndex(of: " ")!...]
        }
        let log = directory.appendingPathComponent("vhosts.log")
        try (dealt.joined(separator: "\n") + "\n").write(to: log, atomically: true, encoding: .utf8)
        return log
    }

    static func lines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test("a file of quiet sites: alerts of 5-minute steps, said in the summary and the report; piped, a minute at a time")
    func quietSitesSayTheirSteps() throws {
        let directory = Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try Self.log(in: directory)
        let summary = directory.appendingPathComponent("summary.json")
        let alerts = directory.appendingPathComponent("alerts.jsonl")
        let buckets = directory.appendingPathComponent("buckets.csv")
        let page = directory.appendingPathComponent("page.html")
        let file = try Support.run([
            log.path, "--buckets", buckets.path, "--summary", summary.path, "--alerts", alerts.path, "--html", page.path,
        ])
        #expect(file.status == 0, "\(file.stderr)")
        let fields = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: summary)) as? [String: Any])
        let steps = try #require(fields["sites_by_step"] as? [[String: Int]])
        #expect(steps == [["step_minutes": 5, "sites": 8]])
        #expect(file.stdout.contains("Checked at longer steps (too few requests for a minute to say anything): 8 sites every 5 minutes"))
        let surges = try Self.lines(String(contentsOf: alerts, encoding: .utf8)).filter { $0["kind"] as? String == "surge" }
        #expect(surges.count >= 8, "the crowd found at most of the 8 sites, opened and closed")
        for surge in surges {
            #expect(surge["step_minutes"] as? Int == 5)
            let raised = try #require(surge["raised_at"] as? String)
            #expect(raised >= "2016-11-08T14:45Z" && raised <= "2016-11-08T17:25Z", "\(surge)")
            #expect(raised.hasSuffix("4Z") || raised.hasSuffix("9Z"), "the last minute of a 5-minute step: \(raised)")
        }
        #expect(file.stdout.contains("/5 min at 2016-11-08T"))
        // The charts' busiest is a step's, said so: the page's and the report's.
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("busiest 5 minutes") && !html.contains("busiest minute"))
        #expect(html.contains("Checked at longer steps"))
        #expect(file.stdout.contains("busiest 5 minutes") && !file.stdout.contains("busiest minute"))
        // The same lines piped in: a stream checks every site a minute at a time.
        let piped = try Support.run(["--buckets", "/dev/null", "--summary", summary.path], stdin: Array(try Data(contentsOf: log)))
        #expect(piped.status == 0, "\(piped.stderr)")
        let pipedFields = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: summary)) as? [String: Any])
        #expect((pipedFields["sites_by_step"] as? [Any])?.isEmpty == true)
        #expect(!piped.stdout.contains("step_minutes") && !piped.stdout.contains("Checked at longer steps"))
        // Exported buckets hold each minute's clients as figures, which no step merges: `detect`
        // checks them a minute at a time.
        let detected = try Support.run(["detect", buckets.path])
        #expect(detected.status == 0, "\(detected.stderr)")
        #expect(!detected.stdout.contains("step_minutes"))
    }
}
