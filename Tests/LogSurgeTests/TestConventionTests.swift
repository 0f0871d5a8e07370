import Foundation
import Testing

/// The suites that launch the executable can be left out by name (`swift test --skip CLITests`)
/// and by tag: every suite of every test target that runs the binary is named `…CLITests` and
/// tagged `launchesBinary`, and every suite so named or tagged runs it.
@Suite struct TestConventionTests {
    /// A top-level suite of a test file: its name, its attributes and its body.
    struct Declaration {
        var file: String
        var name: String
        var attributes: String
        var body: String
    }

    /// The top-level structs and classes of the files of every test target (every directory
    /// under Tests/, and theirs), each to the next top-level line; `file` is the path under Tests/.
    static func declarations() throws -> [Declaration] {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let files = (FileManager.default.subpaths(atPath: tests.path) ?? []).filter { $0.hasSuffix(".swift") }.sorted()
        var found: [Declaration] = []
        for name in files {
            let lines = try String(contentsOf: tests.appendingPathComponent(name), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var index = 0
            while index < lines.count {
                let line = lines[index]
                guard let match = line.firstMatch(of: /^(@.*\) |@Suite )?(?:final class|struct) ([A-Za-z0-9_]+)/) else {
                    index += 1
                    continue
                }
                var attributes = String(match.1 ?? "")
                var back = index - 1
                while back >= 0, let previous = lines[back].first, previous == "@" || previous == " " || previous == ")" {
                    attributes = lines[back] + "\n" + attributes
                    back -= 1
                }
                var end = index + 1
                while end < lines.count, !(lines[end].first.map { $0.isLetter || $0 == "@" } ?? false) { end += 1 }
                found.append(
                    Declaration(
                        file: name, name: String(match.2), attributes: attributes,
                        body: lines[index..<end].joined(separator: "\n")))
                index = end
            }
        }
        return found
    }

    @Test("a suite that runs the executable is named …CLITests and tagged launchesBinary, and only such a suite")
    func suitesThatLaunchTheBinaryCanBeLeftOut() throws {
        let suites = try Self.declarations().filter {
            !["Support.swift", "TestConventionTests.swift"].contains(URL(fileURLWithPath: $0.file).lastPathComponent)
        }
        #expect(suites.count > 80, "the files of every test target were read")
        for suite in suites {
            let launches =
                suite.body.contains("Support.run(") || suite.body.contains("Support.executable")
                || suite.attributes.contains("Support.executable")
            let named = suite.name.hasSuffix("CLITests")
            let tagged = suite.attributes.contains(".tags(.launchesBinary)")
            if launches || named || tagged {
                #expect(
                    launches && named && tagged,
                    "\(suite.file): \(suite.name) (runs the binary: \(launches), named: \(named), tagged: \(tagged))")
            }
        }
    }
}
