import Foundation
import LogSurgePipelineTestSupport
import Testing

/// `--html` of a run that goes on (a pipe, `--follow`): the page is written at once, rewritten
/// (whole, renamed into place) as the run goes, reloads itself and says how old its data is;
/// once the run ends it is written a last time, without reloading.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct LivePageCLITests {
    /// The log's newest minute as the page's live line states it.
    static func newestMinute(_ page: String) -> String? {
        page.firstMatch(of: /newest minute in the log: ([^<]+?) UTC/).map { String($0.1) }
    }

    /// Runs the binary on the surge log through a pipe kept open: `first` (the lines before a
    /// time of the server clock), then the rest; `look` is called after each part, with the page
    /// path, while the run goes on. Returns the final page and the exit status.
    static func pipe(
        cutAt cut: String, arguments: [String] = [], page: String, look: (_ part: Int) throws -> Void
    ) throws -> (page: String, status: Int32) {
        let run = try SurgeLogPipe(["--quiet", "--html", page, "--html-interval", "0.3"] + arguments, cutAt: cut)
        try look(0)
        try run.writeFirstPart()
        try look(1)
        try run.writeRest()
        try look(2)
        let status = try run.finish()
        return (try String(contentsOfFile: page, encoding: .utf8), status)
    }

    @Test func thePageOfAPipeIsLiveUntilTheRunEnds() throws {
        let page = Support.temporaryDirectory().appendingPathComponent("live.html").path
        var seen: [String?] = []
        let final = try Self.pipe(cutAt: "08/Nov/2016:17:10:", page: page) { part in
            // Each part's lines show on the page within a few rewrites.
            let expected = [nil, "2016-11-08 22:09", "2016-11-08 22:59"][part]
            #expect(
                Support.eventually {
                    guard let text = try? String(contentsOfFile: page, encoding: .utf8) else { return false }
                    return text.contains("<meta http-equiv=\"refresh\" content=\"1\"/>") && Self.newestMinute(text) == expected
                        && (expected != nil || text.contains("no request read yet"))
                }, "part \(part): the page never showed \(expected ?? "the start")")
            let text = try String(contentsOfFile: page, encoding: .utf8)
            seen.append(Self.newestMinute(text))
            _ = try PageNode.parse(text)  // well-formed at every rewrite
            #expect(text.contains("Live: written "))
        }
        #expect(final.status == 0)
        #expect(seen == [nil, "2016-11-08 22:09", "2016-11-08 22:59"])
        // The last page: the whole run, its surge, no reloading, no live line.
        #expect(!final.page.contains("http-equiv=\"refresh\""))
        #expect(!final.page.contains("Live: written"))
        #expect(final.page.contains("id=\"alerts\""))
        _ = try PageNode.parse(final.page)
    }

    @Test func whileTheSurgeGoesOnThePageShowsItOpen() throws {
        let page = Support.temporaryDirectory().appendingPathComponent("live.html").path
        _ = try Self.pipe(cutAt: "08/Nov/2016:17:10:", page: page) { part in
            guard part == 1 else { return }
            #expect(
                Support.eventually {
                    let text = (try? String(contentsOfFile: page, encoding: .utf8)) ?? ""
                    return Self.newestMinute(text) == "2016-11-08 22:09" && text.contains("<span class=\"tag open\">open</span>")
                }, "the open surge never showed on the live page")
        }
    }
}

/// The live page as a browser shows it: headless Chromium loads it twice, a few rewrites apart,
/// and renders newer data the second time (a screenshot and the DOM it built).
@Suite(
    .tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"),
    .enabled(if: Chromium.path != nil, "chromium is not installed"))
struct LivePageBrowserCLITests {
    /// Chromium's rendering of `page`: its DOM after load, and a screenshot's bytes.
    private func render(_ page: String, in directory: URL, name: String) throws -> (dom: String, png: Data) {
        let shot = directory.appendingPathComponent(name + ".png").path
        var dom = ""
        for arguments in [["--dump-dom"], ["--screenshot=\(shot)", "--window-size=1200,900"]] {
            let (_, data) = try Support.tool(
                Chromium.path!,
                ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(directory.path)/profile-\(name)"]
                    + arguments + ["file://" + page])
            if arguments == ["--dump-dom"] { dom = String(decoding: data, as: UTF8.self) }
        }
        return (dom, try Data(contentsOf: URL(fileURLWithPath: shot)))
    }

    @Test func aBrowserShowsNewerDataOnTheSecondLook() throws {
        let directory = Support.temporaryDirectory()
        let page = directory.appendingPathComponent("live.html").path
        var looks: [(dom: String, png: Data)] = []
        let final = try LivePageCLITests.pipe(cutAt: "08/Nov/2016:17:10:", page: page) { part in
            guard part > 0 else { return }
            let expected = part == 1 ? "2016-11-08 22:09" : "2016-11-08 22:59"
            #expect(
                Support.eventually {
                    LivePageCLITests.newestMinute((try? String(contentsOfFile: page, encoding: .utf8)) ?? "") == expected
                })
            // A copy, so that the browser reads one version while the run goes on rewriting it.
            let copy = directory.appendingPathComponent("look-\(part).html").path
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: page, toPath: copy)
            looks.append(try render(copy, in: directory, name: "look-\(part)"))
        }
        #expect(final.status == 0)
        try #require(looks.count == 2)
        #expect(LivePageCLITests.newestMinute(looks[0].dom) == "2016-11-08 22:09")
        #expect(LivePageCLITests.newestMinute(looks[1].dom) == "2016-11-08 22:59")
        #expect(looks[0].png.count > 1000 && looks[1].png.count > 1000)
        #expect(looks[0].png != looks[1].png)
    }
}

/// Debian's Chromium, when installed.
enum Chromium {
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}
