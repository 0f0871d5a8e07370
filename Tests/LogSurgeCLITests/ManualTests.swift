import Foundation
import LogSurgePipelineTestSupport
import Testing

/// The man page (docs/logsurge.1) is generated from the command definitions
/// (Scripts/generate-manual.sh): it must name every command and option --help names, with the
/// same help text, or it is out of date.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct ManualCLITests {
    static let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/logsurge.1").standardized

    /// (command path, option names, help text) of every displayed option, from the parser's own
    /// description of the command tree.
    static func options() throws -> [(command: String, names: [String], abstract: String)] {
        let dump = try Support.run(["--experimental-dump-help"])
        #expect(dump.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var found: [(String, [String], String)] = []
        func walk(_ command: [String: Any], path: String) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["shouldDisplay"] as? Bool ?? true {
                let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { name -> String? in
                    guard let text = name["name"] as? String else { return nil }
                    return (name["kind"] as? String) == "short" ? "-" + text : "--" + text
                }
                found.append((path, names, argument["abstract"] as? String ?? ""))
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                walk(sub, path: path + " " + (sub["commandName"] as? String ?? "?"))
            }
        }
        walk(try #require(json["command"] as? [String: Any]), path: "logsurge")
        return found
    }

    @Test func manPageNamesEveryCommandAndOptionWithItsHelp() throws {
        let page = try String(contentsOf: Self.page, encoding: .utf8)
        let options = try Self.options()
        #expect(options.count > 40)
        // mdoc lines: `.It Fl -geoip Ar FILE`, `.It Fl F , -follow`.
        let flagLines = page.split(separator: "\n").filter { $0.hasPrefix(".It Fl ") }.map(String.init)
        for option in options where !option.names.isEmpty {
            for name in option.names where name != "--help" && name != "-h" && name != "--version" {
                let mdoc = name.hasPrefix("--") ? "-" + name.dropFirst(2) : String(name.dropFirst())
                #expect(
                    flagLines.contains { $0.split(separator: " ").contains(Substring(mdoc)) },
                    "\(option.command) \(name) is not in docs/logsurge.1: run Scripts/generate-manual.sh")
            }
            if !option.abstract.isEmpty {
                #expect(page.contains(option.abstract), "\(option.command) \(option.names): help text differs in docs/logsurge.1")
            }
        }
        for command in ["analyze", "detect", "geoip", "generate", "state"] {
            #expect(page.contains(".It Em \(command)"))
        }
    }

    /// `man -l docs/logsurge.1` shows the page without a warning (mdoc has no blank lines).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/man"), "man is not installed"))
    func theManPageReadsWithoutWarnings() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/man")
        process.arguments = ["--warnings", "-l", Self.page.path]
        process.environment = ["PATH": "/usr/bin:/bin", "MANWIDTH": "100", "LANG": "C.UTF-8"]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        let warnings = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(String(decoding: text, as: UTF8.self).contains("--alertmanager"))
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsOfferEveryCommandAndOption(shell: String) throws {
        let result = try Support.run(["--generate-completion-script", shell])
        #expect(result.status == 0)
        for word in ["analyze", "detect", "geoip", "generate", "watch-country", "inflate", "follow", "state", "state-wait", "labels"] {
            #expect(result.stdout.contains(word), "\(shell) completion lacks \(word)")
        }
        // The script parses in its shell, when that shell is here.
        let path = "/bin/\(shell)"
        guard shell != "fish", FileManager.default.isExecutableFile(atPath: path) else { return }
        let file = Support.temporaryDirectory().appendingPathComponent("completion.\(shell)")
        try result.stdout.write(to: file, atomically: true, encoding: .utf8)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: path)
        check.arguments = ["-n", file.path]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0)
    }

    @Test(arguments: [[], ["analyze"], ["detect"], ["geoip"], ["generate"], ["state"]])
    func everyCommandsHelpHasExamples(command: [String]) throws {
        let help = try Support.run(["help"] + command)
        #expect(help.status == 0)
        let examples = try #require(help.stdout.range(of: "Examples:\n"), "\(command): no examples")
        // Each example is an indented logsurge command line, not re-wrapped into prose.
        let lines = help.stdout[examples.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
            .prefix { !$0.isEmpty }
        #expect(lines.count >= 2)
        #expect(lines.allSatisfy { $0.hasPrefix("  ") && $0.count <= 80 }, "\(lines)")
        #expect(lines.filter { $0.contains("logsurge") }.count >= 2)
    }
}
