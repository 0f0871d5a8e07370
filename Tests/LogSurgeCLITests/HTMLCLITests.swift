import Foundation
import LogSurgePipelineTestSupport
@testable import LogSurgeReport
import Testing

/// `--html` through the executable: standard output, files, streams and `--state`.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct HTMLCLITests {
    @Test func htmlToStandardOutputMovesTheTextReportToStandardError() throws {
        let result = try Support.run(["--html", "-", Support.fixture("combined.log")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("<!DOCTYPE html>"))
        #expect(result.stdout.hasSuffix("</html>\n"))
        #expect(result.stderr.contains("Top countries ("))
        #expect(!result.stdout.contains("Top countries ("))
        let root = try PageNode.parse(result.stdout)
        #expect(!root.all("div", class: "figure").isEmpty)
    }

    @Test(arguments: ["--buckets", "--summary", "--alerts"])
    func onlyOneOutputCanTakeStandardOutput(other: String) throws {
        let result = try Support.run(["--html", "-", other, "-", Support.fixture("combined.log")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("only one output can go to standard output"))
        #expect(result.stdout.isEmpty)
    }

    @Test func htmlFileIsWrittenWholeWithNoTemporaryLeft() throws {
        let directory = Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let html = directory.appendingPathComponent("report.html").path
        let summary = directory.appendingPathComponent("run.json").path
        let result = try Support.run(["--quiet", "--html", html, "--summary", summary, Support.fixture("combined.log")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["report.html", "run.json"])
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(!page.contains("http-equiv=\"refresh\""))
        let root = try PageNode.parse(page)
        let run = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any])
        let requests = root.all("div", class: "figure").first { $0.text.hasPrefix("Requests") }?.all("div", class: "value").first?.text
        #expect(requests == TextReport.number(run["parsed"] as? Int ?? -1))
    }

    @Test func anUnwritableHTMLPathIsAUsageErrorBeforeAnyInputIsRead() throws {
        let result = try Support.run(["--html", "/nonexistent-directory/report.html", "-"], stdin: Array("x\n".utf8))
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent-directory/report.html"))
    }

    /// A pipe is a stream: the page is written when it ends, charted from its buckets, and the
    /// hostile strings of the lines stay text.
    @Test func hostileLinesFromAPipeStayText() throws {
        let agent = "<script>alert(1)</script>"
        var lines: [String] = []
        for minute in 0..<90 {
            let time = String(format: "09/Nov/2016:%02d:%02d:00 +0000", 3 + minute / 60, minute % 60)
            lines.append("'><script>alert(2)</script>:443 8.8.8.8 - - [\(time)] \"GET / HTTP/1.1\" 200 10 \"-\" \"\(agent)\"")
        }
        lines.append(
            "\"><script>alert(2)</script>:443 8.8.8.8 - - [09/Nov/2016:04:00:01 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"\(agent)\"")
        lines.append("www.example:443 8.8.8.8 - - [09/Nov/2016:04:00:02 +0000] \"GET / HTTP/1.1\" 2x0 10 \"-\" \"\(agent)\"")
        let result = try Support.run(
            ["--format", "vhost_combined", "--html", "-", "-"],
            stdin: Array((lines.joined(separator: "\n") + "\n").utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.lowercased().contains("<script"))
        let root = try PageNode.parse(result.stdout)
        #expect(
            root.all("svg", class: "chart").map { $0.attributes["aria-label"] ?? "" }
                == ["US requests per minute to '><script>alert(2)</script>", "5xx share per minute of '><script>alert(2)</script>"])
        #expect(root.all("ul", class: "samples").map(\.text).joined().contains(agent))
    }

    @Test func followedFilesGetALivePageThenTheirLastOneWhenTheRunEnds() throws {
        let directory = Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("access.log").path
        try FileManager.default.copyItem(atPath: Support.fixture("combined.log"), toPath: log)
        let html = directory.appendingPathComponent("report.html").path
        let summary = directory.appendingPathComponent("run.json").path
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["--follow", "--quiet", "--html", html, "--summary", summary, log]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // Written as the run starts, reloading itself while it goes on.
        #expect(Support.eventually { ((try? String(contentsOfFile: html, encoding: .utf8)) ?? "").contains("http-equiv=\"refresh\"") })
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let root = try PageNode.parse(String(contentsOfFile: html, encoding: .utf8))
        let run = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any])
        #expect(root.all("div", class: "value").first?.text == TextReport.number(run["parsed"] as? Int ?? -1))
        #expect(!root.all("svg", class: "chart").isEmpty)
    }

    /// A second night that reads nothing new still charts everything the state remembers.
    @Test func withStateTheChartsCoverEveryRun() throws {
        let directory = Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let logs = directory.appendingPathComponent("logs").path
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Support.fixture("combined.log"), toPath: logs + "/access.log")
        let state = directory.appendingPathComponent("state.db").path
        var pages: [PageNode] = []
        for night in 1...2 {
            let html = directory.appendingPathComponent("night\(night).html").path
            let result = try Support.run(["--quiet", "--state", state, "--html", html, logs])
            #expect(result.status == 0, "\(result.stderr)")
            pages.append(try PageNode.parse(String(contentsOfFile: html, encoding: .utf8)))
        }
        #expect(pages[0].all("div", class: "value").first?.text != "0")
        #expect(pages[1].all("div", class: "value").first?.text == "0")  // nothing new was read …
        #expect(pages[1].all("h1").first?.text.hasSuffix("UTC, nothing new read") == true)
        #expect(pages[1].all("svg", class: "chart").count == pages[0].all("svg", class: "chart").count)  // … all is charted
        #expect(!pages[1].all("svg", class: "chart").isEmpty)
    }
}
